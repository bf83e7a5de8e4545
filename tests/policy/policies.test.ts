import { expect } from "chai";
import { packArgs } from "../../policy/pack";
import { messagesOf, resource as res, violationsOf } from "./fixtures";

/** Every policy with compliant and non-compliant resources in the provider's input shapes. */

const BUCKET = "aws:s3/bucket:Bucket";
const SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration";
const PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
const BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy";
const VERSIONING = "aws:s3/bucketVersioning:BucketVersioning";
const TRAIL = "aws:cloudtrail/trail:Trail";
const INSTANCE = "aws:ec2/instance:Instance";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const SUBNET = "aws:ec2/subnet:Subnet";
const SG = "aws:ec2/securityGroup:SecurityGroup";
const DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup";
const SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule";
const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const VPC = "aws:ec2/vpc:Vpc";
const ECR = "aws:ecr/repository:Repository";
const LOG = "aws:cloudwatch/logGroup:LogGroup";

// The bucket's id is its name: configuration resources name it through `bucket`.
const bucket = () => res(BUCKET, { bucket: "logs" }, { name: "logs" });
const forBucket = (type: string, props: Record<string, any>) => res(type, { bucket: "logs-id", ...props });
const allFlags = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };

describe("policy pack: its policies", () => {
    it("every policy has a unique name, a description that says how to fix it, controls and a level", () => {
        const names = packArgs.policies.map((p) => p.name);
        expect(new Set(names).size).to.equal(names.length);
        expect(names.length).to.be.at.least(30);
        for (const p of packArgs.policies) {
            expect(p.description, p.name).to.match(/Fix: \S/);
            expect(p.enforcementLevel, p.name).to.be.oneOf(["mandatory", "advisory"]);
            expect((p as any).controls, p.name).to.be.an("object");
        }
        // The controls are all claimed by some policy.
        const claimed = packArgs.policies.map((p) => Object.values((p as any).controls).join(", ")).join(", ");
        for (const id of ["EC2.8", "CIS 5.6", "CKV_AWS_79", "CloudTrail.1", "CKV_AWS_67", "CloudTrail.4", "CKV_AWS_36", "S3.8", "CKV_AWS_53", "CKV_AWS_56", "EC2.18", "EC2.19", "CKV_AWS_24", "CKV_AWS_25", "ECR.1", "ECR.2", "CKV_AWS_163", "CKV_AWS_51", "GuardDuty.1", "CKV_AWS_238", "IAM.1", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_26", "CKV_AWS_66", "CloudWatch.16", "CKV_AWS_338"]) {
            expect(claimed, id).to.contain(id);
        }
    });
});

describe("policy pack: S3 (v7 buckets judged with their configuration resources)", () => {
    it("s3-bucket-default-encryption: a separate BucketServerSideEncryptionConfiguration, matched by name or by dependency", () => {
        expect(messagesOf("s3-bucket-default-encryption", [bucket()])).to.deep.equal(["bucket logs has no default encryption"]);
        expect(messagesOf("s3-bucket-default-encryption", [bucket(), forBucket(SSE, { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] })])).to.deep.equal([]);
        const b = bucket();
        const sse = res(SSE, { bucket: "some-other-name", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] }, { dependencies: [b.urn] });
        expect(messagesOf("s3-bucket-default-encryption", [b, sse])).to.deep.equal([]);
        // A configuration for another bucket does not count.
        expect(messagesOf("s3-bucket-default-encryption", [bucket(), res(SSE, { bucket: "elsewhere", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] })])).to.have.length(1);
    });

    it("s3-public-access-block: a bucket-level block with all four flags true", () => {
        expect(messagesOf("s3-public-access-block", [bucket()])).to.deep.equal(["bucket logs has no public access block"]);
        expect(messagesOf("s3-public-access-block", [bucket(), forBucket(PAB, { ...allFlags, blockPublicPolicy: false, restrictPublicBuckets: undefined })])).to.deep.equal([
            "bucket logs: public access block flags not true: blockPublicPolicy, restrictPublicBuckets",
        ]);
        expect(messagesOf("s3-public-access-block", [bucket(), forBucket(PAB, allFlags)])).to.deep.equal([]);
    });

    it("s3-tls-only (advisory): the bucket policy denies aws:SecureTransport false", () => {
        const deny = JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*", Resource: ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"], Condition: { Bool: { "aws:SecureTransport": "false" } } }] });
        expect(violationsOf("s3-tls-only", [bucket()])[0]).to.include({ level: "advisory", message: "bucket logs does not deny requests without TLS" });
        expect(messagesOf("s3-tls-only", [bucket(), forBucket(BUCKET_POLICY, { policy: deny.replace('"Deny"', '"Allow"') })])).to.have.length(1);
        expect(messagesOf("s3-tls-only", [bucket(), forBucket(BUCKET_POLICY, { policy: deny })])).to.deep.equal([]);
    });

    it("s3-versioning (advisory): a BucketVersioning with status Enabled", () => {
        expect(messagesOf("s3-versioning", [bucket(), forBucket(VERSIONING, { versioningConfiguration: { status: "Suspended" } })])).to.deep.equal(["bucket logs does not keep versions"]);
        expect(messagesOf("s3-versioning", [bucket(), forBucket(VERSIONING, { versioningConfiguration: { status: "Enabled" } })])).to.deep.equal([]);
    });
});

describe("policy pack: CloudTrail", () => {
    const goodTrail = {
        name: "trail",
        s3BucketName: "logs",
        isMultiRegionTrail: true,
        includeGlobalServiceEvents: true,
        enableLogFileValidation: true,
        enableLogging: true,
        kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:key/k",
        cloudWatchLogsGroupArn: "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/cloudtrail/t:*",
        cloudWatchLogsRoleArn: "arn:aws:iam::111122223333:role/trail-logs",
        eventSelectors: [{ readWriteType: "All", includeManagementEvents: true }],
    };
    const check = (policy: string, props: Record<string, any>) => messagesOf(policy, [res(TRAIL, props)]);

    it("cloudtrail-multi-region", () => {
        expect(check("cloudtrail-multi-region", { ...goodTrail, isMultiRegionTrail: false })).to.deep.equal(["trail is not multi-region (isMultiRegionTrail is not true)"]);
        expect(check("cloudtrail-multi-region", { ...goodTrail, includeGlobalServiceEvents: false })).to.deep.equal(["trail excludes global service events"]);
        expect(check("cloudtrail-multi-region", goodTrail)).to.deep.equal([]);
    });

    it("cloudtrail-log-file-validation", () => {
        expect(check("cloudtrail-log-file-validation", { ...goodTrail, enableLogFileValidation: undefined })).to.deep.equal(["trail does not validate log files (enableLogFileValidation is not true)"]);
        expect(check("cloudtrail-log-file-validation", goodTrail)).to.deep.equal([]);
    });

    it("cloudtrail-management-events: all read and write management events, logging on", () => {
        expect(check("cloudtrail-management-events", { ...goodTrail, eventSelectors: [{ readWriteType: "WriteOnly", includeManagementEvents: true }] })).to.deep.equal([
            "no event selector records all management events (readWriteType All, includeManagementEvents true)",
        ]);
        expect(check("cloudtrail-management-events", { ...goodTrail, enableLogging: false })).to.deep.equal(["trail is not logging (enableLogging is false)"]);
        const dataOnly = { ...goodTrail, eventSelectors: undefined, advancedEventSelectors: [{ fieldSelectors: [{ field: "eventCategory", equals: ["Data"] }] }] };
        expect(check("cloudtrail-management-events", dataOnly)).to.deep.equal(["no advanced event selector records management events (eventCategory Management)"]);
        expect(check("cloudtrail-management-events", { ...goodTrail, eventSelectors: undefined })).to.deep.equal([]);
        expect(check("cloudtrail-management-events", goodTrail)).to.deep.equal([]);
    });

    it("cloudtrail-kms-encryption (advisory)", () => {
        expect(violationsOf("cloudtrail-kms-encryption", [res(TRAIL, { ...goodTrail, kmsKeyId: undefined })])[0]).to.include({ level: "advisory", message: "trail logs are not encrypted with a KMS key" });
        expect(check("cloudtrail-kms-encryption", goodTrail)).to.deep.equal([]);
    });

    it("cloudtrail-cloudwatch-logs (advisory)", () => {
        expect(check("cloudtrail-cloudwatch-logs", { ...goodTrail, cloudWatchLogsGroupArn: undefined })).to.deep.equal(["trail does not deliver to CloudWatch Logs"]);
        expect(check("cloudtrail-cloudwatch-logs", goodTrail)).to.deep.equal([]);
    });
});

describe("policy pack: EC2", () => {
    const goodInstance = {
        ami: "ami-0123456789abcdef0",
        instanceType: "t3.small",
        associatePublicIpAddress: false,
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
        rootBlockDevice: { encrypted: true, volumeSize: 16, volumeType: "gp3" },
        userData: "#cloud-config\nruncmd:\n  - aws secretsmanager get-secret-value --secret-id \"$SECRET_ARN\"\n",
    };

    it("ec2-imdsv2-required: instances and launch templates", () => {
        expect(messagesOf("ec2-imdsv2-required", [res(INSTANCE, { ...goodInstance, metadataOptions: { httpTokens: "optional" } })])).to.deep.equal(['IMDSv1 allowed: metadataOptions.httpTokens is "optional", not "required"']);
        expect(messagesOf("ec2-imdsv2-required", [res(INSTANCE, { ...goodInstance, metadataOptions: undefined })])).to.deep.equal(['IMDSv1 allowed: metadataOptions.httpTokens is "optional", not "required"']);
        expect(messagesOf("ec2-imdsv2-required", [res(LAUNCH_TEMPLATE, { metadataOptions: { httpTokens: "optional" } })])).to.have.length(1);
        expect(messagesOf("ec2-imdsv2-required", [res(INSTANCE, goodInstance), res(INSTANCE, { ...goodInstance, metadataOptions: { httpEndpoint: "disabled" } })])).to.deep.equal([]);
    });

    it("ec2-ebs-encrypted: root, block devices, volumes and launch templates", () => {
        expect(messagesOf("ec2-ebs-encrypted", [res(INSTANCE, { ...goodInstance, rootBlockDevice: { volumeSize: 16 } })])).to.deep.equal(["root volume is not encrypted (rootBlockDevice.encrypted is not true)"]);
        expect(messagesOf("ec2-ebs-encrypted", [res(INSTANCE, { ...goodInstance, ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] })])).to.deep.equal(["EBS block device /dev/sdf is not encrypted"]);
        expect(messagesOf("ec2-ebs-encrypted", [res("aws:ebs/volume:Volume", { availabilityZone: "eu-west-1a", size: 20, encrypted: false })])).to.deep.equal(["EBS volume is not encrypted"]);
        expect(messagesOf("ec2-ebs-encrypted", [res(LAUNCH_TEMPLATE, { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 16, encrypted: "false" } }] })])).to.deep.equal(["block device /dev/xvda is not encrypted"]);
        expect(messagesOf("ec2-ebs-encrypted", [res(INSTANCE, goodInstance), res("aws:ebs/volume:Volume", { size: 20, encrypted: true }), res(LAUNCH_TEMPLATE, { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true" } }] })])).to.deep.equal([]);
    });

    it("ec2-no-public-ip (advisory): asked for, or given by the subnet, only on operator-facing hosts", () => {
        expect(messagesOf("ec2-no-public-ip", [res(INSTANCE, { ...goodInstance, associatePublicIpAddress: true, tags: {} }, { name: "app" })])).to.deep.equal(["instance app gets a public IP but is not tagged OperatorFacing=true"]);
        const publicSubnet = res(SUBNET, { cidrBlock: "10.0.0.0/24", mapPublicIpOnLaunch: true }, { name: "public-0" });
        const inPublicSubnet = res(INSTANCE, { ...goodInstance, associatePublicIpAddress: undefined, subnetId: "public-0-id" }, { name: "app" });
        expect(messagesOf("ec2-no-public-ip", [publicSubnet, inPublicSubnet])).to.deep.equal(["instance app gets a public IP from subnet public-0 but is not tagged OperatorFacing=true"]);
        expect(messagesOf("ec2-no-public-ip", [res(INSTANCE, { ...goodInstance, associatePublicIpAddress: true, tags: { OperatorFacing: "true" } })])).to.deep.equal([]);
        expect(messagesOf("ec2-no-public-ip", [publicSubnet, res(INSTANCE, { ...goodInstance, subnetId: "public-0-id" })])).to.deep.equal([]);
    });

    it("ec2-user-data-no-secrets: AWS keys, private keys, password= — in text, userDataBase64 and launch templates", () => {
        const bad: [string, string][] = [
            ["export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", "user data contains an AWS access key id"],
            ["aws_secret_access_key = abc", "user data contains an AWS secret access key"],
            ["-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "user data contains a private key"],
            ["DB_PASSWORD=hunter2hunter2", "user data contains a password assignment"],
            ["grafana:\n  admin_password: s3cretvalue", "user data contains a password assignment"],
        ];
        for (const [userData, message] of bad) {
            expect(messagesOf("ec2-user-data-no-secrets", [res(INSTANCE, { ...goodInstance, userData })]), userData).to.deep.equal([message]);
        }
        const base64 = (s: string) => Buffer.from(s).toString("base64");
        expect(messagesOf("ec2-user-data-no-secrets", [res(INSTANCE, { ...goodInstance, userData: undefined, userDataBase64: base64("DB_PASSWORD=hunter2hunter2") })])).to.have.length(1);
        expect(messagesOf("ec2-user-data-no-secrets", [res(LAUNCH_TEMPLATE, { userData: base64("export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP") })])).to.deep.equal(["user data contains an AWS access key id"]);
        // References to secrets are fine.
        expect(messagesOf("ec2-user-data-no-secrets", [res(INSTANCE, goodInstance), res(INSTANCE, { ...goodInstance, userData: 'PASSWORD="$(cat /run/secrets/db)"\nGF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana' })])).to.deep.equal([]);
    });
});

describe("policy pack: security groups (inline ingress, SecurityGroupRule, vpc.SecurityGroupIngressRule, DefaultSecurityGroup)", () => {
    it("sg-no-open-ingress: nothing from 0.0.0.0/0 or ::/0 but TCP 80/443", () => {
        expect(messagesOf("sg-no-open-ingress", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 9100, toPort: 9100, cidrBlocks: ["0.0.0.0/0"] }] })])).to.deep.equal(["ingress on tcp 9100 from 0.0.0.0/0"]);
        expect(messagesOf("sg-no-open-ingress", [res(INGRESS_RULE, { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 3000, toPort: 3000, cidrIpv6: "::/0" })])).to.deep.equal(["ingress on tcp 3000 from ::/0"]);
        expect(messagesOf("sg-no-open-ingress", [res(SG_RULE, { type: "ingress", securityGroupId: "sg-1", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] })])).to.deep.equal(["ingress on all ports from 0.0.0.0/0"]);
        expect(messagesOf("sg-no-open-ingress", [res(DEFAULT_SG, { vpcId: "vpc-1", ingress: [{ protocol: "tcp", fromPort: 8080, toPort: 8090, cidrBlocks: ["0.0.0.0/0"] }] })])).to.deep.equal(["ingress on tcp 8080-8090 from 0.0.0.0/0"]);
        expect(messagesOf("sg-no-open-ingress", [res(SG, { ingress: [{ protocol: "udp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }] })])).to.deep.equal(["ingress on udp 443 from 0.0.0.0/0"]);
        const compliant = [
            res(SG, { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }, { protocol: "tcp", fromPort: 9090, toPort: 9090, cidrBlocks: ["203.0.113.0/24"] }] }),
            res(INGRESS_RULE, { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrIpv4: "0.0.0.0/0" }),
            res(INGRESS_RULE, { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 9100, toPort: 9100, referencedSecurityGroupId: "sg-2" }),
            res(SG_RULE, { type: "egress", securityGroupId: "sg-1", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }),
        ];
        expect(messagesOf("sg-no-open-ingress", compliant)).to.deep.equal([]);
    });

    it("sg-no-remote-admin-ports: 22 and 3389 from any source", () => {
        expect(messagesOf("sg-no-remote-admin-ports", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/8"] }] })])).to.deep.equal(["ingress admits port 22"]);
        expect(messagesOf("sg-no-remote-admin-ports", [res(INGRESS_RULE, { ipProtocol: "tcp", fromPort: 3000, toPort: 4000, referencedSecurityGroupId: "sg-1" })])).to.deep.equal(["ingress admits port 3389"]);
        expect(messagesOf("sg-no-remote-admin-ports", [res(SG_RULE, { type: "ingress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["10.0.0.0/16"] })])).to.deep.equal(["ingress admits port 22", "ingress admits port 3389"]);
        expect(messagesOf("sg-no-remote-admin-ports", [res(SG, { ingress: [{ protocol: "tcp", fromPort: 9090, toPort: 9093, cidrBlocks: ["203.0.113.0/24"] }] })])).to.deep.equal([]);
    });

    it("vpc-default-sg-closed: every VPC's default security group adopted with no rules", () => {
        const vpc = res(VPC, { cidrBlock: "10.0.0.0/16" }, { name: "vpc" });
        expect(messagesOf("vpc-default-sg-closed", [vpc])).to.deep.equal(["VPC vpc's default security group is not adopted (it allows traffic within itself)"]);
        const open = res(DEFAULT_SG, { vpcId: "vpc-id", ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, self: true }], egress: [] }, { name: "default-sg" });
        expect(messagesOf("vpc-default-sg-closed", [vpc, open])).to.deep.equal(["default security group default-sg has 1 rule(s)"]);
        expect(messagesOf("vpc-default-sg-closed", [vpc, res(DEFAULT_SG, { vpcId: "vpc-id", ingress: [], egress: [] })])).to.deep.equal([]);
    });
});

describe("policy pack: IAM", () => {
    const doc = (...Statement: any[]) => JSON.stringify({ Version: "2012-10-17", Statement });

    it("iam-no-wildcard-action: role policies, policies, inline role policies (string or object), admin attachments", () => {
        expect(messagesOf("iam-no-wildcard-action", [res("aws:iam/rolePolicy:RolePolicy", { role: "r", policy: doc({ Sid: "All", Effect: "Allow", Action: "*", Resource: "arn:aws:s3:::b" }) })])).to.deep.equal(['statement All allows Action "*"']);
        expect(messagesOf("iam-no-wildcard-action", [res("aws:iam/role:Role", { assumeRolePolicy: "{}", inlinePolicies: [{ name: "i", policy: doc({ Effect: "Allow", Action: ["*"], Resource: "*" }) }] })])).to.deep.equal(['statement (no Sid) allows Action "*"']);
        expect(messagesOf("iam-no-wildcard-action", [res("aws:iam/policy:Policy", { policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] } })])).to.have.length(1);
        expect(messagesOf("iam-no-wildcard-action", [res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })])).to.deep.equal(["attaches arn:aws:iam::aws:policy/AdministratorAccess"]);
        const fine = [
            res("aws:iam/policy:Policy", { policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }) }),
            res("aws:iam/rolePolicy:RolePolicy", { role: "r", policy: doc({ Effect: "Deny", Action: "*", Resource: "*" }) }),
            res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" }),
        ];
        expect(messagesOf("iam-no-wildcard-action", fine)).to.deep.equal([]);
    });

    it("iam-no-wildcard-resource-write: reads on * allowed, writes (and service wildcards) not", () => {
        expect(messagesOf("iam-no-wildcard-resource-write", [res("aws:iam/rolePolicy:RolePolicy", { policy: doc({ Sid: "W", Effect: "Allow", Action: ["s3:PutObject", "s3:GetObject"], Resource: "*" }) })])).to.deep.equal(['statement W allows s3:PutObject on Resource "*"']);
        expect(messagesOf("iam-no-wildcard-resource-write", [res("aws:iam/rolePolicy:RolePolicy", { policy: doc({ Sid: "S", Effect: "Allow", Action: "logs:*", Resource: ["*"] }) })])).to.deep.equal(['statement S allows logs:* on Resource "*"']);
        expect(messagesOf("iam-no-wildcard-resource-write", [res("aws:iam/rolePolicy:RolePolicy", { policy: doc({ Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "ec2:DescribeInstances"], Resource: "*" }) })])).to.deep.equal([]);
    });

    it("iam-permissions-boundary (advisory): only when the pack's config requires one", () => {
        const role = res("aws:iam/role:Role", { assumeRolePolicy: "{}" });
        const boundary = "arn:aws:iam::111122223333:policy/boundary";
        expect(messagesOf("iam-permissions-boundary", [role])).to.deep.equal([]);
        const config = { "iam-permissions-boundary": { requiredPermissionsBoundaryArn: boundary } };
        expect(violationsOf("iam-permissions-boundary", [role], config)[0]).to.include({ level: "advisory", message: `role has no permissions boundary ${boundary}` });
        expect(messagesOf("iam-permissions-boundary", [res("aws:iam/role:Role", { assumeRolePolicy: "{}", permissionsBoundary: boundary })], config)).to.deep.equal([]);
    });
});

describe("policy pack: ECR", () => {
    const goodRepo = { name: "app", imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: "IMMUTABLE", encryptionConfigurations: [{ encryptionType: "KMS" }] };
    it("ecr-scan-on-push, ecr-immutable-tags, ecr-kms-encryption", () => {
        expect(messagesOf("ecr-scan-on-push", [res(ECR, { ...goodRepo, imageScanningConfiguration: { scanOnPush: false } })])).to.deep.equal(["repository does not scan images on push"]);
        expect(messagesOf("ecr-immutable-tags", [res(ECR, { ...goodRepo, imageTagMutability: "MUTABLE" })])).to.deep.equal(["image tags are MUTABLE"]);
        expect(messagesOf("ecr-immutable-tags", [res(ECR, { ...goodRepo, imageTagMutability: undefined })])).to.deep.equal(["image tags are MUTABLE"]);
        expect(messagesOf("ecr-kms-encryption", [res(ECR, { ...goodRepo, encryptionConfigurations: [{ encryptionType: "AES256" }] })])).to.deep.equal(["repository is not encrypted with KMS"]);
        for (const p of ["ecr-scan-on-push", "ecr-immutable-tags", "ecr-kms-encryption"]) expect(messagesOf(p, [res(ECR, goodRepo)]), p).to.deep.equal([]);
        expect(messagesOf("ecr-immutable-tags", [res(ECR, { ...goodRepo, imageTagMutability: "IMMUTABLE_WITH_EXCLUSION" })])).to.deep.equal([]);
    });
});

describe("policy pack: log groups, secrets, SNS, KMS, GuardDuty, baseline, tags", () => {
    it("log-group-retention-set (mandatory) and log-group-one-year-kms (advisory: the documented waiver)", () => {
        expect(violationsOf("log-group-retention-set", [res(LOG, { name: "/app" })])[0]).to.include({ level: "mandatory", message: "log group keeps logs forever (no retentionInDays)" });
        expect(messagesOf("log-group-retention-set", [res(LOG, { retentionInDays: 0 })])).to.have.length(1);
        expect(messagesOf("log-group-retention-set", [res(LOG, { retentionInDays: 30 })])).to.deep.equal([]);
        expect(violationsOf("log-group-one-year-kms", [res(LOG, { retentionInDays: 90 })]).map((v) => [v.level, v.message])).to.deep.equal([
            ["advisory", "retention 90 days is under 365"],
            ["advisory", "log group is not encrypted with a KMS key"],
        ]);
        expect(messagesOf("log-group-one-year-kms", [res(LOG, { retentionInDays: 365, kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:key/k" })])).to.deep.equal([]);
    });

    it("secrets-rotation (advisory): a SecretRotation for the secret", () => {
        const secret = res("aws:secretsmanager/secret:Secret", { name: "a" }, { name: "s" });
        expect(violationsOf("secrets-rotation", [secret])[0]).to.include({ level: "advisory", message: "secret s has no rotation" });
        expect(messagesOf("secrets-rotation", [secret, res("aws:secretsmanager/secretRotation:SecretRotation", { secretId: "s-id", rotationLambdaArn: "arn:l" })])).to.deep.equal([]);
        expect(messagesOf("secrets-rotation", [secret, res("aws:secretsmanager/secretRotation:SecretRotation", { secretId: "other" })])).to.have.length(1);
    });

    it("sns-topic-encrypted", () => {
        expect(messagesOf("sns-topic-encrypted", [res("aws:sns/topic:Topic", { name: "alerts" })])).to.deep.equal(["topic is not encrypted (no kmsMasterKeyId)"]);
        expect(messagesOf("sns-topic-encrypted", [res("aws:sns/topic:Topic", { kmsMasterKeyId: "arn:aws:kms:eu-west-1:111122223333:key/k" })])).to.deep.equal([]);
    });

    it("kms-key-rotation: symmetric keys rotate; asymmetric keys cannot", () => {
        expect(messagesOf("kms-key-rotation", [res("aws:kms/key:Key", { description: "k" })])).to.deep.equal(["key does not rotate (enableKeyRotation is not true)"]);
        expect(messagesOf("kms-key-rotation", [res("aws:kms/key:Key", { enableKeyRotation: true }), res("aws:kms/key:Key", { customerMasterKeySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" })])).to.deep.equal([]);
    });

    it("guardduty-enabled", () => {
        expect(messagesOf("guardduty-enabled", [res("aws:guardduty/detector:Detector", { enable: false })])).to.deep.equal(["detector is disabled"]);
        expect(messagesOf("guardduty-enabled", [res("aws:guardduty/detector:Detector", { enable: true })])).to.deep.equal([]);
    });

    it("stack-security-baseline: a trail, GuardDuty and a flow log on every VPC", () => {
        const vpc = res(VPC, { cidrBlock: "10.0.0.0/16" }, { name: "vpc" });
        expect(messagesOf("stack-security-baseline", [vpc])).to.deep.equal(["no CloudTrail trail in the stack", "no GuardDuty detector in the stack", "VPC vpc has no flow log"]);
        const adopted = res("aws:cloudwatch/eventRule:EventRule", { eventPattern: JSON.stringify({ source: ["aws.guardduty"], "detail-type": ["GuardDuty Finding"] }) });
        expect(messagesOf("stack-security-baseline", [vpc, res(TRAIL, { s3BucketName: "b" }), adopted, res("aws:ec2/flowLog:FlowLog", { vpcId: "vpc-id", trafficType: "ALL" })])).to.deep.equal([]);
        expect(messagesOf("stack-security-baseline", [vpc, res(TRAIL, {}), res("aws:guardduty/detector:Detector", { enable: true }), res("aws:ec2/flowLog:FlowLog", { vpcId: "another-vpc", trafficType: "ALL" })])).to.deep.equal(["VPC vpc has no flow log"]);
    });

    it("required-tags (advisory): taggable types, with or without a tags input", () => {
        expect(messagesOf("required-tags", [res("aws:sns/topic:Topic", { tags: { Project: "p" } })])).to.deep.equal(["missing tags: Stack, ManagedBy"]);
        expect(messagesOf("required-tags", [res("aws:sns/topic:Topic", {})])).to.deep.equal(["missing tags: Project, Stack, ManagedBy"]);
        expect(messagesOf("required-tags", [res("aws:sns/topic:Topic", { tags: { Project: "p", Stack: "s", ManagedBy: "pulumi" } }), res("aws:s3/bucketPolicy:BucketPolicy", { policy: "{}" })])).to.deep.equal([]);
        // Auto Scaling groups list their tags.
        const asgTags = (keys: string[]) => keys.map((key) => ({ key, value: "v", propagateAtLaunch: true }));
        expect(messagesOf("required-tags", [res("aws:autoscaling/group:Group", { tags: asgTags(["Project"]) })])).to.deep.equal(["missing tags: Stack, ManagedBy"]);
        expect(messagesOf("required-tags", [res("aws:autoscaling/group:Group", { tags: asgTags(["Project", "Stack", "ManagedBy"]) })])).to.deep.equal([]);
    });
});
