import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { accountAdminKeyStatement, policyDocument } from "./policyDocument";
import { stackPrefix, standardTags } from "./tags";

export interface LogsEncryptionKeyArgs {
    /** Days between `pulumi destroy` and the key's deletion (KMS allows 7–30). */
    deletionWindowInDays?: number;
}

/**
 * The logs key's policy: the account's IAM policies govern the key, and CloudWatch Logs in
 * this region may use it only for this account's log groups. From CloudWatch Logs User Guide,
 * "Encrypt log data in CloudWatch Logs using AWS Key Management Service", step 2: the
 * `logs.<region>.amazonaws.com` principal with kms:Encrypt*, Decrypt*, ReEncrypt*,
 * GenerateDataKey*, Describe*, conditioned on `kms:EncryptionContext:aws:logs:arn`.
 */
export function logsKeyPolicy(accountId: string, region: string, partition = "aws"): string {
    return policyDocument([
        accountAdminKeyStatement(accountId, partition),
        {
            Sid: "CloudWatchLogsEncryptsThisAccountsGroups",
            Effect: "Allow",
            Principal: { Service: `logs.${region}.amazonaws.com` },
            Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            Resource: "*",
            Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${region}:${accountId}:log-group:*` } },
        },
    ]);
}

/**
 * One customer-managed, rotated KMS key for every CloudWatch log group of the stack (flow
 * logs, the trail's copy, the hosts' groups): log groups take it as `kmsKeyId`.
 */
export class LogsEncryptionKey extends pulumi.ComponentResource {
    readonly keyArn: pulumi.Output<string>;

    constructor(name: string, args: LogsEncryptionKeyArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        const window = args.deletionWindowInDays ?? 30;
        if (!Number.isInteger(window) || window < 7 || window > 30) {
            throw new Error(`deletionWindowInDays = ${JSON.stringify(window)}: a whole number of days from 7 to 30 (KMS ScheduleKeyDeletion)`);
        }
        super("devsecops:audit:LogsEncryptionKey", name, {}, opts);
        const parent = { parent: this };
        const tags = standardTags("logs-key");
        const prefix = stackPrefix();
        const identity = aws.getCallerIdentityOutput({}, parent);
        const partition = aws.getPartitionOutput({}, parent).partition;
        const region = aws.getRegionOutput({}, parent).region;

        const key = new aws.kms.Key(`${name}-key`, {
            description: `${prefix} CloudWatch log groups`,
            enableKeyRotation: true,
            deletionWindowInDays: window,
            policy: pulumi.all([identity.accountId, region, partition]).apply(([a, r, p]) => logsKeyPolicy(a, r, p)),
            tags,
        }, parent);
        // An alias name exists once per account and region: replace it delete-first.
        new aws.kms.Alias(`${name}-key`, { name: `alias/${prefix}-logs`, targetKeyId: key.keyId }, { parent: this, deleteBeforeReplace: true });

        this.keyArn = key.arn;
        this.registerOutputs({ keyArn: this.keyArn });
    }
}
