import { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { AWS } from "./awsTypes";
import { belongsTo, resourcesOfType, stackPolicy } from "./definePolicy";
import { statementsOf } from "./policyDocuments";

/*
 * @pulumi/aws v7 moved a bucket's encryption, public-access block, policy and versioning to
 * separate resources, so these are stack policies: each bucket is judged with the
 * configuration resources that belong to it (they depend on it, or name it).
 */

const BUCKET_TYPES = [AWS.bucket, AWS.bucketV2];

function bucketsWith(args: StackValidationArgs, configTypes: string[]): { bucket: PolicyResource; configs: PolicyResource[] }[] {
    const configs = resourcesOfType(args, ...configTypes);
    return resourcesOfType(args, ...BUCKET_TYPES).map((bucket) => ({
        bucket,
        configs: configs.filter((c) => belongsTo(c, bucket, "bucket", ["id", "bucket"])),
    }));
}

export const s3DefaultEncryption = stackPolicy(
    {
        name: "s3-bucket-default-encryption",
        description: "Every S3 bucket has default encryption (SSE-KMS or AES256). Fix: add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 2.1.1", fsbp: "S3.4", checkov: "CKV_AWS_145 (narrowed: AES256 also passes)" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWith(args, [AWS.bucketSse, AWS.bucketSseV2])) {
            const inline = bucket.props.serverSideEncryptionConfiguration?.rule?.applyServerSideEncryptionByDefault?.sseAlgorithm;
            const separate = configs.some((c) => (c.props.rules ?? []).some((r: any) => r.applyServerSideEncryptionByDefault?.sseAlgorithm));
            if (!inline && !separate) report(`bucket ${bucket.name} has no default encryption`, bucket.urn);
        }
    },
);

const PUBLIC_ACCESS_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];

export const s3PublicAccessBlock = stackPolicy(
    {
        name: "s3-public-access-block",
        description:
            "Every S3 bucket has a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true. Fix: add one for the bucket with all four flags true.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 2.1.4", fsbp: "S3.8", checkov: "CKV_AWS_53, CKV_AWS_54, CKV_AWS_55, CKV_AWS_56, CKV2_AWS_6" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWith(args, [AWS.bucketPublicAccessBlock])) {
            if (configs.length === 0) {
                report(`bucket ${bucket.name} has no public access block`, bucket.urn);
                continue;
            }
            const off = PUBLIC_ACCESS_FLAGS.filter((flag) => !configs.some((c) => c.props[flag] === true));
            if (off.length > 0) report(`bucket ${bucket.name}: public access block flags not true: ${off.join(", ")}`, bucket.urn);
        }
        // A block whose bucket is not in the stack (adopted, or another stack's) is judged on its own.
        const buckets = resourcesOfType(args, ...BUCKET_TYPES);
        for (const block of resourcesOfType(args, AWS.bucketPublicAccessBlock)) {
            if (buckets.some((b) => belongsTo(block, b, "bucket", ["id", "bucket"]))) continue;
            const off = PUBLIC_ACCESS_FLAGS.filter((flag) => block.props[flag] !== true);
            if (off.length > 0) report(`public access block ${block.name}: flags not true: ${off.join(", ")}`, block.urn);
        }
    },
);

export const s3TlsOnly = stackPolicy(
    {
        name: "s3-tls-only",
        description: "Every S3 bucket's policy denies requests without TLS (Deny when aws:SecureTransport is false). Fix: add that statement to the bucket's aws.s3.BucketPolicy.",
        enforcementLevel: "advisory",
        controls: { fsbp: "S3.5", checkov: "CKV_AWS_379" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWith(args, [AWS.bucketPolicy])) {
            const denies = configs.some((c) =>
                statementsOf(c.props.policy).some((s) => s.Effect === "Deny" && String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false"),
            );
            if (!denies) report(`bucket ${bucket.name} does not deny requests without TLS`, bucket.urn);
        }
    },
);

export const s3Versioning = stackPolicy(
    {
        name: "s3-versioning",
        description: "Every S3 bucket keeps object versions, so an overwritten or deleted log can be recovered. Fix: add an aws.s3.BucketVersioning with status Enabled.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_21" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWith(args, [AWS.bucketVersioning, AWS.bucketVersioningV2])) {
            const inline = bucket.props.versioning?.enabled === true;
            if (!inline && !configs.some((c) => c.props.versioningConfiguration?.status === "Enabled")) report(`bucket ${bucket.name} does not keep versions`, bucket.urn);
        }
    },
);

export const s3AclsDisabled = stackPolicy(
    {
        name: "s3-acls-disabled",
        description: "Every S3 bucket disables ACLs (object ownership BucketOwnerEnforced), so access is decided by policies alone. Fix: an aws.s3.BucketOwnershipControls with rule.objectOwnership BucketOwnerEnforced.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "S3.12", checkov: "CKV2_AWS_65" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWith(args, [AWS.bucketOwnershipControls])) {
            if (!configs.some((c) => c.props.rule?.objectOwnership === "BucketOwnerEnforced")) report(`bucket ${bucket.name} has ACLs enabled (no BucketOwnerEnforced ownership controls)`, bucket.urn);
        }
    },
);

export const s3AccessLoggingAndLifecycle = stackPolicy(
    {
        name: "s3-access-logging-lifecycle",
        description: "Every S3 bucket has server access logging and a lifecycle rule that aborts incomplete multipart uploads. Advisory: a log bucket's own access logs need yet another bucket. Fix: an aws.s3.BucketLogging and a BucketLifecycleConfiguration rule with abortIncompleteMultipartUpload.",
        enforcementLevel: "advisory",
        controls: { fsbp: "S3.9", checkov: "CKV_AWS_18, CKV_AWS_300, CKV2_AWS_61" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWith(args, [AWS.bucketLogging, AWS.bucketLifecycle])) {
            if (!configs.some((c) => c.type === AWS.bucketLogging && c.props.targetBucket)) report(`bucket ${bucket.name} has no server access logging`, bucket.urn);
            const aborts = configs.some((c) => c.type === AWS.bucketLifecycle && (c.props.rules ?? []).some((r: any) => r.status === "Enabled" && r.abortIncompleteMultipartUpload?.daysAfterInitiation));
            if (!aborts) report(`bucket ${bucket.name} does not abort incomplete multipart uploads`, bucket.urn);
        }
    },
);
