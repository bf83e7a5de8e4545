import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AuditEncryption } from "../config/stackConfig";
import { accountAdminKeyStatement, denyInsecureTransportStatement, policyDocument, PolicyStatement, serviceTrustPolicy } from "./policyDocument";
import { stackPrefix, standardTags } from "./tags";

export interface AuditTrailArgs {
    /** `kms`: a dedicated customer-managed key with rotation; `aes256`: S3-managed keys. */
    encryption: AuditEncryption;
    /**
     * Days before log objects (and noncurrent versions) larger than 128 KiB move to GLACIER.
     * Smaller objects (most CloudTrail files) stay in STANDARD until they expire: S3 does not
     * transition objects under 128 KiB by default, and for small objects GLACIER's per-object
     * overhead costs more than it saves.
     */
    transitionDays: number;
    /** Days before log objects (and noncurrent versions) are deleted; more than transitionDays. */
    expirationDays: number;
    /** Let `pulumi destroy` delete a bucket that still holds logs. Off by default: audit logs are evidence. */
    forceDestroy: boolean;
    /** Also deliver to a CloudWatch log group with this retention; 0 turns delivery off. */
    cloudWatchRetentionDays: number;
    /** Let AWS Config's delivery channel write into the bucket too. */
    allowConfigDelivery?: boolean;
    /** Customer-managed key for the trail's log group (LogsEncryptionKey). */
    logsKmsKeyArn?: pulumi.Input<string>;
}

/**
 * Objects at or under this size are not transitioned: S3's default minimum for lifecycle
 * transitions (S3 User Guide, "Transitioning objects using Amazon S3 Lifecycle": objects
 * smaller than 128 KB are not transitioned by default; an ObjectSizeGreaterThan filter
 * states it explicitly).
 */
export const TRANSITION_MIN_OBJECT_BYTES = 128 * 1024;

export interface AuditPolicyInput {
    bucketArn: string;
    trailArn: string;
    accountId: string;
    allowConfigDelivery?: boolean;
}

/**
 * Only this trail may write (aws:SourceArn), objects stay the bucket owner's, and
 * every request without TLS is denied.
 */
export function auditBucketPolicy(p: AuditPolicyInput): string {
    const fromThisTrail = { StringEquals: { "aws:SourceArn": p.trailArn } };
    const statements: PolicyStatement[] = [
        {
            Sid: "CloudTrailAclCheck",
            Effect: "Allow",
            Principal: { Service: "cloudtrail.amazonaws.com" },
            Action: "s3:GetBucketAcl",
            Resource: p.bucketArn,
            Condition: fromThisTrail,
        },
        {
            Sid: "CloudTrailWrite",
            Effect: "Allow",
            Principal: { Service: "cloudtrail.amazonaws.com" },
            Action: "s3:PutObject",
            Resource: `${p.bucketArn}/AWSLogs/${p.accountId}/*`,
            Condition: {
                StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": p.trailArn },
            },
        },
    ];
    if (p.allowConfigDelivery) {
        const fromThisAccount = { StringEquals: { "aws:SourceAccount": p.accountId } };
        statements.push(
            {
                Sid: "ConfigAclCheck",
                Effect: "Allow",
                Principal: { Service: "config.amazonaws.com" },
                Action: ["s3:GetBucketAcl", "s3:ListBucket"],
                Resource: p.bucketArn,
                Condition: fromThisAccount,
            },
            {
                Sid: "ConfigWrite",
                Effect: "Allow",
                Principal: { Service: "config.amazonaws.com" },
                Action: "s3:PutObject",
                Resource: `${p.bucketArn}/AWSLogs/${p.accountId}/Config/*`,
                Condition: {
                    StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": p.accountId },
                },
            },
        );
    }
    statements.push(denyInsecureTransportStatement(p.bucketArn));
    return policyDocument(statements);
}

/**
 * CloudTrail may encrypt with the key only for this trail; the account's principals
 * may decrypt what any of the account's trails wrote (to read the logs).
 */
export function auditKeyPolicy(p: AuditPolicyInput & { partition?: string }): string {
    const partition = p.partition ?? "aws";
    const statements: PolicyStatement[] = [
        accountAdminKeyStatement(p.accountId, partition),
        {
            Sid: "CloudTrailEncryptsForThisTrail",
            Effect: "Allow",
            Principal: { Service: "cloudtrail.amazonaws.com" },
            Action: "kms:GenerateDataKey*",
            Resource: "*",
            Condition: {
                StringEquals: { "aws:SourceArn": p.trailArn },
                StringLike: { "kms:EncryptionContext:aws:cloudtrail:arn": p.trailArn },
            },
        },
        {
            Sid: "CloudTrailDescribesKey",
            Effect: "Allow",
            Principal: { Service: "cloudtrail.amazonaws.com" },
            Action: "kms:DescribeKey",
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceArn": p.trailArn } },
        },
        {
            Sid: "AccountReadsTrailLogs",
            Effect: "Allow",
            Principal: { AWS: `arn:${partition}:iam::${p.accountId}:root` },
            Action: ["kms:Decrypt", "kms:ReEncryptFrom"],
            Resource: "*",
            Condition: {
                StringEquals: { "kms:CallerAccount": p.accountId },
                StringLike: { "kms:EncryptionContext:aws:cloudtrail:arn": `arn:${partition}:cloudtrail:*:${p.accountId}:trail/*` },
            },
        },
    ];
    if (p.allowConfigDelivery) {
        statements.push({
            Sid: "ConfigEncryptsDeliveries",
            Effect: "Allow",
            Principal: { Service: "config.amazonaws.com" },
            Action: ["kms:GenerateDataKey", "kms:Decrypt"],
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceAccount": p.accountId } },
        });
    }
    return policyDocument(statements);
}

/** CloudTrail may write to its own log group's streams and nothing else. */
export function trailLogsWritePolicy(logGroupArn: string): string {
    return policyDocument([
        {
            Sid: "TrailWritesOwnGroup",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: `${logGroupArn}:log-stream:*`,
        },
    ]);
}

/**
 * A multi-region CloudTrail with log-file validation into an S3 bucket that is
 * encrypted, private (all four public-access blocks, owner-enforced objects),
 * versioned, archived and expired by lifecycle, and writable only by this trail.
 */
export class AuditTrail extends pulumi.ComponentResource {
    /** What AWS Config's delivery channel waits for: the policy that lets it write. */
    readonly bucketPolicy: pulumi.Resource;
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    readonly trailArn: pulumi.Output<string>;
    readonly trailName: pulumi.Output<string>;
    readonly kmsKeyArn?: pulumi.Output<string>;
    readonly logGroupName?: pulumi.Output<string>;

    constructor(name: string, args: AuditTrailArgs, opts?: pulumi.ComponentResourceOptions) {
        super("devsecops:audit:AuditTrail", name, {}, opts);
        const parent = { parent: this };
        const tags = standardTags("audit-trail");
        const prefix = stackPrefix();
        const identity = aws.getCallerIdentityOutput({}, parent);
        const partition = aws.getPartitionOutput({}, parent).partition;
        const region = aws.getRegionOutput({}, parent).region;

        // The conditions need the trail's ARN before the trail exists: its name is fixed, so the ARN is known.
        const trailName = `${prefix}-trail`;
        const trailArn = pulumi.interpolate`arn:${partition}:cloudtrail:${region}:${identity.accountId}:trail/${trailName}`;

        // Audit logs are evidence: unless forceDestroy is set, `pulumi destroy` leaves the bucket
        // and its settings (private, encrypted, versioned, expiring) in place instead of failing
        // on a non-empty bucket. README "Cleanup" says what remains and how to remove it.
        const evidence = { parent: this, retainOnDelete: !args.forceDestroy };
        const bucket = new aws.s3.Bucket(`${name}-logs`, {
            bucketPrefix: `${prefix}-audit-`.toLowerCase().slice(0, 37),
            forceDestroy: args.forceDestroy,
            tags,
        }, evidence);

        const policyInput = pulumi.all([bucket.arn, trailArn, identity.accountId, partition]).apply(
            ([bucketArn, arn, accountId, part]) => ({
                bucketArn,
                trailArn: arn,
                accountId,
                partition: part,
                allowConfigDelivery: args.allowConfigDelivery ?? false,
            }),
        );

        let key: aws.kms.Key | undefined;
        if (args.encryption === "kms") {
            key = new aws.kms.Key(`${name}-key`, {
                description: `${prefix} CloudTrail logs: only ${trailName} may encrypt`,
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                policy: policyInput.apply(auditKeyPolicy),
                tags,
                // Always retained: the logs it encrypted outlive the stack (a retained bucket, or a
                // switch to aes256 that leaves old objects under this key). Deleting it would make
                // the evidence unreadable after the deletion window.
            }, { parent: this, retainOnDelete: true });
            new aws.kms.Alias(`${name}-key`, { name: `alias/${prefix}-audit`, targetKeyId: key.keyId }, { parent: this, deleteBeforeReplace: true });
        }

        const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-logs`, {
            bucket: bucket.id,
            rules: [
                {
                    applyServerSideEncryptionByDefault: key
                        ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.arn }
                        : { sseAlgorithm: "AES256" },
                    bucketKeyEnabled: key !== undefined,
                },
            ],
        }, evidence);
        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${name}-logs`, {
            bucket: bucket.id,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        }, evidence);
        const ownership = new aws.s3.BucketOwnershipControls(`${name}-logs`, {
            bucket: bucket.id,
            rule: { objectOwnership: "BucketOwnerEnforced" },
        }, evidence);
        const versioning = new aws.s3.BucketVersioning(`${name}-logs`, {
            bucket: bucket.id,
            versioningConfiguration: { status: "Enabled" },
        }, evidence);
        new aws.s3.BucketLifecycleConfiguration(`${name}-logs`, {
            bucket: bucket.id,
            // Two rules: a size filter on the expiry rule would keep small objects forever.
            rules: [
                {
                    id: "expire",
                    status: "Enabled",
                    filter: { prefix: "" },
                    expiration: { days: args.expirationDays },
                    noncurrentVersionExpiration: { noncurrentDays: args.expirationDays },
                    abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                },
                {
                    id: "archive-large-objects",
                    status: "Enabled",
                    filter: { objectSizeGreaterThan: TRANSITION_MIN_OBJECT_BYTES },
                    transitions: [{ days: args.transitionDays, storageClass: "GLACIER" }],
                    noncurrentVersionTransitions: [{ noncurrentDays: args.transitionDays, storageClass: "GLACIER" }],
                },
            ],
        }, { ...evidence, dependsOn: [versioning] });

        // The public-access block first: a bucket policy must never land on a bucket that could be public.
        const bucketPolicy = new aws.s3.BucketPolicy(`${name}-logs`, {
            bucket: bucket.id,
            policy: policyInput.apply(auditBucketPolicy),
        }, { ...evidence, dependsOn: [publicAccessBlock, ownership] });

        const trailDependsOn: pulumi.Resource[] = [bucketPolicy, encryption];
        let cloudWatch: { cloudWatchLogsGroupArn: pulumi.Output<string>; cloudWatchLogsRoleArn: pulumi.Output<string> } | undefined;
        if (args.cloudWatchRetentionDays > 0) {
            const logGroup = new aws.cloudwatch.LogGroup(`${name}-trail`, {
                name: `/aws/cloudtrail/${prefix}`,
                retentionInDays: args.cloudWatchRetentionDays,
                kmsKeyId: args.logsKmsKeyArn,
                tags,
            }, { parent: this, deleteBeforeReplace: true });
            // No condition: CloudTrail's guide ("Role policy document for CloudTrail to use CloudWatch
            // Logs for monitoring") says this role's trust does not support aws:SourceArn/SourceAccount;
            // CreateTrail fails with InvalidCloudWatchLogsRoleArnException otherwise.
            const role = new aws.iam.Role(`${name}-trail-logs`, {
                assumeRolePolicy: serviceTrustPolicy("cloudtrail.amazonaws.com"),
                tags,
            }, parent);
            const rolePolicy = new aws.iam.RolePolicy(`${name}-trail-logs`, {
                role: role.id,
                policy: logGroup.arn.apply(trailLogsWritePolicy),
            }, parent);
            cloudWatch = {
                // CloudTrail wants the group ARN with the stream wildcard.
                cloudWatchLogsGroupArn: pulumi.interpolate`${logGroup.arn}:*`,
                cloudWatchLogsRoleArn: role.arn,
            };
            trailDependsOn.push(rolePolicy);
            this.logGroupName = logGroup.name;
        }

        const trail = new aws.cloudtrail.Trail(`${name}-trail`, {
            name: trailName,
            s3BucketName: bucket.id,
            isMultiRegionTrail: true,
            includeGlobalServiceEvents: true,
            enableLogFileValidation: true,
            enableLogging: true,
            kmsKeyId: key?.arn,
            eventSelectors: [{ readWriteType: "All", includeManagementEvents: true }],
            cloudWatchLogsGroupArn: cloudWatch?.cloudWatchLogsGroupArn,
            cloudWatchLogsRoleArn: cloudWatch?.cloudWatchLogsRoleArn,
            tags,
            // The trail's name is fixed (its ARN is in the policies above): replace it delete-first.
        }, { parent: this, dependsOn: trailDependsOn, deleteBeforeReplace: true });

        this.bucketPolicy = bucketPolicy;
        this.bucketName = bucket.id;
        this.bucketArn = bucket.arn;
        this.trailArn = trail.arn;
        this.trailName = trail.name;
        this.kmsKeyArn = key?.arn;
        this.registerOutputs({
            bucketName: this.bucketName,
            bucketArn: this.bucketArn,
            trailArn: this.trailArn,
            trailName: this.trailName,
            kmsKeyArn: this.kmsKeyArn,
            logGroupName: this.logGroupName,
        });
    }
}
