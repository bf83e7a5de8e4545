import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * Resources that cannot exist twice at once must be replaced delete-first. Pulumi replaces
 * create-first by default: with a fixed name the create fails (`AlreadyExists`), and a second
 * attachment of one volume fails with `VolumeInUse` (pulumi/pulumi-aws#2769).
 */

/** Types whose name is unique in the account and region; the input that carries a fixed name. */
export const FIXED_NAME_INPUTS: Record<string, string> = {
    "aws:iam/role:Role": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:iam/policy:Policy": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:ecr/repository:Repository": "name",
    "aws:ssm/document:Document": "name",
    "aws:ssm/parameter:Parameter": "name",
    "aws:cloudtrail/trail:Trail": "name",
    "aws:sns/topic:Topic": "name",
    "aws:kms/alias:Alias": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:ec2/launchTemplate:LaunchTemplate": "name",
    "aws:autoscaling/group:Group": "name",
    "aws:lb/loadBalancer:LoadBalancer": "name",
    "aws:lb/targetGroup:TargetGroup": "name",
    "aws:wafv2/webAcl:WebAcl": "name",
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": "name",
};

/** Types of which only one can exist per region (or per attached thing), whatever their name. */
export const SINGLETON_TYPES: Record<string, string> = {
    "aws:ec2/volumeAttachment:VolumeAttachment": "a volume attaches to one instance at a time (VolumeInUse; pulumi/pulumi-aws#2769)",
    "aws:guardduty/detector:Detector": "one GuardDuty detector per account and region",
    "aws:cfg/recorder:Recorder": "one AWS Config recorder per account and region",
    "aws:cfg/deliveryChannel:DeliveryChannel": "one AWS Config delivery channel per account and region",
    "aws:securityhub/account:Account": "Security Hub is enabled once per account and region",
};

/**
 * Exempt on purpose: a Secrets Manager secret's name stays taken for its recovery window after
 * deletion, so neither order reuses it; replacing one needs a new name (the vault's names carry
 * the stack, and rotation changes values, never names).
 */
export const REPLACEMENT_EXEMPT: Record<string, string> = {
    "aws:secretsmanager/secret:Secret": "name held for the recovery window whichever order the engine uses",
};

export function checkReplacementSafety(resources: StackResource[]): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    for (const r of resources) {
        if (REPLACEMENT_EXEMPT[r.type] || r.options.deleteBeforeReplace) continue;
        const nameInput = FIXED_NAME_INPUTS[r.type];
        if (nameInput && typeof r.inputs[nameInput] === "string" && r.inputs[nameInput] !== "") {
            findings.push({
                check: "replacement-safety",
                resource: resourceKey(r),
                message: `${nameInput} is fixed (${r.inputs[nameInput]}) but the resource replaces create-first: the new one fails with AlreadyExists. Set deleteBeforeReplace, or let Pulumi name it.`,
            });
        }
        const singleton = SINGLETON_TYPES[r.type];
        if (singleton) {
            findings.push({
                check: "replacement-safety",
                resource: resourceKey(r),
                message: `${singleton}: a create-first replacement fails. Set deleteBeforeReplace.`,
            });
        }
    }
    return findings;
}
