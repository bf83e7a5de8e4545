import { expect } from "chai";
import { secretReadPolicy, vaultSecretName } from "../../components/secretsVault";
import { auditBucketPolicy } from "../../components/auditTrail";
import { runStack } from "../../scripts/stackUnderMocks";

describe("secret read policy", () => {
    const arns = [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/app-session-key-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/db-password-XyZ123",
    ];
    const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd";

    it("grants only GetSecretValue and DescribeSecret on exactly the given secrets", () => {
        const doc = JSON.parse(secretReadPolicy(arns, key, "eu-west-1"));
        const read = doc.Statement.find((s: any) => s.Sid === "ReadOwnSecrets");
        expect(read.Action).to.have.members(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]);
        expect(read.Resource).to.deep.equal(arns);
        for (const s of doc.Statement) {
            expect([s.Resource].flat(), s.Sid).to.not.include("*");
            expect([s.Action].flat().some((a: string) => a.endsWith("*")), s.Sid).to.equal(false);
        }
    });

    it("adds kms:Decrypt on the vault key only, and only through Secrets Manager", () => {
        const doc = JSON.parse(secretReadPolicy(arns, key, "eu-west-1"));
        const decrypt = doc.Statement.find((s: any) => s.Action === "kms:Decrypt");
        expect(decrypt.Resource).to.equal(key);
        expect(decrypt.Condition.StringEquals["kms:ViaService"]).to.equal("secretsmanager.eu-west-1.amazonaws.com");
        expect(JSON.parse(secretReadPolicy(arns)).Statement).to.have.length(1);
    });

    it("refuses to build a policy that names no secret", () => {
        expect(() => secretReadPolicy([])).to.throw(/secretArns is empty/);
    });

    it("names secrets <project>/<stack>/<name>", () => {
        expect(vaultSecretName("devsecops-stack", "prod", "app-session-key")).to.equal("devsecops-stack/prod/app-session-key");
    });

    it("the vault's app and Grafana read policies name their own secrets and not each other's", async function () {
        this.timeout(60_000);
        // Loaded here, after the test's other suites, as the program loads it: a plain require (CommonJS).
        const { SecretsVault } = require("../../components/secretsVault") as typeof import("../../components/secretsVault");
        const policies: { app?: string; grafana?: string } = {};
        await runStack(); // installs the mocks and config; then build a vault on its own
        const vault = new SecretsVault("probe", {
            generatedSecretNames: ["app-session-key"],
            faultInjectionToken: false,
            providedSecretValues: {},
            customerManagedKey: true,
            rotationDays: 30,
        });
        await new Promise<void>((resolve) =>
            vault.appReadPolicyJson.apply((app) => vault.grafanaReadPolicyJson.apply((grafana) => {
                Object.assign(policies, { app, grafana });
                resolve();
            })),
        );
        const resources = (doc: string) => JSON.parse(doc).Statement.find((s: any) => s.Sid === "ReadOwnSecrets").Resource;
        expect(resources(policies.app!)).to.deep.equal(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/app-session-key-AbCdEf"]);
        expect(resources(policies.grafana!)).to.deep.equal(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/grafana-admin-password-AbCdEf"]);
    });
});

describe("audit bucket policy", () => {
    const input = { bucketArn: "arn:aws:s3:::audit", trailArn: "arn:aws:cloudtrail:eu-west-1:123456789012:trail/t", accountId: "123456789012" };

    it("writes only under this account's AWSLogs prefix", () => {
        const put = JSON.parse(auditBucketPolicy(input)).Statement.find((s: any) => s.Action === "s3:PutObject");
        expect(put.Resource).to.equal("arn:aws:s3:::audit/AWSLogs/123456789012/*");
    });

    it("admits AWS Config only when asked", () => {
        const principals = (allow: boolean) =>
            JSON.parse(auditBucketPolicy({ ...input, allowConfigDelivery: allow })).Statement.map((s: any) => s.Principal?.Service).filter(Boolean);
        expect(principals(false)).to.not.include("config.amazonaws.com");
        expect(principals(true)).to.include("config.amazonaws.com");
    });
});
