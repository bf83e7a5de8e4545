import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { denyInsecureTransportStatement, policyDocument } from "./policyDocument";
import { stackPrefix, standardTags } from "./tags";

export interface AppLoadBalancerArgs {
    vpcId: pulumi.Input<string>;
    /** Both public subnets: the load balancer has a node in each zone. */
    publicSubnetIds: pulumi.Input<string>[];
    /** The app's port on its hosts (the target group forwards there). */
    appPort: number;
    /** The app's health path, checked by the target group. */
    healthPath: string;
    /** Paths the front door never forwards (answered 404 by a listener rule); Prometheus scrapes them inside the VPC. */
    internalPaths: string[];
    /** Deregistration delay: how long a leaving host still finishes requests it was given. */
    deregistrationDelaySeconds: number;
    domainName?: string;
    hostedZoneId?: string;
    certificateArn?: string;
    /**
     * Operators' host names served on the same listener (Grafana's, by GrafanaRoute): added to the
     * certificate the stack issues, and outside the common rule set's body checks (Grafana's API
     * posts dashboards larger than the 8 KB SizeRestrictions_BODY allows).
     */
    operatorHostNames?: string[];
    deletionProtection: boolean;
    enableWaf: boolean;
    wafRateLimitPerIp: number;
    accessLogExpirationDays: number;
    /** Alarms: the latency threshold for target response time p95. */
    latencyThresholdSeconds: number;
    alertTopicArn: pulumi.Input<string>;
    platformLogRetentionDays: number;
    logsKmsKeyArn?: pulumi.Input<string>;
}

export function validateAppLoadBalancerArgs(args: Pick<AppLoadBalancerArgs, "internalPaths" | "domainName" | "hostedZoneId" | "deregistrationDelaySeconds">): void {
    // One rule per path (a condition takes at most three values: ELB User Guide, "Condition types for
    // listener rules"), in the priorities below Grafana's rules.
    if (args.internalPaths.length === 0 || args.internalPaths.length > MAX_INTERNAL_PATHS || args.internalPaths.some((p) => !/^\/[A-Za-z0-9._-]+$/.test(p))) {
        throw new Error(`internalPaths = ${JSON.stringify(args.internalPaths)}: one to ${MAX_INTERNAL_PATHS} paths such as /metrics (each also blocks what lies below it)`);
    }
    if ((args.domainName === undefined) !== (args.hostedZoneId === undefined)) {
        throw new Error(`domainName = ${JSON.stringify(args.domainName)}, hostedZoneId = ${JSON.stringify(args.hostedZoneId)}: both or neither`);
    }
    if (!Number.isInteger(args.deregistrationDelaySeconds) || args.deregistrationDelaySeconds < 0 || args.deregistrationDelaySeconds > 3600) {
        throw new Error(`deregistrationDelaySeconds = ${args.deregistrationDelaySeconds}: a whole number of seconds from 0 to 3600`);
    }
}

/** Internal paths each get a rule, at priorities 11 and up (Grafana's start at 20). */
export const MAX_INTERNAL_PATHS = 5;
const INTERNAL_PATH_PRIORITY = 11;

/** An internal path and everything below it: two values of one path-pattern condition. */
export function internalPathPatterns(path: string): string[] {
    return [path, `${path}/*`];
}

/**
 * A target group of instances answering HTTP on `port`, health-checked on `healthPath` (200 within
 * 5 s, healthy after 2 passes): the front door's targets (the app fleet, and Grafana by GrafanaRoute).
 */
export function instanceTargetGroupArgs(p: {
    vpcId: pulumi.Input<string>;
    port: number;
    healthPath: string;
    deregistrationDelaySeconds: number;
    healthCheckIntervalSeconds: number;
    unhealthyThreshold: number;
}): aws.lb.TargetGroupArgs {
    return {
        vpcId: p.vpcId,
        targetType: "instance",
        protocol: "HTTP",
        port: p.port,
        deregistrationDelay: p.deregistrationDelaySeconds,
        healthCheck: {
            enabled: true,
            path: p.healthPath,
            port: "traffic-port",
            protocol: "HTTP",
            matcher: "200",
            interval: p.healthCheckIntervalSeconds,
            timeout: 5,
            healthyThreshold: 2,
            unhealthyThreshold: p.unhealthyThreshold,
        },
    };
}

/**
 * ELB's log-delivery accounts of the Regions opened before August 2022 (ELB User Guide, "Enable
 * access logs for your Application Load Balancer", step 2); Regions opened since take the service
 * principal logdelivery.elasticloadbalancing.amazonaws.com instead.
 */
export const ELB_LOG_DELIVERY_ACCOUNTS: Readonly<Record<string, string>> = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
};

/** The principal that writes this Region's ALB access logs. */
export function albLogDeliveryPrincipal(region: string): { AWS: string } | { Service: string } {
    const account = ELB_LOG_DELIVERY_ACCOUNTS[region];
    if (account === undefined) return { Service: "logdelivery.elasticloadbalancing.amazonaws.com" };
    const partition = region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
    return { AWS: `arn:${partition}:iam::${account}:root` };
}

/** The access-log prefix inside the bucket (ELB writes under <prefix>/AWSLogs/<account>/). */
export const ACCESS_LOG_PREFIX = "alb";

/** Only ELB's log delivery may write, only under this account's prefix; nothing without TLS. */
export function albLogsBucketPolicy(p: { bucketArn: string; accountId: string; region: string }): string {
    return policyDocument([
        {
            Sid: "ElbLogDeliveryWrites",
            Effect: "Allow",
            Principal: albLogDeliveryPrincipal(p.region),
            Action: "s3:PutObject",
            Resource: `${p.bucketArn}/${ACCESS_LOG_PREFIX}/AWSLogs/${p.accountId}/*`,
        },
        denyInsecureTransportStatement(p.bucketArn),
    ]);
}

/** AWS managed rule groups the web ACL runs, in priority order (WAF Developer Guide, "AWS Managed Rules rule groups list"). */
export const WAF_MANAGED_RULE_GROUPS = ["AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"] as const;

/**
 * The web ACL's rules: a per-IP rate limit first, then the managed groups (their own actions). The
 * common rule set is scoped down to requests not for an operator host name (WAF Developer Guide,
 * "Using scope-down statements in managed rule groups"): its SizeRestrictions_BODY blocks every body
 * over 8 KB, and Grafana's dashboard API sends more. Those hosts keep the rate limit, the IP
 * reputation and known-bad-input groups, the listener's source-IP condition and Grafana's login.
 */
export function webAclRules(rateLimitPerIp: number, metricPrefix: string, operatorHostNames: string[] = []): aws.types.input.wafv2.WebAclRule[] {
    const visibility = (name: string) => ({ cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${metricPrefix}-${name}` });
    return [
        {
            name: "rate-limit-per-ip",
            priority: 0,
            action: { block: {} },
            statement: { rateBasedStatement: { limit: rateLimitPerIp, aggregateKeyType: "IP", evaluationWindowSec: 300 } },
            visibilityConfig: visibility("rate-limit"),
        },
        ...WAF_MANAGED_RULE_GROUPS.map((group, i) => ({
            name: group,
            priority: i + 1,
            overrideAction: { none: {} },
            statement: {
                managedRuleGroupStatement: {
                    vendorName: "AWS",
                    name: group,
                    scopeDownStatement: group === "AWSManagedRulesCommonRuleSet" && operatorHostNames.length > 0 ? notForHosts(operatorHostNames) : undefined,
                },
            },
            visibilityConfig: visibility(group),
        })),
    ];
}

type ScopeDown = aws.types.input.wafv2.WebAclRuleStatementManagedRuleGroupStatementScopeDownStatement;

/** Requests whose Host header is none of `hosts` (compared lower-cased, exactly). */
function notForHosts(hosts: string[]): ScopeDown {
    const isHost = (host: string): ScopeDown => ({
        byteMatchStatement: {
            fieldToMatch: { singleHeader: { name: "host" } },
            positionalConstraint: "EXACTLY",
            searchString: host,
            textTransformations: [{ priority: 0, type: "LOWERCASE" }],
        },
    });
    return { notStatement: { statement: hosts.length === 1 ? isHost(hosts[0]) : { orStatement: { statements: hosts.map(isHost) } } } };
}

/**
 * The front door: an internet-facing ALB over both public subnets (80 and 443 from anywhere, the
 * stack's only internet ingress), HTTPS with a TLS 1.3 policy and HTTP that only redirects when a
 * certificate is set (else plain HTTP, said in `tls`), internal paths answered 404, WAF, access logs
 * in their own bucket, and alarms on unhealthy hosts, 5xx and latency.
 */
export class AppLoadBalancer extends pulumi.ComponentResource {
    readonly loadBalancerArn: pulumi.Output<string>;
    readonly loadBalancerArnSuffix: pulumi.Output<string>;
    readonly dnsName: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;
    readonly targetGroupArn: pulumi.Output<string>;
    readonly targetGroupArnSuffix: pulumi.Output<string>;
    /** The URL clients use: https://<domainName> with TLS, else http://<ALB DNS name>. */
    readonly url: pulumi.Output<string>;
    readonly zoneId: pulumi.Output<string>;
    /** The HTTPS listener, when there is a certificate: operator routes (GrafanaRoute) attach here. */
    readonly httpsListenerArn?: pulumi.Output<string>;
    readonly tls: boolean;
    readonly webAclArn?: pulumi.Output<string>;
    readonly accessLogBucketName: pulumi.Output<string>;
    /** Fires when any target is unhealthy: the instance refresh's rollback alarm. */
    readonly unhealthyHostsAlarmName: pulumi.Output<string>;
    readonly wafLogGroupName?: pulumi.Output<string>;

    constructor(name: string, args: AppLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        validateAppLoadBalancerArgs(args);
        super("devsecops:frontdoor:AppLoadBalancer", name, {}, opts);
        const parent = { parent: this };
        const tags = (extra: Record<string, string> = {}) => standardTags("front-door", extra);
        const prefix = stackPrefix();
        const region = aws.getRegionOutput({}, parent).region;
        const accountId = aws.getCallerIdentityOutput({}, parent).accountId;

        // Access logs: SSE-S3 is the only encryption ELB log delivery accepts (ELB User Guide, "Enable access logs").
        const logs = new aws.s3.Bucket(`${name}-access-logs`, { forceDestroy: false, tags: tags() }, parent);
        const ownership = new aws.s3.BucketOwnershipControls(`${name}-access-logs`, { bucket: logs.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, parent);
        const publicBlock = new aws.s3.BucketPublicAccessBlock(`${name}-access-logs`, {
            bucket: logs.id,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        }, parent);
        const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-access-logs`, {
            bucket: logs.id,
            rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        }, parent);
        // Versioned like the audit bucket: a deleted or overwritten log stays recoverable until the lifecycle expires it.
        const versioning = new aws.s3.BucketVersioning(`${name}-access-logs`, {
            bucket: logs.id,
            versioningConfiguration: { status: "Enabled" },
        }, parent);
        new aws.s3.BucketLifecycleConfiguration(`${name}-access-logs`, {
            bucket: logs.id,
            rules: [{
                id: "expire-access-logs",
                status: "Enabled",
                filter: { prefix: "" },
                expiration: { days: args.accessLogExpirationDays },
                noncurrentVersionExpiration: { noncurrentDays: args.accessLogExpirationDays },
                abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
            }],
        }, { parent: this, dependsOn: [versioning] });
        const logsPolicy = new aws.s3.BucketPolicy(`${name}-access-logs`, {
            bucket: logs.id,
            policy: pulumi.all([logs.arn, accountId, region]).apply(([bucketArn, account, r]) => albLogsBucketPolicy({ bucketArn, accountId: account, region: r })),
        }, { parent: this, dependsOn: [publicBlock] });

        const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
            vpcId: args.vpcId,
            description: "Front door: HTTP and HTTPS from the internet; out only to the app hosts",
            tags: tags({ Name: `${prefix}-front-door` }),
        }, parent);
        for (const port of [80, 443]) {
            new aws.vpc.SecurityGroupIngressRule(`${name}-${port}-from-internet`, {
                securityGroupId: sg.id,
                cidrIpv4: "0.0.0.0/0",
                ipProtocol: "tcp",
                fromPort: port,
                toPort: port,
                description: port === 80 ? "HTTP (redirected to HTTPS when a certificate is set)" : "HTTPS",
                tags: tags(),
            }, parent);
        }

        const lb = new aws.lb.LoadBalancer(`${name}-alb`, {
            loadBalancerType: "application",
            internal: false,
            securityGroups: [sg.id],
            subnets: args.publicSubnetIds,
            dropInvalidHeaderFields: true,
            desyncMitigationMode: "strictest",
            enableDeletionProtection: args.deletionProtection,
            // Below the app's keep-alive timeout (65 s), so the app never closes a connection the ALB reuses.
            idleTimeout: 60,
            accessLogs: { bucket: logs.id, prefix: ACCESS_LOG_PREFIX, enabled: true },
            tags: tags({ Name: `${prefix}-front-door` }),
            // ELB checks it may write to the bucket when logging is turned on: the policy must exist first.
        }, { parent: this, dependsOn: [logsPolicy, ownership, encryption] });

        const targetGroup = new aws.lb.TargetGroup(`${name}-app`, {
            ...instanceTargetGroupArgs({
                vpcId: args.vpcId,
                port: args.appPort,
                healthPath: args.healthPath,
                deregistrationDelaySeconds: args.deregistrationDelaySeconds,
                healthCheckIntervalSeconds: 10,
                unhealthyThreshold: 2,
            }),
            tags: tags(),
        }, parent);

        // TLS: a certificate given, or one issued for domainName and validated in its zone.
        let certificateArn: pulumi.Input<string> | undefined = args.certificateArn;
        if (certificateArn === undefined && args.domainName !== undefined && args.hostedZoneId !== undefined) {
            const names = [args.domainName, ...(args.operatorHostNames ?? [])];
            const certificate = new aws.acm.Certificate(`${name}-cert`, {
                domainName: names[0],
                subjectAlternativeNames: names.slice(1),
                validationMethod: "DNS",
                tags: tags(),
            }, parent);
            // One validation record per name (ACM User Guide, "DNS validation").
            const records = names.map((domain, i) => {
                const option = certificate.domainValidationOptions.apply((options) => {
                    const o = options.find((v) => v.domainName === domain);
                    if (!o) throw new Error(`ACM returned no DNS validation record for ${domain}`);
                    return o;
                });
                return new aws.route53.Record(`${name}-cert-validation${i === 0 ? "" : `-${i}`}`, {
                    zoneId: args.hostedZoneId!,
                    name: option.resourceRecordName,
                    type: option.resourceRecordType,
                    records: [option.resourceRecordValue],
                    ttl: 300,
                    // The same name is written again by a replacement certificate for the same domain.
                    allowOverwrite: true,
                }, parent);
            });
            certificateArn = new aws.acm.CertificateValidation(`${name}-cert`, {
                certificateArn: certificate.arn,
                validationRecordFqdns: records.map((r) => r.fqdn),
            }, parent).certificateArn;
        }
        this.tls = certificateArn !== undefined;

        const forward = [{ type: "forward", targetGroupArn: targetGroup.arn }];
        let serving: aws.lb.Listener;
        if (certificateArn !== undefined) {
            serving = new aws.lb.Listener(`${name}-https`, {
                loadBalancerArn: lb.arn,
                port: 443,
                protocol: "HTTPS",
                // TLS 1.3 and 1.2 only (ELB User Guide, "Security policies for your Application Load Balancer").
                sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
                certificateArn,
                defaultActions: forward,
                tags: tags(),
            }, parent);
            this.httpsListenerArn = serving.arn;
            new aws.lb.Listener(`${name}-http`, {
                loadBalancerArn: lb.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
                tags: tags(),
            }, parent);
        } else {
            serving = new aws.lb.Listener(`${name}-http`, {
                loadBalancerArn: lb.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: forward,
                tags: tags(),
            }, parent);
        }
        args.internalPaths.forEach((path, i) => {
            new aws.lb.ListenerRule(`${name}-internal-path-${i}`, {
                listenerArn: serving.arn,
                priority: INTERNAL_PATH_PRIORITY + i,
                conditions: [{ pathPattern: { values: internalPathPatterns(path) } }],
                actions: [{ type: "fixed-response", fixedResponse: { statusCode: "404", contentType: "text/plain", messageBody: "Not Found" } }],
                tags: tags(),
            }, parent);
        });

        if (args.domainName !== undefined && args.hostedZoneId !== undefined) {
            new aws.route53.Record(`${name}-alias`, {
                zoneId: args.hostedZoneId,
                name: args.domainName,
                type: "A",
                aliases: [{ name: lb.dnsName, zoneId: lb.zoneId, evaluateTargetHealth: true }],
            }, parent);
        }

        if (args.enableWaf) {
            // WAF logs to CloudWatch only into groups named aws-waf-logs-* (WAF Developer Guide, "Sending web ACL traffic logs to CloudWatch Logs").
            const wafLogs = new aws.cloudwatch.LogGroup(`${name}-waf-logs`, {
                name: `aws-waf-logs-${prefix}`,
                retentionInDays: args.platformLogRetentionDays,
                kmsKeyId: args.logsKmsKeyArn,
                tags: tags(),
            }, { parent: this, deleteBeforeReplace: true });
            const acl = new aws.wafv2.WebAcl(`${name}-waf`, {
                scope: "REGIONAL",
                defaultAction: { allow: {} },
                rules: webAclRules(args.wafRateLimitPerIp, prefix, args.operatorHostNames),
                visibilityConfig: { cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${prefix}-front-door` },
                tags: tags(),
            }, parent);
            new aws.wafv2.WebAclAssociation(`${name}-waf`, { resourceArn: lb.arn, webAclArn: acl.arn }, parent);
            new aws.wafv2.WebAclLoggingConfiguration(`${name}-waf`, { resourceArn: acl.arn, logDestinationConfigs: [wafLogs.arn] }, parent);
            this.webAclArn = acl.arn;
            this.wafLogGroupName = wafLogs.name;
        }

        const alarm = (what: string, a: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "tags" | "namespace">) =>
            new aws.cloudwatch.MetricAlarm(`${name}-${what}`, {
                namespace: "AWS/ApplicationELB",
                alarmActions: [args.alertTopicArn],
                okActions: [args.alertTopicArn],
                tags: tags(),
                ...a,
            }, parent);
        const targetDimensions = { LoadBalancer: lb.arnSuffix, TargetGroup: targetGroup.arnSuffix };
        // The security guide's alarm; also the instance refresh's rollback trigger.
        const unhealthy = alarm("unhealthy-hosts", {
            alarmDescription: `At least one app host fails ${args.healthPath} behind ${prefix}-front-door`,
            metricName: "UnHealthyHostCount",
            dimensions: targetDimensions,
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 2,
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            treatMissingData: "notBreaching",
        });
        // 5xx from the hosts and from the balancer itself: at least 10 a minute in 3 of 5 minutes.
        const sustained5xx = {
            statistic: "Sum",
            period: 60,
            evaluationPeriods: 5,
            datapointsToAlarm: 3,
            threshold: 10,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            treatMissingData: "notBreaching",
        };
        alarm("target-5xx", {
            alarmDescription: `App hosts answered 5xx through ${prefix}-front-door`,
            metricName: "HTTPCode_Target_5XX_Count",
            dimensions: targetDimensions,
            ...sustained5xx,
        });
        alarm("elb-5xx", {
            alarmDescription: `The load balancer itself answered 5xx (no healthy host, host reset, timeout) on ${prefix}-front-door`,
            metricName: "HTTPCode_ELB_5XX_Count",
            dimensions: { LoadBalancer: lb.arnSuffix },
            ...sustained5xx,
        });
        alarm("latency-p95", {
            alarmDescription: `Target response time p95 above ${args.latencyThresholdSeconds} s on ${prefix}-front-door`,
            metricName: "TargetResponseTime",
            dimensions: targetDimensions,
            extendedStatistic: "p95",
            period: 60,
            evaluationPeriods: 5,
            datapointsToAlarm: 3,
            threshold: args.latencyThresholdSeconds,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        });

        this.loadBalancerArn = lb.arn;
        this.loadBalancerArnSuffix = lb.arnSuffix;
        this.dnsName = lb.dnsName;
        this.zoneId = lb.zoneId;
        this.securityGroupId = sg.id;
        this.targetGroupArn = targetGroup.arn;
        this.targetGroupArnSuffix = targetGroup.arnSuffix;
        this.url = args.domainName !== undefined && this.tls ? pulumi.output(`https://${args.domainName}`) : this.tls ? pulumi.interpolate`https://${lb.dnsName}` : pulumi.interpolate`http://${lb.dnsName}`;
        this.accessLogBucketName = logs.bucket;
        this.unhealthyHostsAlarmName = unhealthy.name;
        this.registerOutputs({
            loadBalancerArn: this.loadBalancerArn,
            targetGroupArn: this.targetGroupArn,
            url: this.url,
            webAclArn: this.webAclArn,
        });
    }
}
