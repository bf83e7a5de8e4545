import { CloudTrailClient, GetTrailStatusCommand, TrailNotFoundException } from "@aws-sdk/client-cloudtrail";
import { AccessDeniedException as LogsAccessDenied, CloudWatchLogsClient, DescribeLogGroupsCommand, DescribeLogStreamsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { AccessDeniedException as GuardDutyAccessDenied, BadRequestException, GetDetectorCommand, GetFindingsCommand, GuardDutyClient, ListFindingsCommand } from "@aws-sdk/client-guardduty";
import { GetBucketEncryptionCommand, GetPublicAccessBlockCommand, ListObjectsV2Command, NoSuchBucket, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { AwsStub, mockClient } from "aws-sdk-client-mock";
import { expect } from "chai";
import { checkAuditBucket } from "../../scripts/verify/auditBucketChecks";
import { AwsClients, createAwsClients, destroyAwsClients } from "../../scripts/verify/awsClients";
import { accountFromTrailArn, checkTrailObjects, checkTrailStatus } from "../../scripts/verify/cloudTrailChecks";
import { checkLogGroup, cloudWatchLogsChecks } from "../../scripts/verify/cloudWatchLogsChecks";
import { checkGuardDuty } from "../../scripts/verify/guardDutyChecks";
import { runChecks } from "../../scripts/verify/runChecks";
import { StackOutputs } from "../../scripts/verify/stackOutputs";

// Example identifiers in the SDK's shapes; no real account.
const REGION = "eu-west-1";
const ACCOUNT = "111122223333";
const TRAIL_ARN = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/devsecops-trail`;
const BUCKET = "devsecops-audit-example";
const DETECTOR = "12abc34d567e8fa901bc2d34e56789f0";
const NOW = Date.parse("2026-05-14T10:30:00Z");
const minutesAgo = (m: number) => new Date(NOW - m * 60_000);

const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: "example-request-id", attempts: 1, totalRetryDelay: 0 });

describe("verify: AWS checks against aws-sdk-client-mock in the SDK's shapes", () => {
    let clients: AwsClients;
    let logs: AwsStub<any, any, any>;
    let trail: AwsStub<any, any, any>;
    let guardDuty: AwsStub<any, any, any>;
    let s3: AwsStub<any, any, any>;

    beforeEach(() => {
        clients = createAwsClients(REGION);
        logs = mockClient(clients.logs);
        trail = mockClient(clients.cloudTrail);
        guardDuty = mockClient(clients.guardDuty);
        s3 = mockClient(clients.s3);
    });
    afterEach(() => {
        for (const stub of [logs, trail, guardDuty, s3]) stub.restore();
        destroyAwsClients(clients);
    });

    describe("CloudWatch Logs", () => {
        const group = "/aws/ec2/prod/devsecops-app";
        const logGroup = (retentionInDays?: number) => ({
            logGroups: [
                { logGroupName: `${group}-old`, retentionInDays: 1, arn: "arn:example:old" },
                { logGroupName: group, retentionInDays, creationTime: NOW - 86_400_000, storedBytes: 1024, arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${group}:*` },
            ],
        });

        it("passes: group exists, retention as configured, newest stream written minutes ago", async () => {
            logs.on(DescribeLogGroupsCommand, { logGroupNamePrefix: group }).resolves(logGroup(30));
            logs.on(DescribeLogStreamsCommand, { logGroupName: group, orderBy: "LastEventTime", descending: true }).resolves({
                logStreams: [{ logStreamName: "app/5f2c9d", creationTime: NOW - 3_600_000, lastEventTimestamp: NOW - 20 * 60_000, lastIngestionTime: NOW - 3 * 60_000 }],
            });
            const r = await checkLogGroup(clients, { logGroupName: group, retentionDays: 30, freshWithinMinutes: 30 }, undefined, NOW);
            expect(r).to.deep.equal({ ok: true, evidence: "retention 30 d as configured, latest stream app/5f2c9d written 3 min ago" });
        });

        it("fails when the group is missing (only a prefix match exists)", async () => {
            logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [{ logGroupName: `${group}-old` }] });
            const r = await checkLogGroup(clients, { logGroupName: group, retentionDays: 30 }, undefined, NOW);
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.equal(`log group ${group} does not exist in ${REGION}`);
        });

        it("fails on retention drift, naming both values; never-expire reads as such", async () => {
            logs.on(DescribeLogGroupsCommand).resolves(logGroup(7));
            expect((await checkLogGroup(clients, { logGroupName: group, retentionDays: 30 }, undefined, NOW)).evidence).to.equal("retention 7 d, configured 30 d");
            logs.on(DescribeLogGroupsCommand).resolves(logGroup(undefined));
            expect((await checkLogGroup(clients, { logGroupName: group, retentionDays: 30 }, undefined, NOW)).evidence).to.equal("retention never expire, configured 30 d");
        });

        it("fails when the newest stream is older than the window, passes the same data without a window", async () => {
            logs.on(DescribeLogGroupsCommand).resolves(logGroup(30));
            logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: "app/old", lastEventTimestamp: NOW - 90 * 60_000, lastIngestionTime: NOW - 90 * 60_000 }] });
            const strict = await checkLogGroup(clients, { logGroupName: group, retentionDays: 30, freshWithinMinutes: 30 }, undefined, NOW);
            expect(strict.ok).to.equal(false);
            expect(strict.evidence).to.contain("written 90 min ago (more than 30 min)");
            const relaxed = await checkLogGroup(clients, { logGroupName: group, retentionDays: 30 }, undefined, NOW);
            expect(relaxed.ok).to.equal(true);
        });

        it("fails with no streams when freshness is required", async () => {
            logs.on(DescribeLogGroupsCommand).resolves(logGroup(30));
            logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [] });
            const r = await checkLogGroup(clients, { logGroupName: group, retentionDays: 30, freshWithinMinutes: 30 }, undefined, NOW);
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.contain("no log streams yet");
        });

        it("access denied names the missing IAM action and the group", async () => {
            logs.on(DescribeLogGroupsCommand).resolves(logGroup(30));
            logs.on(DescribeLogStreamsCommand).rejects(new LogsAccessDenied({ message: "User: arn:aws:iam::111122223333:user/ops is not authorized to perform: logs:DescribeLogStreams", $metadata: meta(400) }));
            const r = await checkLogGroup(clients, { logGroupName: group, retentionDays: 30, freshWithinMinutes: 30 }, undefined, NOW);
            expect(r).to.include({ ok: false, evidence: `access denied: logs:DescribeLogStreams on log group ${group}` });
            expect(r.hint).to.contain("grant logs:DescribeLogStreams");
        });

        it("one check per group from the outputs; retention comes from logRetentionDays and its absence is named", async () => {
            const outputs = new StackOutputs({ region: REGION, appLogGroupName: group, platformLogGroupNames: ["/p/a", "/p/b"], flowLogGroupName: "/vpc/flow", logRetentionDays: { [group]: 30 } });
            const checks = cloudWatchLogsChecks(outputs, () => clients, 30);
            expect(checks.map((c) => c.name)).to.deep.equal(["CloudWatch Logs: app log group", "CloudWatch Logs: /p/a", "CloudWatch Logs: /p/b", "CloudWatch Logs: VPC flow log group"]);
            logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [{ logGroupName: "/p/a", retentionInDays: 90 }] });
            const [result] = await runChecks([checks[1]]);
            expect(result).to.include({ ok: false, evidence: 'output logRetentionDays["/p/a"] missing' });
        });
    });

    describe("CloudTrail", () => {
        it("passes: logging, latest delivery minutes ago", async () => {
            trail.on(GetTrailStatusCommand, { Name: TRAIL_ARN }).resolves({ IsLogging: true, LatestDeliveryTime: minutesAgo(3), StartLoggingTime: minutesAgo(600), LatestDigestDeliveryTime: minutesAgo(30) });
            expect(await checkTrailStatus(clients, TRAIL_ARN, 60, undefined, NOW)).to.deep.equal({ ok: true, evidence: "logging, latest CloudTrail delivery 3 min ago" });
        });

        it("fails when not logging, when delivery errors, when never delivered, and when delivery is stale", async () => {
            trail.on(GetTrailStatusCommand).resolves({ IsLogging: false, LatestDeliveryTime: minutesAgo(3) });
            const stopped = await checkTrailStatus(clients, TRAIL_ARN, 60, undefined, NOW);
            expect(stopped.evidence).to.equal(`trail ${TRAIL_ARN} is not logging`);
            expect(stopped.hint).to.contain("aws cloudtrail start-logging");

            trail.on(GetTrailStatusCommand).resolves({ IsLogging: true, LatestDeliveryTime: minutesAgo(3), LatestDeliveryError: "AccessDenied" });
            expect((await checkTrailStatus(clients, TRAIL_ARN, 60, undefined, NOW)).evidence).to.equal("logging, but the latest delivery failed: AccessDenied");

            trail.on(GetTrailStatusCommand).resolves({ IsLogging: true });
            expect((await checkTrailStatus(clients, TRAIL_ARN, 60, undefined, NOW)).evidence).to.equal("logging, but nothing delivered yet");

            trail.on(GetTrailStatusCommand).resolves({ IsLogging: true, LatestDeliveryTime: minutesAgo(200) });
            const stale = await checkTrailStatus(clients, TRAIL_ARN, 60, undefined, NOW);
            expect(stale).to.include({ ok: false, evidence: "logging, latest CloudTrail delivery 3 h ago (more than 60 min)" });
        });

        it("an unknown trail reads as not found in the region", async () => {
            trail.on(GetTrailStatusCommand).rejects(new TrailNotFoundException({ message: `Unknown trail: ${TRAIL_ARN} for the user: ${ACCOUNT}`, $metadata: meta(400) }));
            const r = await checkTrailStatus(clients, TRAIL_ARN, 60, undefined, NOW);
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.match(new RegExp(`^trail ${TRAIL_ARN} not found in ${REGION} \\(TrailNotFoundException`));
        });

        it("takes the account from the trail ARN", () => {
            expect(accountFromTrailArn(TRAIL_ARN)).to.equal(ACCOUNT);
            expect(accountFromTrailArn("arn:aws:s3:::bucket")).to.equal(undefined);
        });

        it("passes: objects under AWSLogs/ and today's delivery folder, newest minutes ago", async () => {
            const today = `AWSLogs/${ACCOUNT}/CloudTrail/${REGION}/2026/05/14/`;
            s3.on(ListObjectsV2Command, { Bucket: BUCKET, Prefix: "AWSLogs/", MaxKeys: 1 }).resolves({ KeyCount: 1, Contents: [{ Key: `AWSLogs/${ACCOUNT}/CloudTrail-Digest/x.json.gz` }], IsTruncated: true });
            s3.on(ListObjectsV2Command, { Bucket: BUCKET, Prefix: today }).resolves({
                KeyCount: 2,
                IsTruncated: false,
                Contents: [
                    { Key: `${today}${ACCOUNT}_CloudTrail_${REGION}_20260514T1000Z_a.json.gz`, LastModified: minutesAgo(30), Size: 900 },
                    { Key: `${today}${ACCOUNT}_CloudTrail_${REGION}_20260514T1025Z_b.json.gz`, LastModified: minutesAgo(4), Size: 700 },
                ],
            });
            const r = await checkTrailObjects(clients, BUCKET, TRAIL_ARN, REGION, undefined, NOW);
            expect(r).to.deep.equal({ ok: true, evidence: `2 log objects under ${today}, newest 4 min ago` });
        });

        it("falls back to yesterday's folder just after midnight, and fails when both are empty", async () => {
            const justAfterMidnight = Date.parse("2026-05-14T00:03:00Z");
            const yesterday = `AWSLogs/${ACCOUNT}/CloudTrail/${REGION}/2026/05/13/`;
            s3.on(ListObjectsV2Command).resolves({ KeyCount: 0, Contents: [] });
            s3.on(ListObjectsV2Command, { Prefix: "AWSLogs/", MaxKeys: 1 }).resolves({ KeyCount: 1, Contents: [{ Key: "AWSLogs/x" }] });
            s3.on(ListObjectsV2Command, { Prefix: yesterday }).resolves({ KeyCount: 1, Contents: [{ Key: `${yesterday}k`, LastModified: new Date(justAfterMidnight - 8 * 60_000) }] });
            expect((await checkTrailObjects(clients, BUCKET, TRAIL_ARN, REGION, undefined, justAfterMidnight)).evidence).to.equal(`1 log objects under ${yesterday}, newest 8 min ago`);

            s3.on(ListObjectsV2Command, { Prefix: yesterday }).resolves({ KeyCount: 0 });
            const none = await checkTrailObjects(clients, BUCKET, TRAIL_ARN, REGION, undefined, justAfterMidnight);
            expect(none).to.include({ ok: false, evidence: `objects under AWSLogs/, but none for ${REGION} today or yesterday` });
        });

        it("fails with an empty bucket; a missing bucket reads as not found", async () => {
            s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
            expect((await checkTrailObjects(clients, BUCKET, TRAIL_ARN, REGION, undefined, NOW)).evidence).to.equal(`no objects under s3://${BUCKET}/AWSLogs/`);
            s3.on(ListObjectsV2Command).rejects(new NoSuchBucket({ message: "The specified bucket does not exist", $metadata: meta(404) }));
            expect((await checkTrailObjects(clients, BUCKET, TRAIL_ARN, REGION, undefined, NOW)).evidence).to.match(/^bucket devsecops-audit-example not found in eu-west-1 \(NoSuchBucket/);
        });
    });

    describe("GuardDuty", () => {
        it("passes with the detector ENABLED and zero findings", async () => {
            guardDuty.on(GetDetectorCommand, { DetectorId: DETECTOR }).resolves({ Status: "ENABLED", ServiceRole: "arn:example", FindingPublishingFrequency: "FIFTEEN_MINUTES" });
            guardDuty.on(ListFindingsCommand, { DetectorId: DETECTOR }).resolves({ FindingIds: [] });
            expect(await checkGuardDuty(clients, DETECTOR)).to.deep.equal({ ok: true, evidence: "detector ENABLED, 0 findings" });
            expect(guardDuty.commandCalls(GetFindingsCommand)).to.have.length(0);
        });

        it("passes with findings, reading the first ones back and naming the most severe", async () => {
            guardDuty.on(GetDetectorCommand).resolves({ Status: "ENABLED" });
            guardDuty.on(ListFindingsCommand).resolves({ FindingIds: ["f1", "f2", "f3"], NextToken: "next" });
            guardDuty.on(GetFindingsCommand, { DetectorId: DETECTOR, FindingIds: ["f1", "f2", "f3"] }).resolves({
                Findings: [
                    { Id: "f1", Type: "Recon:EC2/PortProbeUnprotectedPort", Severity: 2, AccountId: ACCOUNT, Arn: "a1", CreatedAt: "", Region: REGION, Resource: {}, SchemaVersion: "2.0", UpdatedAt: "" },
                    { Id: "f2", Type: "UnauthorizedAccess:EC2/SSHBruteForce", Severity: 5, AccountId: ACCOUNT, Arn: "a2", CreatedAt: "", Region: REGION, Resource: {}, SchemaVersion: "2.0", UpdatedAt: "" },
                ],
            });
            const r = await checkGuardDuty(clients, DETECTOR);
            expect(r).to.deep.equal({ ok: true, evidence: "detector ENABLED, 3+ findings; highest of the first 2: severity 5 UnauthorizedAccess:EC2/SSHBruteForce" });
        });

        it("fails when the detector is suspended", async () => {
            guardDuty.on(GetDetectorCommand).resolves({ Status: "DISABLED" });
            const r = await checkGuardDuty(clients, DETECTOR);
            expect(r).to.include({ ok: false, evidence: "detector DISABLED" });
            expect(r.hint).to.contain(`update-detector --detector-id ${DETECTOR} --enable`);
            expect(guardDuty.commandCalls(ListFindingsCommand)).to.have.length(0);
        });

        it("access denied on ListFindings names guardduty:ListFindings; a foreign detector id reads as not found", async () => {
            guardDuty.on(GetDetectorCommand).resolves({ Status: "ENABLED" });
            guardDuty.on(ListFindingsCommand).rejects(new GuardDutyAccessDenied({ message: "not authorized", Message: "not authorized", Type: "AccessDenied", $metadata: meta(403) }));
            expect((await checkGuardDuty(clients, DETECTOR)).evidence).to.equal(`access denied: guardduty:ListFindings on detector ${DETECTOR}`);

            guardDuty.on(GetDetectorCommand).rejects(new BadRequestException({ message: "The request is rejected because the input detectorId is not owned by the current account.", $metadata: meta(400) }));
            expect((await checkGuardDuty(clients, DETECTOR)).evidence).to.match(new RegExp(`^detector ${DETECTOR} not found in ${REGION}`));
        });
    });

    describe("S3 audit bucket", () => {
        const blocks = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

        it("passes: KMS encryption with bucket key, all four public access blocks", async () => {
            s3.on(GetBucketEncryptionCommand, { Bucket: BUCKET }).resolves({
                ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: "arn:aws:kms:example" }, BucketKeyEnabled: true }] },
            });
            s3.on(GetPublicAccessBlockCommand, { Bucket: BUCKET }).resolves({ PublicAccessBlockConfiguration: blocks });
            expect(await checkAuditBucket(clients, BUCKET)).to.deep.equal({ ok: true, evidence: "SSE aws:kms (bucket key on), public access block 4/4" });
        });

        it("fails naming each public access block that is off, and a bucket without any", async () => {
            s3.on(GetBucketEncryptionCommand).resolves({ ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] } });
            s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { ...blocks, BlockPublicPolicy: false, RestrictPublicBuckets: false } });
            expect((await checkAuditBucket(clients, BUCKET)).evidence).to.equal("SSE AES256; public access block 2/4, off: BlockPublicPolicy, RestrictPublicBuckets");

            s3.on(GetPublicAccessBlockCommand).rejects(new S3ServiceException({ name: "NoSuchPublicAccessBlockConfiguration", $fault: "client", message: "The public access block configuration was not found", $metadata: meta(404) }));
            expect(await checkAuditBucket(clients, BUCKET)).to.include({ ok: false, evidence: "SSE AES256; no public access block" });
        });

        it("S3 AccessDenied (403) names s3:GetEncryptionConfiguration", async () => {
            s3.on(GetBucketEncryptionCommand).rejects(new S3ServiceException({ name: "AccessDenied", $fault: "client", message: "Access Denied", $metadata: meta(403) }));
            const r = await checkAuditBucket(clients, BUCKET);
            expect(r).to.include({ ok: false, evidence: `access denied: s3:GetEncryptionConfiguration on bucket ${BUCKET}` });
        });
    });
});

describe("verify: AWS checks with a real SDK client and no credentials", () => {
    const saved: Record<string, string | undefined> = {};
    const env = {
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
        AWS_CONFIG_FILE: "/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
        // Otherwise the chain waits on the EC2 instance metadata endpoint.
        AWS_EC2_METADATA_DISABLED: "true",
    };
    before(() => {
        for (const [k, v] of Object.entries(env)) {
            saved[k] = process.env[k];
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    });
    after(() => {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    });

    it("reports 'no AWS credentials' with how to provide them, from the SDK's real CredentialsProviderError", async () => {
        const clients = createAwsClients(REGION);
        try {
            const r = await checkTrailStatus(clients, TRAIL_ARN, 60);
            expect(r).to.include({ ok: false, evidence: "no AWS credentials" });
            expect(r.hint).to.contain("AWS_PROFILE");
        } finally {
            destroyAwsClients(clients);
        }
    });
});
