import { AWS } from "./awsTypes";
import { belongsTo, resourcePolicy, resourcesOfType, stackPolicy } from "./definePolicy";

export const guardDutyEnabled = resourcePolicy(
    {
        name: "guardduty-enabled",
        description: "GuardDuty detectors are enabled. Fix: enable: true on the aws.guardduty.Detector.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "GuardDuty.1", checkov: "CKV_AWS_238" },
        types: [AWS.detector],
    },
    (props, _args, report) => {
        if (props.enable === false) report("detector is disabled");
    },
);

export const securityBaseline = stackPolicy(
    {
        name: "stack-security-baseline",
        description:
            "The stack has a CloudTrail trail, GuardDuty (its own detector, or an EventBridge rule routing an adopted detector's findings) and a flow log on every VPC. Fix: compose AuditTrail, ThreatDetection and Network.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.1, CIS 3.9", fsbp: "CloudTrail.1, GuardDuty.1, EC2.6", checkov: "CKV2_AWS_11" },
    },
    (args, report) => {
        if (resourcesOfType(args, AWS.trail).length === 0) report("no CloudTrail trail in the stack");
        const routesFindings = resourcesOfType(args, AWS.eventRule).some((r) => String(r.props.eventPattern ?? "").includes("aws.guardduty"));
        if (resourcesOfType(args, AWS.detector).length === 0 && !routesFindings) report("no GuardDuty detector in the stack");
        const flowLogs = resourcesOfType(args, AWS.flowLog);
        for (const vpc of resourcesOfType(args, AWS.vpc)) {
            if (!flowLogs.some((f) => belongsTo(f, vpc, "vpcId", ["id"]))) report(`VPC ${vpc.name} has no flow log`, vpc.urn);
        }
    },
);
