import { AWS } from "./awsTypes";
import { resourcePolicy } from "./definePolicy";

export const trailMultiRegion = resourcePolicy(
    {
        name: "cloudtrail-multi-region",
        description: "CloudTrail trails are multi-region and include global service events. Fix: isMultiRegionTrail: true, includeGlobalServiceEvents: true.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.1", fsbp: "CloudTrail.1", checkov: "CKV_AWS_67" },
        types: [AWS.trail],
    },
    (props, _args, report) => {
        if (props.isMultiRegionTrail !== true) report("trail is not multi-region (isMultiRegionTrail is not true)");
        if (props.includeGlobalServiceEvents === false) report("trail excludes global service events");
    },
);

export const trailLogFileValidation = resourcePolicy(
    {
        name: "cloudtrail-log-file-validation",
        description: "CloudTrail trails validate their log files, so tampering is detectable. Fix: enableLogFileValidation: true.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.2", fsbp: "CloudTrail.4", checkov: "CKV_AWS_36" },
        types: [AWS.trail],
    },
    (props, _args, report) => {
        if (props.enableLogFileValidation !== true) report("trail does not validate log files (enableLogFileValidation is not true)");
    },
);

export const trailManagementEvents = resourcePolicy(
    {
        name: "cloudtrail-management-events",
        description:
            "CloudTrail trails record all (read and write) management events and are logging. Fix: no event selectors, or one with readWriteType All and includeManagementEvents true; enableLogging not false.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.1", fsbp: "CloudTrail.1" },
        types: [AWS.trail],
    },
    (props, _args, report) => {
        if (props.enableLogging === false) report("trail is not logging (enableLogging is false)");
        if (props.advancedEventSelectors?.length) {
            const management = props.advancedEventSelectors.some((s: any) =>
                (s.fieldSelectors ?? []).some((f: any) => f.field === "eventCategory" && (f.equals ?? []).includes("Management")),
            );
            if (!management) report("no advanced event selector records management events (eventCategory Management)");
            return;
        }
        const selectors: any[] = props.eventSelectors ?? [];
        if (selectors.length === 0) return; // CloudTrail's default: all management events
        const all = selectors.some((s) => s.includeManagementEvents !== false && (s.readWriteType ?? "All") === "All");
        if (!all) report("no event selector records all management events (readWriteType All, includeManagementEvents true)");
    },
);

export const trailKmsEncryption = resourcePolicy(
    {
        name: "cloudtrail-kms-encryption",
        description: "CloudTrail log files are encrypted with a customer-managed KMS key. Fix: set kmsKeyId (the stack's auditEncryption: kms).",
        enforcementLevel: "advisory",
        controls: { cis: "CIS 3.5", fsbp: "CloudTrail.2", checkov: "CKV_AWS_35" },
        types: [AWS.trail],
    },
    (props, _args, report) => {
        if (!props.kmsKeyId) report("trail logs are not encrypted with a KMS key");
    },
);

export const trailCloudWatchLogs = resourcePolicy(
    {
        name: "cloudtrail-cloudwatch-logs",
        description: "CloudTrail trails also deliver to CloudWatch Logs, where metric filters and alarms can watch them. Fix: set cloudWatchLogsGroupArn and cloudWatchLogsRoleArn.",
        enforcementLevel: "advisory",
        controls: { cis: "CIS 3.4", fsbp: "CloudTrail.5", checkov: "CKV2_AWS_10" },
        types: [AWS.trail],
    },
    (props, _args, report) => {
        if (!props.cloudWatchLogsGroupArn || !props.cloudWatchLogsRoleArn) report("trail does not deliver to CloudWatch Logs");
    },
);
