import { GetBucketEncryptionCommand, GetPublicAccessBlockCommand } from "@aws-sdk/client-s3";
import { AwsClients } from "./awsClients";
import { Check, CheckOutcome, fail, pass } from "./checkResult";
import { explainAwsError } from "./failureHints";
import { StackOutputs } from "./stackOutputs";

/** The audit bucket's controls read back from S3: default encryption and all four public access blocks. */

const BLOCKS = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"] as const;

export async function checkAuditBucket(clients: AwsClients, bucket: string, signal?: AbortSignal): Promise<CheckOutcome> {
    const call = (action: string) => ({ action, resource: `bucket ${bucket}`, region: clients.region });
    let encryption: string;
    try {
        const enc = await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }), { abortSignal: signal });
        const rule = enc.ServerSideEncryptionConfiguration?.Rules?.[0];
        const algorithm = rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;
        if (!algorithm) return fail("no default encryption rule", "run `pulumi up` to restore the AuditTrail component's bucket encryption");
        encryption = `SSE ${algorithm}${rule?.BucketKeyEnabled ? " (bucket key on)" : ""}`;
    } catch (e) {
        if ((e as Error).name === "ServerSideEncryptionConfigurationNotFoundError") return fail("no default encryption configured", "run `pulumi up` to restore the AuditTrail component's bucket encryption");
        return explainAwsError(e, call("s3:GetEncryptionConfiguration"));
    }
    try {
        const pab = await clients.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }), { abortSignal: signal });
        const config = pab.PublicAccessBlockConfiguration ?? {};
        const off = BLOCKS.filter((b) => config[b] !== true);
        if (off.length > 0) return fail(`${encryption}; public access block ${BLOCKS.length - off.length}/4, off: ${off.join(", ")}`, "run `pulumi up` to restore all four public access blocks on the audit bucket");
        return pass(`${encryption}, public access block 4/4`);
    } catch (e) {
        if ((e as Error).name === "NoSuchPublicAccessBlockConfiguration") return fail(`${encryption}; no public access block`, "run `pulumi up` to restore all four public access blocks on the audit bucket");
        return explainAwsError(e, call("s3:GetBucketPublicAccessBlock"));
    }
}

export function auditBucketChecks(outputs: StackOutputs, clients: () => AwsClients): Check[] {
    return [{ group: "s3", name: "Audit bucket encrypted, public access blocked", required: true, timeoutMs: 30_000, run: (signal) => checkAuditBucket(clients(), outputs.string("auditBucketName"), signal) }];
}
