import { AWS } from "./awsTypes";
import { asList, belongsTo, resourcePolicy, resourcesOfType, stackPolicy } from "./definePolicy";

/*
 * The front door (issue 12): ALB, listeners, WAF, Auto Scaling group and its launch template,
 * judged from @pulumi/aws v7 inputs (lb/loadBalancer.d.ts, lb/listener.d.ts, autoscaling/group.d.ts,
 * ec2/launchTemplate.d.ts).
 */

const isApplication = (p: Record<string, any>) => (p.loadBalancerType ?? "application") === "application";

export const albHardened = resourcePolicy(
    {
        name: "alb-drop-invalid-headers",
        description: "Application Load Balancers drop invalid HTTP header fields and do not merely monitor HTTP desync (request-smuggling defences). Fix: dropInvalidHeaderFields: true and desyncMitigationMode \"strictest\" (or the default, defensive).",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_131, CKV_AWS_328" },
        types: [AWS.loadBalancer],
    },
    (props, _args, report) => {
        if (!isApplication(props)) return;
        if (props.dropInvalidHeaderFields !== true) report("load balancer does not drop invalid header fields (dropInvalidHeaderFields is not true)");
        if (props.desyncMitigationMode === "monitor") report('load balancer only monitors HTTP desync (desyncMitigationMode "monitor")');
    },
);

export const albAccessLogs = resourcePolicy(
    {
        name: "alb-access-logs",
        description: "Load balancers write access logs to S3. Fix: accessLogs: { bucket, enabled: true }.",
        enforcementLevel: "advisory",
        controls: { fsbp: "ELB.5", checkov: "CKV_AWS_91" },
        types: [AWS.loadBalancer],
    },
    (props, _args, report) => {
        if (props.accessLogs?.enabled !== true || !props.accessLogs?.bucket) report("load balancer writes no access logs");
    },
);

/** TLS policies that allow nothing older than TLS 1.2 (ELB's predefined security policies). */
const MODERN_TLS_POLICY = /^ELBSecurityPolicy-(TLS13-|TLS-1-2-|FS-1-2-)/;

export const listenerTls = resourcePolicy(
    {
        name: "alb-listener-tls",
        description:
            "HTTPS listeners use a security policy with TLS 1.2 or newer (ELBSecurityPolicy-TLS13-*, -TLS-1-2-*, -FS-1-2-*); an HTTPS/TLS listener has a certificate. Fix: sslPolicy: \"ELBSecurityPolicy-TLS13-1-2-2021-06\" and certificateArn.",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_103" },
        types: [AWS.listener],
    },
    (props, _args, report) => {
        if (!["HTTPS", "TLS"].includes(String(props.protocol))) return;
        if (!MODERN_TLS_POLICY.test(String(props.sslPolicy ?? ""))) report(`listener's TLS policy ${JSON.stringify(props.sslPolicy ?? "(default ELBSecurityPolicy-2016-08)")} allows TLS older than 1.2`);
        if (!props.certificateArn) report("HTTPS listener has no certificateArn");
    },
);

const redirectsToHttps = (props: Record<string, any>) =>
    (props.defaultActions ?? []).some((a: any) => a.type === "redirect" && String(a.redirect?.protocol ?? "").toUpperCase() === "HTTPS");

export const listenerHttps = resourcePolicy(
    {
        name: "alb-listener-https",
        description:
            "Plain-HTTP listeners only redirect to HTTPS. Advisory: a trial stack without a certificate serves plain HTTP on purpose (its outputs say so), and this flags it. Fix: set domainName + hostedZoneId or certificateArn; HTTP's default action a redirect with protocol HTTPS (statusCode HTTP_301).",
        enforcementLevel: "advisory",
        controls: { fsbp: "ELB.1", checkov: "CKV_AWS_2, CKV2_AWS_20" },
        types: [AWS.listener],
    },
    (props, _args, report) => {
        if (String(props.protocol ?? "HTTP") === "HTTP" && !redirectsToHttps(props)) report("listener serves plain HTTP (no redirect to HTTPS)");
    },
);

export const albWafAssociated = stackPolicy(
    {
        name: "alb-waf-associated",
        description: "Every internet-facing Application Load Balancer has a WAFv2 web ACL associated. Fix: enableWaf: true (an aws.wafv2.WebAclAssociation with resourceArn the ALB's ARN).",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV2_AWS_28" },
    },
    (args, report) => {
        const associations = resourcesOfType(args, AWS.webAclAssociation);
        for (const lb of resourcesOfType(args, AWS.loadBalancer)) {
            if (!isApplication(lb.props) || lb.props.internal === true) continue;
            if (!associations.some((a) => belongsTo(a, lb, "resourceArn", ["arn", "id"]))) report(`load balancer ${lb.name} has no WAF web ACL`, lb.urn);
        }
    },
);

export const asgElbHealthCheck = resourcePolicy(
    {
        name: "asg-elb-health-check",
        description: "Auto Scaling groups behind a load balancer replace hosts the load balancer finds unhealthy. Fix: healthCheckType: \"ELB\" with a healthCheckGracePeriod when targetGroupArns is set.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV2_AWS_15 (Checkov reads classic-ELB attachments; here target groups and loadBalancers)" },
        types: [AWS.autoscalingGroup],
    },
    (props, _args, report) => {
        const behindLb = asList(props.targetGroupArns).length > 0 || asList(props.loadBalancers).length > 0;
        if (behindLb && props.healthCheckType !== "ELB") report(`group is behind a load balancer but healthCheckType is ${JSON.stringify(props.healthCheckType ?? "EC2")}`);
    },
);

export const targetGroupHealthCheck = resourcePolicy(
    {
        name: "target-group-health-check",
        description: "HTTP and HTTPS target groups health-check a path the app answers, so a broken host leaves rotation (and the Auto Scaling group replaces it). Fix: healthCheck: { enabled: true, path: \"/health\", matcher: \"200\" }.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_261" },
        types: [AWS.targetGroup],
    },
    (props, _args, report) => {
        if (!["HTTP", "HTTPS"].includes(String(props.protocol ?? "HTTP")) || props.targetType === "lambda") return;
        if (props.healthCheck?.enabled === false || !props.healthCheck?.path) report("target group defines no health-check path");
    },
);

export const asgLaunchTemplate = resourcePolicy(
    {
        name: "asg-launch-template",
        description: "Auto Scaling groups launch from a launch template (versioned, IMDSv2 and encryption settable; launch configurations are deprecated). Fix: launchTemplate: { id, version } or mixedInstancesPolicy.launchTemplate instead of launchConfiguration.",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_315" },
        types: [AWS.autoscalingGroup],
    },
    (props, _args, report) => {
        const template = props.launchTemplate ?? props.mixedInstancesPolicy?.launchTemplate;
        if (!template) report(props.launchConfiguration ? "group launches from a launch configuration, not a launch template" : "group names no launch template");
    },
);

export const launchTemplateNoPublicIp = resourcePolicy(
    {
        name: "ec2-launch-template-no-public-ip",
        description:
            "Launch templates give their hosts no public IP (networkInterfaces[].associatePublicIpAddress not true): the fleet is reached through the load balancer only. Fix: associatePublicIpAddress: \"false\" and private subnets in the group.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "EC2.9", checkov: "CKV_AWS_88" },
        types: [AWS.launchTemplate],
    },
    (props, _args, report) => {
        for (const ni of props.networkInterfaces ?? []) if (String(ni.associatePublicIpAddress) === "true") report("launch template's network interface asks for a public IP");
    },
);

export const metadataHopLimit = resourcePolicy(
    {
        name: "ec2-metadata-hop-limit",
        description:
            "Launch templates keep the IMDS response hop limit at 1, so a container cannot reach the host's credentials. Advisory: a host that runs containers needing the role may document 2. Fix: metadataOptions.httpPutResponseHopLimit: 1.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_341" },
        types: [AWS.launchTemplate],
    },
    (props, _args, report) => {
        const hops = Number(props.metadataOptions?.httpPutResponseHopLimit ?? 1);
        if (hops > 1) report(`IMDS hop limit is ${hops}, not 1`);
    },
);

export const subnetNoAutoPublicIp = resourcePolicy(
    {
        name: "subnet-no-auto-public-ip",
        description:
            "Subnets do not hand out public IPs on launch: a host landing there by mistake would be internet-facing. Advisory: public subnets for load balancers and NAT gateways need none either. Fix: mapPublicIpOnLaunch: false.",
        enforcementLevel: "advisory",
        controls: { fsbp: "EC2.15", checkov: "CKV_AWS_130" },
        types: [AWS.subnet],
    },
    (props, _args, report) => {
        if (props.mapPublicIpOnLaunch === true) report("subnet assigns public IPs on launch (mapPublicIpOnLaunch is true)");
    },
);

export const instanceProfileSet = resourcePolicy(
    {
        name: "ec2-instance-profile",
        description: "Instances run with an IAM instance profile (SSM access and scoped credentials instead of keys on disk). Fix: iamInstanceProfile on the instance or launch template.",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV2_AWS_41" },
        types: [AWS.instance],
    },
    (props, _args, report) => {
        if (!props.iamInstanceProfile) report("instance has no iamInstanceProfile");
    },
);

export const customerKeysAdvisory = resourcePolicy(
    {
        name: "customer-managed-keys",
        description: "EBS volumes, secrets and trails use a customer-managed KMS key where one can be given; a trail notifies an SNS topic. Advisory: the AWS-managed keys still encrypt. Fix: kmsKeyId on aws.ebs.Volume / aws.secretsmanager.Secret, snsTopicName on the trail.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_189, CKV_AWS_149, CKV_AWS_252" },
        types: [AWS.volume, AWS.secret, AWS.trail],
    },
    (props, args, report) => {
        if (args.type === AWS.trail) {
            if (!props.snsTopicName) report("trail notifies no SNS topic");
            return;
        }
        if (!props.kmsKeyId) report("not encrypted with a customer-managed KMS key (no kmsKeyId)");
    },
);
