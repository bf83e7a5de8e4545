import { expect } from "chai";
import { ConfigValidationError } from "../../config/stackConfig";
import { INTERFACE_ENDPOINT_SERVICES } from "../../components/network";
import { checkPrivateEndpoints } from "../../deployability/privateEndpoints";
import { ofType, RecordedResource, runStack, StackRun } from "../../scripts/stackUnderMocks";
import { TAGGABLE_TYPES } from "../../policy/policies/tags";


/** The one resource of a type (named `name` when the stack has several of it). */
function one(resources: RecordedResource[], type: string, name?: string): RecordedResource {
    const found = ofType(resources, type).filter((r) => name === undefined || r.name === name);
    expect(found, `exactly one ${type} ${name ?? ""}`).to.have.length(1);
    return found[0];
}

function statements(policyJson: string): any[] {
    return JSON.parse(policyJson).Statement;
}

/** Every string anywhere in a value, secrets excluded (wrapped values are the engine's secrets). */
function plainStrings(v: any, out: string[] = []): string[] {
    if (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v) return out;
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
    else if (v && typeof v === "object") Object.values(v).forEach((x) => plainStrings(x, out));
    return out;
}

describe("the whole stack under mocks (prod config)", function () {
    this.timeout(60_000);
    let run: StackRun;
    let resources: RecordedResource[];

    before(async () => {
        run = await runStack({ stack: "prod" });
        resources = run.resources;
    });

    it("builds the four foundation components with their type tokens", () => {
        const types = resources.filter((r) => !r.custom).map((r) => r.type);
        expect(types).to.include.members([
            "devsecops:network:Network",
            "devsecops:audit:AuditTrail",
            "devsecops:security:ThreatDetection",
            "devsecops:secrets:SecretsVault",
        ]);
    });

    it("creates every resource inside a component ({ parent: this })", () => {
        const orphans = resources.filter((r) => r.custom && !r.parentType?.startsWith("devsecops:"));
        expect(orphans.map((r) => `${r.type} ${r.name}`)).to.deep.equal([]);
        const components = resources.filter((r) => !r.custom);
        expect(components.every((c) => c.type.startsWith("devsecops:"))).to.equal(true);
    });

    it("tags every taggable AWS resource with Project, Stack, Component and ManagedBy", () => {
        // TAGGABLE_TYPES is checked against @pulumi/aws's declarations (tests/policy/wholeStack.test.ts).
        const taggable = resources.filter((r) => r.custom && TAGGABLE_TYPES.includes(r.type));
        expect(taggable.length).to.be.greaterThan(20);
        for (const r of taggable) {
            // Auto Scaling groups take tags as a list of { key, value, propagateAtLaunch }.
            const tags = Array.isArray(r.inputs.tags) ? Object.fromEntries(r.inputs.tags.map((t: { key: string; value: string }) => [t.key, t.value])) : r.inputs.tags;
            expect(tags, `${r.type} ${r.name} tags`).to.include({ Project: "devsecops-stack", Stack: "prod", ManagedBy: "pulumi" });
            expect(tags.Component, `${r.name} Component tag`).to.be.a("string").and.not.empty;
        }
    });

    describe("Network", () => {
        it("has a VPC with DNS support and hostnames", () => {
            const vpc = one(resources, "aws:ec2/vpc:Vpc");
            expect(vpc.inputs).to.include({ cidrBlock: "10.40.0.0/16", enableDnsSupport: true, enableDnsHostnames: true });
        });

        it("spreads public and private subnets over two availability zones", () => {
            const subnets = ofType(resources, "aws:ec2/subnet:Subnet");
            const byTier = (tier: string) => subnets.filter((s) => s.inputs.tags.Tier === tier);
            for (const tier of ["public", "private"]) {
                const zones = byTier(tier).map((s) => s.inputs.availabilityZone);
                expect(zones, tier).to.have.length(2);
                expect(new Set(zones).size, `${tier} zones distinct`).to.equal(2);
            }
            expect(subnets.every((s) => s.inputs.mapPublicIpOnLaunch === false)).to.equal(true);
        });

        it("strips every rule from the VPC's default security group", () => {
            const sg = one(resources, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup");
            expect(sg.inputs.ingress ?? []).to.deep.equal([]);
            expect(sg.inputs.egress ?? []).to.deep.equal([]);
        });

        it("routes private egress through one NAT gateway by default, with the S3 gateway endpoint", () => {
            one(resources, "aws:ec2/natGateway:NatGateway");
            one(resources, "aws:ec2/internetGateway:InternetGateway");
            const endpoints = ofType(resources, "aws:ec2/vpcEndpoint:VpcEndpoint");
            expect(endpoints.map((e) => [e.inputs.vpcEndpointType, e.inputs.serviceName])).to.deep.equal([["Gateway", "com.amazonaws.eu-west-1.s3"]]);
        });

        it("logs ALL traffic to a log group with retention, through a role that may write only there", () => {
            const flowLog = one(resources, "aws:ec2/flowLog:FlowLog");
            const group = ofType(resources, "aws:cloudwatch/logGroup:LogGroup").find((g) => g.name === "network-flow-logs")!;
            expect(flowLog.inputs.trafficType).to.equal("ALL");
            expect(flowLog.inputs.logDestination).to.equal(`arn:aws:logs:eu-west-1:123456789012:log-group:${group.inputs.name}`);
            expect(group.inputs.retentionInDays).to.equal(90);
            const policy = ofType(resources, "aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "network-flow-logs")!;
            for (const s of statements(policy.inputs.policy)) {
                expect(s.Resource).to.deep.equal([flowLog.inputs.logDestination, `${flowLog.inputs.logDestination}:*`]);
            }
            const role = ofType(resources, "aws:iam/role:Role").find((r) => r.name === "network-flow-logs")!;
            expect(statements(role.inputs.assumeRolePolicy)[0].Principal.Service).to.equal("vpc-flow-logs.amazonaws.com");
        });
    });

    describe("AuditTrail", () => {
        it("encrypts the bucket with a dedicated, rotated KMS key", () => {
            const sse = one(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "audit-logs");
            const key = ofType(resources, "aws:kms/key:Key").find((k) => k.name === "audit-key")!;
            expect(key.inputs.enableKeyRotation).to.equal(true);
            const rule = sse.inputs.rules[0].applyServerSideEncryptionByDefault;
            expect(rule).to.deep.equal({ sseAlgorithm: "aws:kms", kmsMasterKeyId: "arn:aws:kms:eu-west-1:123456789012:key/audit-key-key-id" });
        });

        it("blocks all four kinds of public access and enforces bucket-owner object ownership", () => {
            const pab = one(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "audit-logs");
            expect(pab.inputs).to.include({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
            const own = one(resources, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "audit-logs");
            expect(own.inputs.rule.objectOwnership).to.equal("BucketOwnerEnforced");
        });

        it("versions the bucket, expires every object and archives only objects over 128 KiB (issue 11 item 13)", () => {
            expect(one(resources, "aws:s3/bucketVersioning:BucketVersioning", "audit-logs").inputs.versioningConfiguration.status).to.equal("Enabled");
            const [expire, archive] = one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "audit-logs").inputs.rules;
            expect([expire.status, archive.status]).to.deep.equal(["Enabled", "Enabled"]);
            expect(expire.filter).to.deep.equal({ prefix: "" });
            expect(expire.transitions).to.equal(undefined);
            expect(expire.expiration.days).to.equal(365);
            expect(expire.noncurrentVersionExpiration.noncurrentDays).to.equal(365);
            expect(archive.filter).to.deep.equal({ objectSizeGreaterThan: 131072 });
            expect(archive.transitions).to.deep.equal([{ days: 90, storageClass: "GLACIER" }]);
            expect(archive.noncurrentVersionTransitions).to.deep.equal([{ noncurrentDays: 90, storageClass: "GLACIER" }]);
            expect(archive.expiration).to.equal(undefined);
        });

        it("keeps the evidence readable after destroy: audit key always retained, bucket retained without forceDestroy (item 8)", () => {
            expect(resources.find((r) => r.name === "audit-key" && r.type === "aws:kms/key:Key")!.options.retainOnDelete).to.equal(true);
            expect(one(resources, "aws:s3/bucket:Bucket", "audit-logs").options.retainOnDelete).to.equal(true);
        });

        it("gives the trail's CloudWatch Logs role the documented trust, without conditions (item 1)", () => {
            const role = resources.find((r) => r.type === "aws:iam/role:Role" && r.name === "audit-trail-logs")!;
            expect(statements(role.inputs.assumeRolePolicy)[0].Condition).to.equal(undefined);
        });

        it("encrypts every log group with the one logs key, whose policy admits only CloudWatch Logs for this account's groups (item 14)", () => {
            const key = resources.find((r) => r.type === "aws:kms/key:Key" && r.name === "logs-key")!;
            for (const g of ofType(resources, "aws:cloudwatch/logGroup:LogGroup")) expect(g.inputs.kmsKeyId, g.name).to.equal(key.state.arn);
            const logs = statements(key.inputs.policy).find((s) => s.Principal?.Service === "logs.eu-west-1.amazonaws.com");
            expect(logs.Condition).to.deep.equal({ ArnLike: { "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:123456789012:log-group:*" } });
        });

        it("lets only this trail write, with bucket-owner-full-control, and denies requests without TLS", () => {
            const trail = one(resources, "aws:cloudtrail/trail:Trail");
            const trailArn = `arn:aws:cloudtrail:eu-west-1:123456789012:trail/${trail.inputs.name}`;
            const s = statements(one(resources, "aws:s3/bucketPolicy:BucketPolicy", "audit-logs").inputs.policy);
            const writes = s.filter((x) => x.Effect === "Allow" && [x.Action].flat().includes("s3:PutObject"));
            expect(writes).to.have.length(1);
            expect(writes[0].Principal).to.deep.equal({ Service: "cloudtrail.amazonaws.com" });
            expect(writes[0].Condition.StringEquals).to.deep.equal({ "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trailArn });
            const deny = s.find((x) => x.Effect === "Deny");
            expect(deny.Condition).to.deep.equal({ Bool: { "aws:SecureTransport": "false" } });
            expect(deny.Principal).to.equal("*");
        });

        it("lets CloudTrail use the key only for this trail", () => {
            const trail = one(resources, "aws:cloudtrail/trail:Trail");
            const trailArn = `arn:aws:cloudtrail:eu-west-1:123456789012:trail/${trail.inputs.name}`;
            const key = ofType(resources, "aws:kms/key:Key").find((k) => k.name === "audit-key")!;
            const forCloudTrail = statements(key.inputs.policy).filter((x) => x.Principal?.Service === "cloudtrail.amazonaws.com");
            const encrypt = forCloudTrail.find((x) => [x.Action].flat().some((a: string) => a.startsWith("kms:GenerateDataKey")));
            expect(encrypt.Condition.StringLike["kms:EncryptionContext:aws:cloudtrail:arn"]).to.equal(trailArn);
            expect(encrypt.Condition.StringEquals["aws:SourceArn"]).to.equal(trailArn);
            for (const st of forCloudTrail) expect(st.Condition?.StringEquals?.["aws:SourceArn"], st.Sid).to.equal(trailArn);
        });

        it("runs a multi-region trail with global events, validation, all management events and the key", () => {
            const trail = one(resources, "aws:cloudtrail/trail:Trail");
            expect(trail.inputs).to.include({
                isMultiRegionTrail: true,
                includeGlobalServiceEvents: true,
                enableLogFileValidation: true,
                kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/audit-key-key-id",
            });
            expect(trail.inputs.eventSelectors).to.deep.equal([{ readWriteType: "All", includeManagementEvents: true }]);
            expect(trail.inputs.cloudWatchLogsGroupArn).to.match(/log-group:\/aws\/cloudtrail\/.+:\*$/);
        });

        it("creates the trail only after the bucket policy exists, and keeps forceDestroy off", () => {
            const names = resources.map((r) => r.type);
            expect(names.indexOf("aws:cloudtrail/trail:Trail")).to.be.greaterThan(names.indexOf("aws:s3/bucketPolicy:BucketPolicy"));
            expect(one(resources, "aws:s3/bucket:Bucket", "audit-logs").inputs.forceDestroy).to.equal(false);
        });
    });

    describe("ThreatDetection", () => {
        it("enables a GuardDuty detector with S3 data events and EBS malware protection", () => {
            const detector = one(resources, "aws:guardduty/detector:Detector");
            expect(detector.inputs).to.include({ enable: true, findingPublishingFrequency: "FIFTEEN_MINUTES" });
            const features = ofType(resources, "aws:guardduty/detectorFeature:DetectorFeature").map((f) => [f.inputs.name, f.inputs.status]);
            expect(features).to.have.deep.members([["S3_DATA_EVENTS", "ENABLED"], ["EBS_MALWARE_PROTECTION", "ENABLED"]]);
        });

        it("routes findings at or above the severity through EventBridge to the alerts topic", () => {
            const rule = one(resources, "aws:cloudwatch/eventRule:EventRule");
            const pattern = JSON.parse(rule.inputs.eventPattern);
            expect(pattern.source).to.deep.equal(["aws.guardduty"]);
            expect(pattern.detail.severity).to.deep.equal([{ numeric: [">=", 7] }]);
            const topic = one(resources, "aws:sns/topic:Topic");
            const target = one(resources, "aws:cloudwatch/eventTarget:EventTarget");
            expect(target.inputs.arn).to.equal(`arn:aws:sns:eu-west-1:123456789012:${topic.inputs.name}`);
        });

        it("encrypts the topic with a customer-managed key that EventBridge and CloudWatch may use", () => {
            const topic = one(resources, "aws:sns/topic:Topic");
            const key = ofType(resources, "aws:kms/key:Key").find((k) => k.inputs.policy.includes("events.amazonaws.com"))!;
            expect(topic.inputs.kmsMasterKeyId).to.equal(`arn:aws:kms:eu-west-1:123456789012:key/${key.name}-key-id`);
            expect(topic.inputs.kmsMasterKeyId).to.not.contain("alias/aws/sns");
            const use = statements(key.inputs.policy).find((s) => s.Principal?.Service);
            expect(use.Principal.Service).to.have.members(["events.amazonaws.com", "cloudwatch.amazonaws.com"]);
            expect(use.Action).to.include("kms:GenerateDataKey*");
        });

        it("lets only the findings rule and this account's alarms publish to the topic", () => {
            const rule = one(resources, "aws:cloudwatch/eventRule:EventRule");
            const s = statements(one(resources, "aws:sns/topicPolicy:TopicPolicy").inputs.policy);
            const events = s.find((x) => x.Principal?.Service === "events.amazonaws.com");
            expect(events.Condition.ArnEquals["aws:SourceArn"]).to.equal(`arn:aws:events:eu-west-1:123456789012:rule/${rule.name}`);
            const alarms = s.find((x) => x.Principal?.Service === "cloudwatch.amazonaws.com");
            expect(alarms.Condition.StringEquals["aws:SourceAccount"]).to.equal("123456789012");
        });

        it("subscribes the configured email and leaves Security Hub and Config off by default", () => {
            const sub = one(resources, "aws:sns/topicSubscription:TopicSubscription");
            expect(sub.inputs).to.include({ protocol: "email", endpoint: "oncall@example.com" });
            expect(ofType(resources, "aws:securityhub/account:Account")).to.have.length(0);
            expect(ofType(resources, "aws:cfg/recorder:Recorder")).to.have.length(0);
        });
    });

    describe("SecretsVault", () => {
        it("names secrets <project>/<stack>/<name> and encrypts them with a rotated vault key", () => {
            const secrets = ofType(resources, "aws:secretsmanager/secret:Secret");
            expect(secrets.map((s) => s.inputs.name)).to.have.members([
                "devsecops-stack/prod/app-session-key",
                "devsecops-stack/prod/grafana-admin-password",
            ]);
            const key = ofType(resources, "aws:kms/key:Key").find((k) => k.name === "secrets-key")!;
            expect(key.inputs.enableKeyRotation).to.equal(true);
            for (const s of secrets) expect(s.inputs.kmsKeyId).to.equal("arn:aws:kms:eu-west-1:123456789012:key/secrets-key-key-id");
        });

        it("generates the Grafana admin password and stores every value as a Pulumi secret", () => {
            expect(ofType(resources, "random:index/randomPassword:RandomPassword").map((r) => r.name)).to.include("secrets-grafana-admin-password");
            for (const v of ofType(resources, "aws:secretsmanager/secretVersion:SecretVersion")) {
                expect(v.rawInputs.secretString, `${v.name} secretString wrapped as secret`).to.have.property("4dabf18193072939515e22adb298388d");
            }
        });

        it("exports ARNs, never values", () => {
            const arns = run.outputs.appSecretArns as Record<string, string>;
            expect(arns["app-session-key"]).to.match(/^arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack\/prod\/app-session-key/);
        });
    });

    it("puts no secret value in any stack output or any input that is not marked secret", () => {
        expect(run.secretValues.length, "the run produced secret values to look for").to.be.greaterThan(1);
        const exposed = [
            ...resources.flatMap((r) => plainStrings(r.rawInputs).map((s) => ({ where: `${r.type} ${r.name}`, s }))),
            ...plainStrings(JSON.parse(JSON.stringify(run.outputs, (_k, v) => (v && v.secret === true ? undefined : v)))).map((s) => ({ where: "stack outputs", s })),
        ];
        for (const secret of run.secretValues) {
            const leak = exposed.find((e) => e.s.includes(secret));
            expect(leak, `secret value leaked in ${leak?.where}`).to.equal(undefined);
        }
    });
});

describe("stack variants under mocks", function () {
    this.timeout(60_000);

    it("uses VPC interface endpoints instead of a NAT gateway when privateEgress=endpoints", async () => {
        const { resources } = await runStack({ config: { privateEgress: "endpoints" } });
        expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).to.have.length(0);
        const endpoints = ofType(resources, "aws:ec2/vpcEndpoint:VpcEndpoint");
        const interfaces = endpoints.filter((e) => e.inputs.vpcEndpointType === "Interface");
        expect(interfaces.map((e) => e.inputs.serviceName.split(".").slice(3).join("."))).to.have.members([...INTERFACE_ENDPOINT_SERVICES]);
        expect(interfaces.every((e) => e.inputs.privateDnsEnabled === true)).to.equal(true);
        expect(endpoints.filter((e) => e.inputs.vpcEndpointType === "Gateway")).to.have.length(1);
        // Every AWS service a host calls (read off its rendered scripts and configs) has its endpoint.
        expect(checkPrivateEndpoints(resources)).to.deep.equal([]);
        const sg = ofType(resources, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "network-endpoints")!;
        expect(sg.inputs.ingress).to.deep.equal([{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["10.40.0.0/16"], description: "HTTPS from the VPC" }]);
    });

    it("uses S3-managed encryption and no audit key when auditEncryption=aes256, and honours forceDestroy and lifecycle days", async () => {
        const { resources } = await runStack({
            config: { auditEncryption: "aes256", auditForceDestroy: "true", auditTransitionDays: "30", auditExpirationDays: "400", trailCloudWatchRetentionDays: "0" },
        });
        const sse = one(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "audit-logs");
        expect(sse.inputs.rules[0].applyServerSideEncryptionByDefault).to.deep.equal({ sseAlgorithm: "AES256" });
        expect(ofType(resources, "aws:kms/key:Key").map((k) => k.name)).to.not.include("audit-key");
        const trail = one(resources, "aws:cloudtrail/trail:Trail");
        expect(trail.inputs.kmsKeyId).to.equal(undefined);
        expect(trail.inputs.cloudWatchLogsGroupArn).to.equal(undefined);
        expect(one(resources, "aws:s3/bucket:Bucket", "audit-logs").inputs.forceDestroy).to.equal(true);
        const [expire, archive] = one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "audit-logs").inputs.rules;
        expect([archive.transitions[0].days, expire.expiration.days]).to.deep.equal([30, 400]);
        expect(one(resources, "aws:s3/bucket:Bucket", "audit-logs").options.retainOnDelete).to.equal(false);
    });

    it("adopts an existing GuardDuty detector instead of creating a second one", async () => {
        const id = "0123456789abcdef0123456789abcdef";
        const { resources, outputs } = await runStack({ config: { guardDutyDetectorId: id } });
        expect(ofType(resources, "aws:guardduty/detector:Detector")).to.have.length(0);
        expect(outputs.detectorId).to.equal(id);
        one(resources, "aws:cloudwatch/eventRule:EventRule");
    });

    it("enables Security Hub standards and an AWS Config recorder delivering into the audit bucket when asked", async () => {
        const { resources } = await runStack({ config: { enableSecurityHub: "true", enableConfigRecorder: "true" } });
        const standards = ofType(resources, "aws:securityhub/standardsSubscription:StandardsSubscription").map((s) => s.inputs.standardsArn);
        expect(standards).to.have.members([
            "arn:aws:securityhub:eu-west-1::standards/aws-foundational-security-best-practices/v/1.0.0",
            "arn:aws:securityhub:eu-west-1::standards/cis-aws-foundations-benchmark/v/1.4.0",
        ]);
        const bucket = one(resources, "aws:s3/bucket:Bucket", "audit-logs");
        const channel = one(resources, "aws:cfg/deliveryChannel:DeliveryChannel");
        expect(channel.inputs.s3BucketName).to.equal(bucket.id);
        const policy = statements(one(resources, "aws:s3/bucketPolicy:BucketPolicy", "audit-logs").inputs.policy);
        expect(policy.some((s) => s.Principal?.Service === "config.amazonaws.com" && s.Action === "s3:PutObject")).to.equal(true);
        expect(one(resources, "aws:cfg/recorderStatus:RecorderStatus").inputs.isEnabled).to.equal(true);
    });

    it("stores provided secrets from secret config without exposing them, and rotates when a Lambda is set", async () => {
        const value = "provided-db-password-7f3a9c";
        const lambda = "arn:aws:lambda:eu-west-1:123456789012:function:rotate-secrets";
        const run = await runStack({
            config: { providedSecretNames: JSON.stringify(["db-password"]), secretRotationLambdaArn: lambda },
            secretConfig: { appSecrets: JSON.stringify({ "db-password": value }) },
        });
        const version = ofType(run.resources, "aws:secretsmanager/secretVersion:SecretVersion").find((v) => v.name === "secrets-db-password")!;
        expect(version.rawInputs.secretString.value).to.equal(value);
        const rotations = ofType(run.resources, "aws:secretsmanager/secretRotation:SecretRotation");
        expect(rotations.map((r) => r.name)).to.have.members(["secrets-app-session-key", "secrets-db-password"]);
        expect(rotations[0].inputs.rotationRules.automaticallyAfterDays).to.equal(30);
        const everything = JSON.stringify(run.resources.map((r) => plainStrings(r.rawInputs))) + JSON.stringify(run.outputs);
        expect(everything).to.not.contain(value);
    });

    it("fails before creating any resource when the config is invalid, naming every bad key", async () => {
        let error: (Error & { recordedResources?: unknown[] }) | undefined;
        try {
            await runStack({ config: { vpcCidr: "10.0.0.0/8", flowLogRetentionDays: "45", operatorCidrs: JSON.stringify(["0.0.0.0/0"]) } });
        } catch (e) {
            error = e as Error;
        }
        expect(error).to.be.instanceOf(ConfigValidationError);
        for (const key of ["vpcCidr", "flowLogRetentionDays", "operatorCidrs"]) expect(error!.message).to.contain(key);
        expect(error!.recordedResources).to.deep.equal([]);
    });
});
