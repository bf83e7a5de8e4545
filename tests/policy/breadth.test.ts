import { expect } from "chai";
import { messagesOf, resource as res, violationsOf } from "./fixtures";

/** Issue 15's policies: a bad and a good case each, in @pulumi/aws v7 input shapes. */

const doc = (...Statement: any[]) => JSON.stringify({ Version: "2012-10-17", Statement });
const ROLE = "aws:iam/role:Role";
const RP = "aws:iam/rolePolicy:RolePolicy";

describe("policy pack: breadth (issue 15)", () => {
    it("iam-no-wildcard-resource-write: actions AWS grants only on * and Condition-narrowed statements pass", () => {
        expect(messagesOf("iam-no-wildcard-resource-write", [res(RP, { policy: doc({ Effect: "Allow", Action: ["cloudwatch:PutMetricData", "ssmmessages:OpenDataChannel"], Resource: "*" }) })])).to.deep.equal([]);
        expect(messagesOf("iam-no-wildcard-resource-write", [res(RP, { policy: doc({ Effect: "Allow", Action: "kms:Encrypt", Resource: "*", Condition: { StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } } }) })])).to.deep.equal([]);
        expect(messagesOf("iam-no-wildcard-resource-write", [res(RP, { policy: doc({ Sid: "W", Effect: "Allow", Action: "kms:Encrypt", Resource: "*", Condition: { Bool: { "aws:MultiFactorAuthPresent": "true" } } }) })])).to.deep.equal(['statement W allows kms:Encrypt on Resource "*"']);
    });

    it("iam-no-data-read-on-wildcard: secrets/objects on *, iam:*", () => {
        expect(messagesOf("iam-no-data-read-on-wildcard", [res(RP, { policy: doc({ Sid: "R", Effect: "Allow", Action: ["secretsmanager:GetSecretValue", "s3:GetObject"], Resource: "*" }) })])).to.deep.equal(['statement R allows s3:GetObject, secretsmanager:GetSecretValue on Resource "*"']);
        expect(messagesOf("iam-no-data-read-on-wildcard", [res(RP, { policy: doc({ Sid: "I", Effect: "Allow", Action: "iam:*", Resource: "arn:aws:iam::111122223333:role/*" }) })])).to.deep.equal(["statement I allows iam:* (full IAM)"]);
        expect(messagesOf("iam-no-data-read-on-wildcard", [res(RP, { policy: doc({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-*" }) })])).to.deep.equal([]);
    });

    it("iam-trust-policy-scoped: any principal, foreign accounts, GitHub OIDC without sub", () => {
        const trust = (s: any) => res(ROLE, { assumeRolePolicy: doc(s) });
        expect(messagesOf("iam-trust-policy-scoped", [trust({ Sid: "A", Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" })])).to.deep.equal(["statement A lets any principal assume the role"]);
        const oidc = { Sid: "G", Effect: "Allow", Principal: { Federated: "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com" }, Action: "sts:AssumeRoleWithWebIdentity", Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" } } };
        expect(messagesOf("iam-trust-policy-scoped", [trust(oidc)])).to.have.length(1);
        const scoped = { ...oidc, Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" }, StringLike: { "token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/main" } } };
        expect(messagesOf("iam-trust-policy-scoped", [trust(scoped), trust({ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" })])).to.deep.equal([]);
        const foreign = trust({ Sid: "F", Effect: "Allow", Principal: { AWS: "arn:aws:iam::999988887777:root" }, Action: "sts:AssumeRole" });
        expect(messagesOf("iam-trust-policy-scoped", [foreign])).to.deep.equal([]);
        expect(messagesOf("iam-trust-policy-scoped", [foreign], { "iam-trust-policy-scoped": { trustedAccountIds: ["111122223333"] } })).to.deep.equal(["statement F trusts account 999988887777, which is not in trustedAccountIds"]);
    });

    it("kms-key-policy-scoped: explicit policy (on the key or an aws.kms.KeyPolicy), no wildcard principal without Condition", () => {
        const KEY = "aws:kms/key:Key";
        const KP = "aws:kms/keyPolicy:KeyPolicy";
        expect(messagesOf("kms-key-policy-scoped", [res(KEY, { enableKeyRotation: true }, { name: "k" })])).to.deep.equal(["key k has no explicit key policy"]);
        expect(messagesOf("kms-key-policy-scoped", [res(KEY, { policy: doc({ Sid: "Any", Effect: "Allow", Principal: "*", Action: "kms:*", Resource: "*" }) }, { name: "k" })])).to.deep.equal(["key k: statement Any allows any principal to use the key"]);
        const good = doc({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::111122223333:root" }, Action: "kms:*", Resource: "*" }, { Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:Decrypt", Resource: "*", Condition: { StringEquals: { "kms:CallerAccount": "111122223333" } } });
        expect(messagesOf("kms-key-policy-scoped", [res(KEY, { policy: good })])).to.deep.equal([]);
        // The policy as its own resource (CKV2_AWS_64's aws_kms_key_policy): compliant, and judged the same way.
        const key = res(KEY, { enableKeyRotation: true }, { name: "k" });
        expect(messagesOf("kms-key-policy-scoped", [key, res(KP, { keyId: "k-id", policy: good })])).to.deep.equal([]);
        expect(messagesOf("kms-key-policy-scoped", [key, res(KP, { keyId: "k-id", policy: doc({ Sid: "Any", Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:*", Resource: "*" }) })])).to.deep.equal(["key k: statement Any allows any principal to use the key"]);
        expect(messagesOf("kms-key-policy-scoped", [key, res(KP, { keyId: "another-key", policy: good })])).to.deep.equal(["key k has no explicit key policy"]);
    });

    it("launch templates: no public IP (mandatory), hop limit 1 (advisory); subnets without auto public IP", () => {
        const LT = "aws:ec2/launchTemplate:LaunchTemplate";
        expect(messagesOf("ec2-launch-template-no-public-ip", [res(LT, { networkInterfaces: [{ associatePublicIpAddress: "true" }] })])).to.have.length(1);
        expect(messagesOf("ec2-launch-template-no-public-ip", [res(LT, { networkInterfaces: [{ associatePublicIpAddress: "false" }] })])).to.deep.equal([]);
        expect(violationsOf("ec2-metadata-hop-limit", [res(LT, { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } })])[0]).to.include({ level: "advisory", message: "IMDS hop limit is 2, not 1" });
        expect(messagesOf("ec2-metadata-hop-limit", [res(LT, { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 } })])).to.deep.equal([]);
        expect(messagesOf("subnet-no-auto-public-ip", [res("aws:ec2/subnet:Subnet", { mapPublicIpOnLaunch: true })])).to.have.length(1);
        expect(messagesOf("subnet-no-auto-public-ip", [res("aws:ec2/subnet:Subnet", { mapPublicIpOnLaunch: false })])).to.deep.equal([]);
    });

    it("ALB, listeners, WAF, ASG", () => {
        const LB = "aws:lb/loadBalancer:LoadBalancer";
        const L = "aws:lb/listener:Listener";
        const good = { loadBalancerType: "application", internal: false, dropInvalidHeaderFields: true, accessLogs: { bucket: "alb-logs", enabled: true } };
        expect(messagesOf("alb-drop-invalid-headers", [res(LB, { ...good, dropInvalidHeaderFields: false })])).to.have.length(1);
        expect(messagesOf("alb-drop-invalid-headers", [res(LB, good)])).to.deep.equal([]);
        expect(messagesOf("alb-access-logs", [res(LB, { ...good, accessLogs: undefined })])).to.deep.equal(["load balancer writes no access logs"]);
        expect(messagesOf("alb-access-logs", [res(LB, good)])).to.deep.equal([]);
        const https = { protocol: "HTTPS", port: 443, sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/c", defaultActions: [{ type: "forward", targetGroupArn: "tg" }] };
        expect(messagesOf("alb-listener-tls", [res(L, { ...https, sslPolicy: "ELBSecurityPolicy-2016-08" })])).to.have.length(1);
        expect(messagesOf("alb-listener-tls", [res(L, https)])).to.deep.equal([]);
        const plain = { protocol: "HTTP", port: 80, defaultActions: [{ type: "forward", targetGroupArn: "tg" }] };
        expect(violationsOf("alb-listener-https", [res(L, plain)])[0]).to.include({ level: "advisory", message: "listener serves plain HTTP (no redirect to HTTPS)" });
        expect(messagesOf("alb-listener-https", [res(L, { protocol: "HTTP", port: 80, defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }] }), res(L, https)])).to.deep.equal([]);
        const lb = res(LB, good, { name: "alb" });
        expect(messagesOf("alb-waf-associated", [lb])).to.deep.equal(["load balancer alb has no WAF web ACL"]);
        expect(messagesOf("alb-waf-associated", [lb, res("aws:wafv2/webAclAssociation:WebAclAssociation", { resourceArn: "x", webAclArn: "w" }, { dependencies: [lb.urn] })])).to.deep.equal([]);
        const ASG = "aws:autoscaling/group:Group";
        expect(messagesOf("asg-elb-health-check", [res(ASG, { targetGroupArns: ["tg"], healthCheckType: "EC2" })])).to.have.length(1);
        expect(messagesOf("asg-elb-health-check", [res(ASG, { targetGroupArns: ["tg"], healthCheckType: "ELB", healthCheckGracePeriod: 120 })])).to.deep.equal([]);
    });

    it("ec2-instance-profile and customer-managed-keys (advisory)", () => {
        expect(messagesOf("ec2-instance-profile", [res("aws:ec2/instance:Instance", { ami: "ami-1" })])).to.deep.equal(["instance has no iamInstanceProfile"]);
        expect(messagesOf("ec2-instance-profile", [res("aws:ec2/instance:Instance", { ami: "ami-1", iamInstanceProfile: "p" })])).to.deep.equal([]);
        expect(violationsOf("customer-managed-keys", [res("aws:ebs/volume:Volume", { encrypted: true })])[0]).to.include({ level: "advisory" });
        expect(messagesOf("customer-managed-keys", [res("aws:secretsmanager/secret:Secret", {})])).to.have.length(1);
        expect(messagesOf("customer-managed-keys", [res("aws:cloudtrail/trail:Trail", {})])).to.deep.equal(["trail notifies no SNS topic"]);
        expect(messagesOf("customer-managed-keys", [res("aws:ebs/volume:Volume", { kmsKeyId: "k" }), res("aws:secretsmanager/secret:Secret", { kmsKeyId: "k" }), res("aws:cloudtrail/trail:Trail", { snsTopicName: "t" })])).to.deep.equal([]);
    });

    it("a public-access block judged alone; the default SG opened by a separate rule", () => {
        const PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
        const flags = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };
        expect(messagesOf("s3-public-access-block", [res(PAB, { bucket: "adopted", ...flags, ignorePublicAcls: false }, { name: "pab" })])).to.deep.equal(["public access block pab: flags not true: ignorePublicAcls"]);
        expect(messagesOf("s3-public-access-block", [res(PAB, { bucket: "adopted", ...flags })])).to.deep.equal([]);
        const vpc = res("aws:ec2/vpc:Vpc", {}, { name: "v" });
        const d = res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", { vpcId: "v-id", ingress: [], egress: [] }, { name: "dsg" });
        const rule = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { securityGroupId: "dsg-id", ipProtocol: "tcp", fromPort: 443, toPort: 443, referencedSecurityGroupId: "sg-1" }, { name: "rule" });
        expect(messagesOf("vpc-default-sg-closed", [vpc, d, rule])).to.deep.equal(["default security group dsg is opened by rule rule"]);
        expect(messagesOf("vpc-default-sg-closed", [vpc, d, res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { securityGroupId: "other-sg", ipProtocol: "tcp", fromPort: 443, toPort: 443 })])).to.deep.equal([]);
    });

    it("s3-acls-disabled: BucketOwnerEnforced ownership controls", () => {
        const b = res("aws:s3/bucket:Bucket", { bucket: "logs" }, { name: "logs" });
        const own = (objectOwnership: string) => res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", { bucket: "logs-id", rule: { objectOwnership } });
        expect(messagesOf("s3-acls-disabled", [b, own("ObjectWriter")])).to.deep.equal(["bucket logs has ACLs enabled (no BucketOwnerEnforced ownership controls)"]);
        expect(messagesOf("s3-acls-disabled", [b, own("BucketOwnerEnforced")])).to.deep.equal([]);
    });

    it("s3-access-logging-lifecycle (advisory) and secrets-rotation over 90 days", () => {
        const b = res("aws:s3/bucket:Bucket", { bucket: "logs" }, { name: "logs" });
        expect(messagesOf("s3-access-logging-lifecycle", [b])).to.deep.equal(["bucket logs has no server access logging", "bucket logs does not abort incomplete multipart uploads"]);
        const logging = res("aws:s3/bucketLogging:BucketLogging", { bucket: "logs-id", targetBucket: "access-logs", targetPrefix: "logs/" });
        const lifecycle = res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", { bucket: "logs-id", rules: [{ id: "abort", status: "Enabled", abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } }] });
        expect(messagesOf("s3-access-logging-lifecycle", [b, logging, lifecycle])).to.deep.equal([]);
        const secret = res("aws:secretsmanager/secret:Secret", {}, { name: "s" });
        const rotation = (days: number) => res("aws:secretsmanager/secretRotation:SecretRotation", { secretId: "s-id", rotationLambdaArn: "arn:l", rotationRules: { automaticallyAfterDays: days } });
        expect(messagesOf("secrets-rotation", [secret, rotation(180)])).to.deep.equal(["secret s rotates every 180 days (more than 90)"]);
        expect(messagesOf("secrets-rotation", [secret, rotation(30)])).to.deep.equal([]);
    });
});
