import { expect } from "chai";
import { devsecopsPolicies } from "../../policy/policies";
import { EvaluatedResource, evaluatePack, fromRecorded, PackConfig, Violation } from "../../scripts/policy/evaluate";
import { RecordedResource, runStack } from "../../scripts/stackUnderMocks";

let counter = 0;
function res(type: string, props: Record<string, any>, extra: Partial<EvaluatedResource> = {}): EvaluatedResource {
    const name = extra.name ?? `r${++counter}`;
    return { type, name, urn: `urn:pulumi:test::p::${type}::${name}`, props: { id: `${name}-id`, ...props }, dependencies: [], ...extra };
}

function violations(policy: string, resources: EvaluatedResource[], config: PackConfig = {}): Violation[] {
    const p = devsecopsPolicies.find((x) => x.name === policy);
    expect(p, policy).to.not.equal(undefined);
    return evaluatePack([p!], resources, config);
}

function messages(policy: string, resources: EvaluatedResource[], config?: PackConfig): string[] {
    return violations(policy, resources, config).map((v) => v.message);
}

const BUCKET = "aws:s3/bucket:Bucket";
const bucket = () => res(BUCKET, { bucket: "logs" }, { name: "logs" });
const forBucket = (type: string, props: Record<string, any>) => res(type, { bucket: "logs-id", ...props });

describe("policy pack: each policy, compliant and not", () => {
    it("declares a name, a description with a fix, controls and an enforcement level for every policy", () => {
        expect(devsecopsPolicies.length).to.be.at.least(20);
        const names = devsecopsPolicies.map((p) => p.name);
        expect(new Set(names).size).to.equal(names.length);
        for (const p of devsecopsPolicies) {
            expect(p.description, p.name).to.match(/Fix:|Advisory:/);
            expect(p.enforcementLevel, p.name).to.be.oneOf(["mandatory", "advisory"]);
        }
    });

    it("s3-bucket-default-encryption: judges the v7 separate configuration resource", () => {
        expect(messages("s3-bucket-default-encryption", [bucket()])).to.deep.equal(["bucket logs has no default encryption"]);
        expect(messages("s3-bucket-default-encryption", [bucket(), forBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] })])).to.deep.equal([]);
        // Matched through the dependency too, when the bucket input is not yet known.
        const b = bucket();
        const sse = res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", { bucket: undefined, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, { dependencies: [b.urn] });
        expect(messages("s3-bucket-default-encryption", [b, sse])).to.deep.equal([]);
    });

    it("s3-public-access-block: requires all four flags on a bucket-level block", () => {
        const all = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };
        expect(messages("s3-public-access-block", [bucket()])).to.deep.equal(["bucket logs has no public access block"]);
        expect(messages("s3-public-access-block", [bucket(), forBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", { ...all, blockPublicPolicy: false })])).to.deep.equal([
            "bucket logs: public access block flags not true: blockPublicPolicy",
        ]);
        expect(messages("s3-public-access-block", [bucket(), forBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", all)])).to.deep.equal([]);
    });

    it("s3-tls-only (advisory): a Deny on aws:SecureTransport false", () => {
        const deny = JSON.stringify({ Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }] });
        expect(violations("s3-tls-only", [bucket()])[0]).to.include({ level: "advisory", message: "bucket logs does not deny requests without TLS" });
        expect(messages("s3-tls-only", [bucket(), forBucket("aws:s3/bucketPolicy:BucketPolicy", { policy: deny })])).to.deep.equal([]);
    });

    const TRAIL = "aws:cloudtrail/trail:Trail";
    const goodTrail = { isMultiRegionTrail: true, includeGlobalServiceEvents: true, enableLogFileValidation: true, kmsKeyId: "arn:k", eventSelectors: [{ readWriteType: "All", includeManagementEvents: true }] };

    it("cloudtrail-multi-region", () => {
        expect(messages("cloudtrail-multi-region", [res(TRAIL, { ...goodTrail, isMultiRegionTrail: false })])).to.deep.equal(["trail is not multi-region (isMultiRegionTrail is not true)"]);
        expect(messages("cloudtrail-multi-region", [res(TRAIL, goodTrail)])).to.deep.equal([]);
    });

    it("cloudtrail-log-file-validation", () => {
        expect(messages("cloudtrail-log-file-validation", [res(TRAIL, { ...goodTrail, enableLogFileValidation: undefined })])).to.have.length(1);
        expect(messages("cloudtrail-log-file-validation", [res(TRAIL, goodTrail)])).to.deep.equal([]);
    });

    it("cloudtrail-management-events", () => {
        expect(messages("cloudtrail-management-events", [res(TRAIL, { ...goodTrail, eventSelectors: [{ readWriteType: "WriteOnly", includeManagementEvents: true }] })])).to.have.length(1);
        expect(messages("cloudtrail-management-events", [res(TRAIL, goodTrail)])).to.deep.equal([]);
    });

    it("cloudtrail-kms-encryption (advisory)", () => {
        expect(violations("cloudtrail-kms-encryption", [res(TRAIL, { ...goodTrail, kmsKeyId: undefined })])[0].level).to.equal("advisory");
        expect(messages("cloudtrail-kms-encryption", [res(TRAIL, goodTrail)])).to.deep.equal([]);
    });

    const INSTANCE = "aws:ec2/instance:Instance";
    const goodInstance = { metadataOptions: { httpTokens: "required" }, rootBlockDevice: { encrypted: true }, userData: "#cloud-config\n" };

    it("ec2-imdsv2-required", () => {
        expect(messages("ec2-imdsv2-required", [res(INSTANCE, { ...goodInstance, metadataOptions: { httpTokens: "optional" } })])).to.deep.equal(['IMDSv1 allowed: metadataOptions.httpTokens is "optional", not "required"']);
        expect(messages("ec2-imdsv2-required", [res(INSTANCE, { ...goodInstance, metadataOptions: undefined })])).to.have.length(1);
        expect(messages("ec2-imdsv2-required", [res(INSTANCE, goodInstance)])).to.deep.equal([]);
    });

    it("ec2-ebs-encrypted: root, block devices and volumes", () => {
        expect(messages("ec2-ebs-encrypted", [res(INSTANCE, { ...goodInstance, rootBlockDevice: {} })])).to.deep.equal(["root volume is not encrypted (rootBlockDevice.encrypted is not true)"]);
        expect(messages("ec2-ebs-encrypted", [res(INSTANCE, { ...goodInstance, ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] })])).to.deep.equal(["EBS block device /dev/sdf is not encrypted"]);
        expect(messages("ec2-ebs-encrypted", [res("aws:ebs/volume:Volume", { encrypted: false })])).to.deep.equal(["EBS volume is not encrypted"]);
        expect(messages("ec2-ebs-encrypted", [res(INSTANCE, goodInstance), res("aws:ebs/volume:Volume", { encrypted: true })])).to.deep.equal([]);
    });

    it("ec2-no-public-ip (advisory): allowed only on operator-facing hosts", () => {
        expect(messages("ec2-no-public-ip", [res(INSTANCE, { ...goodInstance, associatePublicIpAddress: true, tags: {} })])).to.have.length(1);
        expect(messages("ec2-no-public-ip", [res(INSTANCE, { ...goodInstance, associatePublicIpAddress: true, tags: { OperatorFacing: "true" } })])).to.deep.equal([]);
    });

    it("ec2-user-data-no-secrets: AWS keys, private keys, password=", () => {
        const bad = ["export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", "aws_secret_access_key = abc", "-----BEGIN RSA PRIVATE KEY-----", "DB_PASSWORD=hunter2hunter2"];
        for (const userData of bad) expect(messages("ec2-user-data-no-secrets", [res(INSTANCE, { ...goodInstance, userData })]), userData).to.have.length(1);
        expect(messages("ec2-user-data-no-secrets", [res(INSTANCE, { ...goodInstance, userData: "aws secretsmanager get-secret-value --secret-id arn:aws:secretsmanager:x" })])).to.deep.equal([]);
    });

    const SG = "aws:ec2/securityGroup:SecurityGroup";
    it("sg-no-open-ingress: every ingress representation; 80/443 allowed", () => {
        expect(messages("sg-no-open-ingress", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 9100, toPort: 9100, cidrBlocks: ["0.0.0.0/0"] }] })])).to.deep.equal(["ingress on 9100-9100 from 0.0.0.0/0"]);
        expect(messages("sg-no-open-ingress", [res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { ipProtocol: "tcp", fromPort: 3000, toPort: 3000, cidrIpv6: "::/0" })])).to.deep.equal(["ingress on 3000-3000 from ::/0"]);
        expect(messages("sg-no-open-ingress", [res("aws:ec2/securityGroupRule:SecurityGroupRule", { type: "ingress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] })])).to.deep.equal(["ingress on all ports from 0.0.0.0/0"]);
        expect(messages("sg-no-open-ingress", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }, { protocol: "tcp", fromPort: 9090, toPort: 9090, cidrBlocks: ["203.0.113.0/24"] }] })])).to.deep.equal([]);
        expect(messages("sg-no-open-ingress", [res("aws:ec2/securityGroupRule:SecurityGroupRule", { type: "egress", protocol: "-1", cidrBlocks: ["0.0.0.0/0"] })])).to.deep.equal([]);
    });

    it("sg-no-remote-admin-ports: 22 and 3389 from anywhere", () => {
        expect(messages("sg-no-remote-admin-ports", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/8"] }] })])).to.deep.equal(["ingress admits port 22"]);
        expect(messages("sg-no-remote-admin-ports", [res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { ipProtocol: "tcp", fromPort: 3000, toPort: 4000, referencedSecurityGroupId: "sg-1" })])).to.deep.equal(["ingress admits port 3389"]);
        expect(messages("sg-no-remote-admin-ports", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 9090, toPort: 9093, cidrBlocks: ["203.0.113.0/24"] }] })])).to.deep.equal([]);
    });

    const doc = (...Statement: any[]) => JSON.stringify({ Version: "2012-10-17", Statement });
    it("iam-no-wildcard-action: in role policies, policies and inline role policies", () => {
        expect(messages("iam-no-wildcard-action", [res("aws:iam/rolePolicy:RolePolicy", { policy: doc({ Sid: "All", Effect: "Allow", Action: "*", Resource: "arn:x" }) })])).to.deep.equal(['statement All allows Action "*"']);
        expect(messages("iam-no-wildcard-action", [res("aws:iam/role:Role", { inlinePolicies: [{ policy: doc({ Effect: "Allow", Action: ["*"], Resource: "*" }) }] })])).to.have.length(1);
        expect(messages("iam-no-wildcard-action", [res("aws:iam/policy:Policy", { policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }) })])).to.deep.equal([]);
    });

    it("iam-no-wildcard-resource-write: reads on * allowed, writes not", () => {
        expect(messages("iam-no-wildcard-resource-write", [res("aws:iam/rolePolicy:RolePolicy", { policy: doc({ Sid: "W", Effect: "Allow", Action: ["s3:PutObject", "s3:GetObject"], Resource: "*" }) })])).to.deep.equal(['statement W allows s3:PutObject on Resource "*"']);
        expect(messages("iam-no-wildcard-resource-write", [res("aws:iam/rolePolicy:RolePolicy", { policy: doc({ Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "ec2:DescribeInstances"], Resource: "*" }) })])).to.deep.equal([]);
    });

    it("iam-permissions-boundary (advisory): only when the pack's config requires one", () => {
        const role = res("aws:iam/role:Role", { assumeRolePolicy: "{}" });
        expect(messages("iam-permissions-boundary", [role])).to.deep.equal([]);
        const config = { "iam-permissions-boundary": { requiredPermissionsBoundaryArn: "arn:aws:iam::123456789012:policy/boundary" } };
        expect(messages("iam-permissions-boundary", [role], config)).to.deep.equal(["role has no permissions boundary arn:aws:iam::123456789012:policy/boundary"]);
        expect(messages("iam-permissions-boundary", [res("aws:iam/role:Role", { permissionsBoundary: "arn:aws:iam::123456789012:policy/boundary" })], config)).to.deep.equal([]);
    });

    const ECR = "aws:ecr/repository:Repository";
    const goodRepo = { imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: "IMMUTABLE", encryptionConfigurations: [{ encryptionType: "KMS" }] };
    it("ecr-scan-on-push, ecr-immutable-tags, ecr-kms-encryption", () => {
        expect(messages("ecr-scan-on-push", [res(ECR, { ...goodRepo, imageScanningConfiguration: { scanOnPush: false } })])).to.deep.equal(["repository does not scan images on push"]);
        expect(messages("ecr-immutable-tags", [res(ECR, { ...goodRepo, imageTagMutability: "MUTABLE" })])).to.deep.equal(["image tags are MUTABLE"]);
        expect(messages("ecr-kms-encryption", [res(ECR, { ...goodRepo, encryptionConfigurations: [{ encryptionType: "AES256" }] })])).to.deep.equal(["repository is not encrypted with KMS"]);
        for (const p of ["ecr-scan-on-push", "ecr-immutable-tags", "ecr-kms-encryption"]) expect(messages(p, [res(ECR, goodRepo)]), p).to.deep.equal([]);
    });

    const LOG = "aws:cloudwatch/logGroup:LogGroup";
    it("log-group-retention-set (mandatory) and log-group-one-year-kms (advisory waiver)", () => {
        expect(violations("log-group-retention-set", [res(LOG, {})])[0]).to.include({ level: "mandatory", message: "log group keeps logs forever (no retentionInDays)" });
        expect(messages("log-group-retention-set", [res(LOG, { retentionInDays: 30 })])).to.deep.equal([]);
        expect(violations("log-group-one-year-kms", [res(LOG, { retentionInDays: 90 })]).map((v) => v.level)).to.deep.equal(["advisory", "advisory"]);
        expect(messages("log-group-one-year-kms", [res(LOG, { retentionInDays: 365, kmsKeyId: "arn:k" })])).to.deep.equal([]);
    });

    it("secrets-rotation (advisory)", () => {
        const secret = res("aws:secretsmanager/secret:Secret", { name: "a" }, { name: "s" });
        expect(messages("secrets-rotation", [secret])).to.deep.equal(["secret s has no rotation"]);
        expect(messages("secrets-rotation", [secret, res("aws:secretsmanager/secretRotation:SecretRotation", { secretId: "s-id" })])).to.deep.equal([]);
    });

    it("sns-topic-encrypted", () => {
        expect(messages("sns-topic-encrypted", [res("aws:sns/topic:Topic", {})])).to.deep.equal(["topic is not encrypted (no kmsMasterKeyId)"]);
        expect(messages("sns-topic-encrypted", [res("aws:sns/topic:Topic", { kmsMasterKeyId: "arn:k" })])).to.deep.equal([]);
    });

    it("guardduty-enabled", () => {
        expect(messages("guardduty-enabled", [res("aws:guardduty/detector:Detector", { enable: false })])).to.deep.equal(["detector is disabled"]);
        expect(messages("guardduty-enabled", [res("aws:guardduty/detector:Detector", { enable: true })])).to.deep.equal([]);
    });

    it("stack-security-baseline: a trail, GuardDuty and flow logs on every VPC", () => {
        const vpc = res("aws:ec2/vpc:Vpc", {}, { name: "vpc" });
        expect(messages("stack-security-baseline", [vpc])).to.deep.equal(["no CloudTrail trail in the stack", "no GuardDuty detector in the stack", "VPC vpc has no flow log"]);
        const ok = [vpc, res(TRAIL, goodTrail), res("aws:cloudwatch/eventRule:EventRule", { eventPattern: '{"source":["aws.guardduty"]}' }), res("aws:ec2/flowLog:FlowLog", { vpcId: "vpc-id" })];
        expect(messages("stack-security-baseline", ok)).to.deep.equal([]);
    });

    it("required-tags (advisory)", () => {
        expect(messages("required-tags", [res("aws:sns/topic:Topic", { tags: { Project: "p" } })])).to.deep.equal(["missing tags: Stack, ManagedBy"]);
        expect(messages("required-tags", [res("aws:sns/topic:Topic", { tags: { Project: "p", Stack: "s", ManagedBy: "pulumi" } })])).to.deep.equal([]);
    });

    it("lets the pack's config change a policy's enforcement level", () => {
        const r = [res(TRAIL, { ...goodTrail, kmsKeyId: undefined })];
        expect(violations("cloudtrail-kms-encryption", r, { "cloudtrail-kms-encryption": { enforcementLevel: "mandatory" } })[0].level).to.equal("mandatory");
        expect(violations("cloudtrail-kms-encryption", r, { "cloudtrail-kms-encryption": { enforcementLevel: "disabled" } })).to.deep.equal([]);
    });
});

describe("policy pack over the whole stack (prod config, under mocks)", function () {
    this.timeout(60_000);
    let recorded: RecordedResource[];
    before(async () => {
        recorded = (await runStack()).resources;
    });

    const evaluate = (resources: RecordedResource[]) => evaluatePack(devsecopsPolicies, fromRecorded(resources));
    const mutate = (type: string, name: string | undefined, change: (inputs: Record<string, any>) => void): RecordedResource[] =>
        recorded.map((r) => {
            if (r.type !== type || (name !== undefined && r.name !== name)) return r;
            const inputs = JSON.parse(JSON.stringify(r.inputs));
            change(inputs);
            return { ...r, inputs };
        });

    it("has zero mandatory violations", () => {
        const mandatory = evaluate(recorded).filter((v) => v.level === "mandatory");
        expect(mandatory, JSON.stringify(mandatory, null, 1)).to.deep.equal([]);
    });

    const mistakes: [string, () => RecordedResource[], string][] = [
        ["public-access block off", () => mutate("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", undefined, (i) => (i.restrictPublicBuckets = false)), "s3-public-access-block"],
        ["IMDSv1 on the app host", () => mutate("aws:ec2/instance:Instance", "app-instance", (i) => (i.metadataOptions.httpTokens = "optional")), "ec2-imdsv2-required"],
        ["0.0.0.0/0 on 9100", () => mutate("aws:ec2/securityGroup:SecurityGroup", "monitoring-sg", (i) => i.ingress.push({ protocol: "tcp", fromPort: 9100, toPort: 9100, cidrBlocks: ["0.0.0.0/0"] })), "sg-no-open-ingress"],
        ["unencrypted data volume", () => mutate("aws:ebs/volume:Volume", undefined, (i) => (i.encrypted = false)), "ec2-ebs-encrypted"],
        ["single-region trail", () => mutate("aws:cloudtrail/trail:Trail", undefined, (i) => (i.isMultiRegionTrail = false)), "cloudtrail-multi-region"],
        ["SSH opened to operators", () => mutate("aws:ec2/securityGroup:SecurityGroup", "monitoring-sg", (i) => i.ingress.push({ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.0/24"] })), "sg-no-remote-admin-ports"],
        ["mutable ECR tags", () => mutate("aws:ecr/repository:Repository", undefined, (i) => (i.imageTagMutability = "MUTABLE")), "ecr-immutable-tags"],
        ["unencrypted alerts topic", () => mutate("aws:sns/topic:Topic", undefined, (i) => delete i.kmsMasterKeyId), "sns-topic-encrypted"],
    ];
    for (const [what, make, policy] of mistakes) {
        it(`reports a seeded mistake: ${what}`, () => {
            const found = evaluate(make()).filter((v) => v.level === "mandatory");
            expect(found.map((v) => v.policy)).to.deep.equal([policy]);
        });
    }
});
