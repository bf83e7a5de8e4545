import { AWS } from "./awsTypes";
import { resourcePolicy } from "./definePolicy";

export const logRetentionSet = resourcePolicy(
    {
        name: "log-group-retention-set",
        description: "CloudWatch log groups have a retention period instead of keeping logs forever. Fix: set retentionInDays (the stack's *RetentionDays settings).",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_66" },
        types: [AWS.logGroup],
    },
    (props, _args, report) => {
        if (!props.retentionInDays) report("log group keeps logs forever (no retentionInDays)");
    },
);

export const ONE_YEAR_DAYS = 365;

export const logOneYearKms = resourcePolicy(
    {
        name: "log-group-one-year-kms",
        description: `Log groups keep at least a year (${ONE_YEAR_DAYS} days) and are encrypted with a KMS key. Advisory: the stack's 30/90-day retention is a documented waiver of CloudWatch.16 / CKV_AWS_338 (cost against forensic window). Fix: raise the *RetentionDays settings to ${ONE_YEAR_DAYS} and set kmsKeyId.`,
        enforcementLevel: "advisory",
        controls: { fsbp: "CloudWatch.16", checkov: "CKV_AWS_338, CKV_AWS_158" },
        types: [AWS.logGroup],
    },
    (props, _args, report) => {
        const days = props.retentionInDays;
        if (!days) report(`no retention set (at least ${ONE_YEAR_DAYS} days)`);
        else if (days < ONE_YEAR_DAYS) report(`retention ${days} days is under ${ONE_YEAR_DAYS}`);
        if (!props.kmsKeyId) report("log group is not encrypted with a KMS key");
    },
);
