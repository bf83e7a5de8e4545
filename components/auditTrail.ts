import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AuditEncryption } from "../config/stackConfig";
import { accountAdminKeyStatement, policyDocument, PolicyStatement, serviceTrustPolicy } from "./policyDocument";
import { stackPrefix, standardTags } from "./tags";

export interface AuditTrailArgs {
    /** `kms`: a dedicated customer-managed key with rotation; `aes256`: S3-managed keys. */
    encryption: AuditEncryption;
    /** Days before log objects (and noncurrent versions) move to GLACIER. */
    transitionDays: number;
    /** Days before log objects (and noncurrent versions) are deleted; more than transitionDays. */
    expirationDays: number;
    /** Let `pulumi destroy` delete a bucket that still holds logs. Off by default: audit logs are evidence. */
    forceDestroy: boolean;
    /** Also deliver to a CloudWatch log group with this retention; 0 turns delivery off. */
    cloudWatchRetentionDays: number;
    /** Let AWS Config's delivery channel write into the bucket too. */
    allowConfigDelivery?: boolean;
}

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
    statements.push({
        Sid: "DenyWithoutTls",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [p.bucketArn, `${p.bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
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

        const bucket = new aws.s3.Bucket(`${name}-logs`, {
            bucketPrefix: `${prefix}-audit-`.toLowerCase().slice(0, 37),
            forceDestroy: args.forceDestroy,
            tags,
        }, parent);

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
            }, parent);
            new aws.kms.Alias(`${name}-key`, { name: `alias/${prefix}-audit`, targetKeyId: key.keyId }, parent);
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
        }, parent);
        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${name}-logs`, {
            bucket: bucket.id,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        }, parent);
        const ownership = new aws.s3.BucketOwnershipControls(`${name}-logs`, {
            bucket: bucket.id,
            rule: { objectOwnership: "BucketOwnerEnforced" },
        }, parent);
        const versioning = new aws.s3.BucketVersioning(`${name}-logs`, {
            bucket: bucket.id,
            versioningConfiguration: { status: "Enabled" },
        }, parent);
        new aws.s3.BucketLifecycleConfiguration(`${name}-logs`, {
            bucket: bucket.id,
            rules: [
                {
                    id: "archive-then-expire",
                    status: "Enabled",
                    filter: { prefix: "" },
                    transitions: [{ days: args.transitionDays, storageClass: "GLACIER" }],
                    expiration: { days: args.expirationDays },
                    noncurrentVersionTransitions: [{ noncurrentDays: args.transitionDays, storageClass: "GLACIER" }],
                    noncurrentVersionExpiration: { noncurrentDays: args.expirationDays },
                    abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                },
            ],
        }, { parent: this, dependsOn: [versioning] });

        // The public-access block first: a bucket policy must never land on a bucket that could be public.
        const bucketPolicy = new aws.s3.BucketPolicy(`${name}-logs`, {
            bucket: bucket.id,
            policy: policyInput.apply(auditBucketPolicy),
        }, { parent: this, dependsOn: [publicAccessBlock, ownership] });

        const trailDependsOn: pulumi.Resource[] = [bucketPolicy, encryption];
        let cloudWatch: { cloudWatchLogsGroupArn: pulumi.Output<string>; cloudWatchLogsRoleArn: pulumi.Output<string> } | undefined;
        if (args.cloudWatchRetentionDays > 0) {
            const logGroup = new aws.cloudwatch.LogGroup(`${name}-trail`, {
                name: `/aws/cloudtrail/${prefix}`,
                retentionInDays: args.cloudWatchRetentionDays,
                tags,
            }, parent);
            const role = new aws.iam.Role(`${name}-trail-logs`, {
                assumeRolePolicy: identity.accountId.apply((accountId) => serviceTrustPolicy("cloudtrail.amazonaws.com", accountId)),
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
        }, { parent: this, dependsOn: trailDependsOn });

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
