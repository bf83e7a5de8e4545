import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { packArgs } from "../../policy/pack";
import { TAGGABLE_TYPES } from "../../policy/policies/tags";
import { evaluatePack, fromRecorded, Violation } from "../../scripts/policy/evaluate";
import { RecordedResource, ROOT, runStack } from "../../scripts/stackUnderMocks";
import { analyzeWithPolicyServer } from "./analyzerServer";

/** The pack over the real program (index.ts) under mocks with Pulumi.prod.yaml. */

const key = (v: Violation) => `${v.level} ${v.policy} ${v.resource} ${v.message}`;

describe("policy pack over the whole prod stack (under mocks)", function () {
    this.timeout(120_000);
    let recorded: RecordedResource[];
    before(async () => {
        recorded = (await runStack({ stack: "prod" })).resources;
    });

    const evaluate = (resources: RecordedResource[]) => evaluatePack(packArgs, fromRecorded(resources));
    /** The recorded stack with one resource's inputs changed; fails loudly if no resource matched. */
    const mutate = (type: string, name: string | undefined, change: (inputs: Record<string, any>) => void): RecordedResource[] => {
        let matched = 0;
        const mutated = recorded.map((r) => {
            if (r.type !== type || (name !== undefined && r.name !== name)) return r;
            matched++;
            const inputs = JSON.parse(JSON.stringify(r.inputs));
            change(inputs);
            return { ...r, inputs };
        });
        expect(matched, `${type} ${name ?? ""} in the stack`).to.be.greaterThan(0);
        return mutated;
    };

    it("has zero mandatory violations; the advisory ones are the documented waivers", () => {
        const found = evaluate(recorded);
        const mandatory = found.filter((v) => v.level === "mandatory");
        expect(mandatory, JSON.stringify(mandatory, null, 1)).to.deep.equal([]);
        expect([...new Set(found.map((v) => v.policy))].sort()).to.deep.equal(["customer-managed-keys", "log-group-one-year-kms", "s3-access-logging-lifecycle", "secrets-rotation"]);
    });

    it("the evaluator reports exactly what @pulumi/policy's analyzer server reports for the stack", async () => {
        const resources = fromRecorded(recorded);
        const engine = await analyzeWithPolicyServer(packArgs, resources);
        expect(evaluatePack(packArgs, resources).map(key).sort()).to.deep.equal(engine.map(key).sort());
    });

    const mistakes: { what: string; make: () => RecordedResource[]; policy: string; message: RegExp }[] = [
        {
            what: "public-access block off",
            make: () => mutate("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "audit-logs", (i) => (i.restrictPublicBuckets = false)),
            policy: "s3-public-access-block",
            message: /public access block flags not true: restrictPublicBuckets/,
        },
        {
            what: "IMDSv1 on the app hosts' launch template",
            make: () => mutate("aws:ec2/launchTemplate:LaunchTemplate", "app-hosts", (i) => (i.metadataOptions.httpTokens = "optional")),
            policy: "ec2-imdsv2-required",
            message: /IMDSv1 allowed/,
        },
        {
            what: "0.0.0.0/0 on 9100 (a separate ingress rule on the app host)",
            make: () => mutate("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "app-node-exporter-from-monitoring", (i) => {
                delete i.referencedSecurityGroupId;
                i.cidrIpv4 = "0.0.0.0/0";
            }),
            policy: "sg-no-open-ingress",
            message: /ingress on tcp 9100 from 0\.0\.0\.0\/0/,
        },
        {
            what: "0.0.0.0/0 on 9100 (inline on the monitoring security group)",
            make: () => mutate("aws:ec2/securityGroup:SecurityGroup", "monitoring-sg", (i) => (i.ingress ??= []).push({ protocol: "tcp", fromPort: 9100, toPort: 9100, cidrBlocks: ["0.0.0.0/0"] })),
            policy: "sg-no-open-ingress",
            message: /ingress on tcp 9100 from 0\.0\.0\.0\/0/,
        },
        {
            what: "unencrypted Prometheus data volume",
            make: () => mutate("aws:ebs/volume:Volume", undefined, (i) => (i.encrypted = false)),
            policy: "ec2-ebs-encrypted",
            message: /EBS volume is not encrypted/,
        },
        {
            what: "single-region trail",
            make: () => mutate("aws:cloudtrail/trail:Trail", undefined, (i) => (i.isMultiRegionTrail = false)),
            policy: "cloudtrail-multi-region",
            message: /not multi-region/,
        },
        {
            what: "SSH opened to operators",
            make: () => mutate("aws:ec2/securityGroup:SecurityGroup", "monitoring-sg", (i) => (i.ingress ??= []).push({ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.0/24"] })),
            policy: "sg-no-remote-admin-ports",
            message: /port 22/,
        },
        {
            what: "mutable ECR tags",
            make: () => mutate("aws:ecr/repository:Repository", "app-repo", (i) => (i.imageTagMutability = "MUTABLE")),
            policy: "ecr-immutable-tags",
            message: /MUTABLE/,
        },
        {
            what: "unencrypted alerts topic",
            make: () => mutate("aws:sns/topic:Topic", undefined, (i) => delete i.kmsMasterKeyId),
            policy: "sns-topic-encrypted",
            message: /not encrypted/,
        },
        {
            what: "log group without retention",
            make: () => mutate("aws:cloudwatch/logGroup:LogGroup", "app-app-logs", (i) => delete i.retentionInDays),
            policy: "log-group-retention-set",
            message: /keeps logs forever/,
        },
        {
            what: "GuardDuty detector disabled",
            make: () => mutate("aws:guardduty/detector:Detector", undefined, (i) => (i.enable = false)),
            policy: "guardduty-enabled",
            message: /disabled/,
        },
        {
            what: "a wildcard action in the app role's policy",
            make: () => mutate("aws:iam/rolePolicy:RolePolicy", "app-pull-and-log", (i) => (i.policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "Oops", Effect: "Allow", Action: "*", Resource: "arn:aws:s3:::x" }] }))),
            policy: "iam-no-wildcard-action",
            message: /statement Oops allows Action "\*"/,
        },
        {
            what: "a password in the monitoring host's user data",
            make: () => mutate("aws:ec2/instance:Instance", "monitoring-instance", (i) => (i.userData = `${i.userData ?? ""}\nGF_SECURITY_ADMIN_PASSWORD=correcthorsebattery\n`)),
            policy: "ec2-user-data-no-secrets",
            message: /password assignment/,
        },
        {
            what: "the flow log removed",
            make: () => recorded.filter((r) => r.type !== "aws:ec2/flowLog:FlowLog"),
            policy: "stack-security-baseline",
            message: /has no flow log/,
        },
    ];

    for (const { what, make, policy, message } of mistakes) {
        it(`reports a seeded mistake: ${what} → ${policy}`, async () => {
            const resources = make();
            const found = evaluate(resources).filter((v) => v.level === "mandatory");
            expect(found.map((v) => v.policy)).to.deep.equal([policy]);
            expect(found[0].message).to.match(message);
            // And the engine-side analyzer agrees, so the gate fails where `pulumi preview --policy-pack` would.
            const engine = (await analyzeWithPolicyServer(packArgs, fromRecorded(resources))).filter((v) => v.level === "mandatory");
            expect(engine.map(key)).to.deep.equal(found.map(key));
        });
    }

    it("every taggable AWS type the stack uses is in TAGGABLE_TYPES (checked against @pulumi/aws's declarations)", () => {
        const types = [...new Set(recorded.filter((r) => r.type.startsWith("aws:")).map((r) => r.type))];
        const taggable = types.filter((type) => {
            const [, module, className] = type.split(":");
            const declarations = fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", "aws", `${module}.d.ts`), "utf8");
            const args = declarations.match(new RegExp(`export interface ${className}Args \\{([\\s\\S]*?)\\n\\}`));
            expect(args, `${className}Args in ${module}.d.ts`).to.not.equal(null);
            return /\n\s+tags\?:/.test(args![1]);
        });
        expect(taggable.length).to.be.greaterThan(10);
        expect(taggable.filter((t) => !TAGGABLE_TYPES.includes(t))).to.deep.equal([]);
    });
});
