import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { PolicyPackArgs } from "@pulumi/policy";
import { packArgs } from "../../policy/pack";
import { evaluatePack, formatViolations, resolvePackConfig } from "../../scripts/policy/evaluate";
import { analyzeWithPolicyServer } from "./analyzerServer";
import { policyNamed, resource as res, violationsOf } from "./fixtures";

/** The evaluator behind the gate: enforcement levels, pack config, preview-time unknowns. */

const TRAIL = "aws:cloudtrail/trail:Trail";
const UNKNOWN = pulumi.runtime.unknownValue as string;
const singleRegion = () => [res(TRAIL, { isMultiRegionTrail: false, enableLogFileValidation: true })];

describe("policy evaluator", () => {
    it("the pack's config changes a policy's level: per policy, as a bare level, through `all`", () => {
        expect(violationsOf("cloudtrail-multi-region", singleRegion())[0].level).to.equal("mandatory");
        expect(violationsOf("cloudtrail-multi-region", singleRegion(), { "cloudtrail-multi-region": { enforcementLevel: "advisory" } })[0].level).to.equal("advisory");
        expect(violationsOf("cloudtrail-multi-region", singleRegion(), { "cloudtrail-multi-region": "disabled" })).to.deep.equal([]);
        expect(violationsOf("cloudtrail-multi-region", singleRegion(), { all: "advisory" })[0].level).to.equal("advisory");
        // A policy's own entry wins over `all`.
        expect(violationsOf("cloudtrail-multi-region", singleRegion(), { all: "advisory", "cloudtrail-multi-region": "mandatory" })[0].level).to.equal("mandatory");
        // remediate has nothing to remediate with here: reported as mandatory, as the server does.
        expect(violationsOf("cloudtrail-multi-region", singleRegion(), { "cloudtrail-multi-region": "remediate" })[0].level).to.equal("mandatory");
    });

    it("a policy without a level takes the pack's", () => {
        const bare = { ...policyNamed("cloudtrail-multi-region"), enforcementLevel: undefined };
        expect(evaluatePack({ policies: [bare], enforcementLevel: "mandatory" }, singleRegion())[0].level).to.equal("mandatory");
        expect(evaluatePack({ policies: [bare] }, singleRegion())[0].level).to.equal("advisory");
    });

    it("rejects config for policies the pack lacks, unknown levels and properties outside the schema", () => {
        expect(() => resolvePackConfig(packArgs, { "cloudtrail-multiregion": "mandatory" })).to.throw(/"cloudtrail-multiregion", which is not a policy of this pack/);
        expect(() => resolvePackConfig(packArgs, { "cloudtrail-multi-region": "strict" as any })).to.throw(/enforcementLevel "strict" is not one of advisory, mandatory, remediate, disabled/);
        expect(() => resolvePackConfig(packArgs, { "iam-permissions-boundary": { boundary: "x" } })).to.throw(/unknown property "boundary" \(allowed: requiredPermissionsBoundaryArn\)/);
        expect(resolvePackConfig(packArgs)["iam-permissions-boundary"]).to.deep.equal({ requiredPermissionsBoundaryArn: "" });
    });

    it("during preview: a policy that reads an unknown value becomes an advisory note, as in the engine", async () => {
        const trail = [res(TRAIL, { isMultiRegionTrail: UNKNOWN, enableLogFileValidation: true }, { name: "trail" })];
        const pack: PolicyPackArgs = { policies: [policyNamed("cloudtrail-multi-region")] };
        const found = evaluatePack(pack, trail);
        expect(found).to.deep.equal([
            { policy: "cloudtrail-multi-region", level: "advisory", resource: `${TRAIL}::trail`, message: "can't run policy 'cloudtrail-multi-region' during preview: string value at .isMultiRegionTrail can't be known during preview" },
        ]);
        const engine = await analyzeWithPolicyServer(pack, trail);
        expect(engine.map((v) => [v.policy, v.level])).to.deep.equal([["cloudtrail-multi-region", "advisory"]]);
        expect(engine[0].message).to.contain("can't be known during preview");
    });

    it("during preview: a new bucket's unknown id does not stop the S3 policies, which match its configuration by dependency", () => {
        const bucket = res("aws:s3/bucket:Bucket", { bucketPrefix: "audit-", id: UNKNOWN }, { name: "audit" });
        const pab = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", { bucket: UNKNOWN, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: false }, { dependencies: [bucket.urn] });
        expect(violationsOf("s3-public-access-block", [bucket, pab]).map((v) => [v.level, v.message])).to.deep.equal([["mandatory", "bucket audit: public access block flags not true: restrictPublicBuckets"]]);
    });

    it("names the policy and resource when a policy throws, instead of passing silently", () => {
        const broken = { name: "broken", description: "Fix: none", enforcementLevel: "mandatory" as const, validateResource: () => { throw new Error("boom"); } };
        expect(() => evaluatePack({ policies: [broken] }, [res(TRAIL, {}, { name: "t" })])).to.throw(`policy broken failed on ${TRAIL}::t: boom`);
    });

    it("prints resource, policy, level and message, mandatory first", () => {
        const table = formatViolations([
            { policy: "p-advisory", level: "advisory", resource: "aws:x::a", message: "later" },
            { policy: "p-mandatory", level: "mandatory", resource: "aws:x::b", message: "first" },
        ]).split("\n");
        expect(table[0]).to.match(/^resource\s+policy\s+level\s+message$/);
        expect(table[2]).to.match(/^aws:x::b\s+p-mandatory\s+mandatory\s+first$/);
        expect(table[3]).to.match(/^aws:x::a\s+p-advisory\s+advisory\s+later$/);
        expect(formatViolations([])).to.equal("no policy violations");
    });
});
