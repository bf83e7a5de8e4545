import { DevSecOpsPolicy } from "./definePolicy";

export const REQUIRED_TAGS = ["Project", "Stack", "ManagedBy"];

/**
 * AWS types that accept `tags`. A resource declared without any `tags` input is only
 * recognisable as taggable from its type; tests/policy check this list against
 * @pulumi/aws's declarations for every type the stack uses.
 */
export const TAGGABLE_TYPES = [
    "aws:acm/certificate:Certificate",
    "aws:autoscaling/group:Group",
    "aws:cloudtrail/trail:Trail",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ebs/volume:Volume",
    "aws:dlm/lifecyclePolicy:LifecyclePolicy",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/instance:Instance",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ecr/repository:Repository",
    "aws:guardduty/detector:Detector",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/policy:Policy",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:lambda/function:Function",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:secretsmanager/secret:Secret",
    "aws:sns/topic:Topic",
    "aws:ssm/association:Association",
    "aws:ssm/document:Document",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:wafv2/webAcl:WebAcl",
];

export const requiredTags: DevSecOpsPolicy = {
    name: "required-tags",
    description: `Taggable AWS resources carry ${REQUIRED_TAGS.join(", ")} (cost, ownership and incident triage). Fix: tags: standardTags(<component>) on the resource.`,
    enforcementLevel: "advisory",
    controls: {},
    validateResource: (args, report) => {
        if (!args.type.startsWith("aws:") || !(TAGGABLE_TYPES.includes(args.type) || "tags" in args.props)) return;
        // Auto Scaling groups take tags as a list of { key, value, propagateAtLaunch }.
        const tags: Record<string, unknown> = Array.isArray(args.props.tags)
            ? Object.fromEntries(args.props.tags.map((t: { key?: string; value?: unknown }) => [t.key, t.value]))
            : (args.props.tags ?? {});
        const missing = REQUIRED_TAGS.filter((t) => !tags[t]);
        if (missing.length > 0) report(`missing tags: ${missing.join(", ")}`);
    },
};
