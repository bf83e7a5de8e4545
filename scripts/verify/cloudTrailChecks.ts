import { GetTrailStatusCommand } from "@aws-sdk/client-cloudtrail";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ageText, AwsClients } from "./awsClients";
import { Check, CheckOutcome, fail, pass } from "./checkResult";
import { explainAwsError } from "./failureHints";
import { StackOutputs } from "./stackOutputs";

/** §4.6: the trail is logging and delivering, and new log objects appear under AWSLogs/ in the audit bucket. */

/** CloudTrail delivers about every 5 minutes while there is activity; an hour of silence means delivery is broken. */
export const DEFAULT_MAX_DELIVERY_AGE_MINUTES = 60;

export async function checkTrailStatus(clients: AwsClients, trail: string, maxDeliveryAgeMinutes: number, signal?: AbortSignal, now = Date.now()): Promise<CheckOutcome> {
    let status;
    try {
        status = await clients.cloudTrail.send(new GetTrailStatusCommand({ Name: trail }), { abortSignal: signal });
    } catch (e) {
        return explainAwsError(e, { action: "cloudtrail:GetTrailStatus", resource: `trail ${trail}`, region: clients.region });
    }
    if (!status.IsLogging) return fail(`trail ${trail} is not logging`, `start it: aws cloudtrail start-logging --name ${trail} (and find out who stopped it: CloudTrail StopLogging events)`);
    if (status.LatestDeliveryError) {
        return fail(`logging, but the latest delivery failed: ${status.LatestDeliveryError}`, "the audit bucket's policy (or KMS key policy) must let cloudtrail.amazonaws.com write: run `pulumi up` to restore the AuditTrail component's policies");
    }
    if (!status.LatestDeliveryTime) return fail("logging, but nothing delivered yet", "a new trail delivers its first logs within about 15 minutes; rerun later");
    const age = now - status.LatestDeliveryTime.getTime();
    const evidence = `logging, latest CloudTrail delivery ${ageText(age)}`;
    if (age > maxDeliveryAgeMinutes * 60_000) {
        return fail(`${evidence} (more than ${maxDeliveryAgeMinutes} min)`, "delivery has stalled: check LatestDeliveryError in `aws cloudtrail get-trail-status`, the bucket policy and the KMS key policy");
    }
    return pass(evidence);
}

/** arn:aws:cloudtrail:<region>:<account>:trail/<name> */
export function accountFromTrailArn(trailArn: string): string | undefined {
    return /^arn:aws[\w-]*:cloudtrail:[^:]*:(\d{12}):trail\//.exec(trailArn)?.[1];
}

function datePrefix(date: Date): string {
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}/`;
}

export async function checkTrailObjects(clients: AwsClients, bucket: string, trailArn: string, trailRegion: string, signal?: AbortSignal, now = Date.now()): Promise<CheckOutcome> {
    const call = { action: "s3:ListBucket", resource: `bucket ${bucket}`, region: clients.region };
    const account = accountFromTrailArn(trailArn);
    if (!account) return fail(`output trailArn ${trailArn} is not a CloudTrail trail ARN`, "re-export trailArn from the stack (pulumi stack output trailArn)");
    try {
        const any = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "AWSLogs/", MaxKeys: 1 }), { abortSignal: signal });
        if (!any.KeyCount) return fail(`no objects under s3://${bucket}/AWSLogs/`, "CloudTrail has never delivered here: check the trail's S3 bucket is this one and `aws cloudtrail get-trail-status` shows no delivery error");
        // Keys are date-partitioned and sort by time within a day: look at today's, then yesterday's (just after midnight UTC).
        for (const daysBack of [0, 1]) {
            const prefix = `AWSLogs/${account}/CloudTrail/${trailRegion}/${datePrefix(new Date(now - daysBack * 86_400_000))}`;
            let newest = 0;
            let count = 0;
            let token: string | undefined;
            for (let page = 0; page < 5; page++) {
                const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
                for (const o of listed.Contents ?? []) {
                    count++;
                    newest = Math.max(newest, o.LastModified?.getTime() ?? 0);
                }
                token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
                if (!token) break;
            }
            if (count > 0) return pass(`${count}${token ? "+" : ""} log objects under ${prefix}, newest ${ageText(now - newest)}`);
        }
        return fail(
            `objects under AWSLogs/, but none for ${trailRegion} today or yesterday`,
            "delivery has stopped: check `aws cloudtrail get-trail-status` (IsLogging, LatestDeliveryError) and the bucket policy",
        );
    } catch (e) {
        return explainAwsError(e, call);
    }
}

export function cloudTrailChecks(outputs: StackOutputs, clients: () => AwsClients, maxDeliveryAgeMinutes = DEFAULT_MAX_DELIVERY_AGE_MINUTES): Check[] {
    return [
        {
            group: "cloudtrail",
            name: "CloudTrail logging and delivering",
            required: true,
            timeoutMs: 30_000,
            run: (signal) => checkTrailStatus(clients(), outputs.optionalString("trailArn") ?? outputs.string("trailName"), maxDeliveryAgeMinutes, signal),
        },
        {
            group: "cloudtrail",
            name: "CloudTrail objects in S3 (AWSLogs/)",
            required: true,
            timeoutMs: 30_000,
            run: (signal) => checkTrailObjects(clients(), outputs.string("auditBucketName"), outputs.string("trailArn"), outputs.string("region"), signal),
        },
    ];
}
