import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { appHostPolicy } from "./iam/hostPolicies";
import { scanGateCommand } from "./scanGate/scanGateCommand";
import { APP_BOOT_SERVICE, renderAppHostUserData, secretEnvName } from "./cloudInit/appHostUserData";
import { bootFailureAlarm, hardenedLaunchTemplateArgs, instanceRole } from "./hostBaseline";
import { DISCOVERY_TAG_KEY } from "./monitoringHost";
import { stackPrefix, standardTags } from "./tags";

export interface ObservedAppHostArgs {
    /** Short name of the app: names the repository, log group and host. */
    appName: string;
    /** The image's build context (app/). */
    appDirectory: string;
    vpcId: pulumi.Input<string>;
    /** Both private subnets: the group spreads its hosts over the zones; nothing reaches them from the internet. */
    subnetIds: pulumi.Input<string>[];
    instanceType: string;
    /** The Auto Scaling group's bounds and the average CPU its target tracking holds. */
    minHosts: number;
    maxHosts: number;
    targetCpuPercent: number;
    /** The MonitoringHost's security group: the only one besides the load balancer's that reaches :3000, the only one that reaches :9100. */
    monitoringSecurityGroupId: pulumi.Input<string>;
    /** The front door (AppLoadBalancer): its security group, its target group, and the alarm that stops a bad rollout. */
    loadBalancerSecurityGroupId: pulumi.Input<string>;
    targetGroupArn: pulumi.Input<string>;
    rollbackAlarmNames: pulumi.Input<string>[];
    /** Secret short name → ARN, fetched at boot into the container's environment. */
    secretArns: Record<string, pulumi.Input<string>>;
    /** The vault's read policy for exactly these secrets. */
    secretsReadPolicyJson: pulumi.Input<string>;
    alertTopicArn: pulumi.Input<string>;
    appLogRetentionDays: number;
    platformLogRetentionDays: number;
    ecrKeepImages: number;
    scanMaxCritical: number;
    scanMaxHigh: number;
    cpuAlarmPercent: number;
    /** Start the app with fault injection available (the alert drill). */
    faultInjection: boolean;
    /** Customer-managed key for this host's log groups (LogsEncryptionKey). */
    logsKmsKeyArn?: pulumi.Input<string>;
    /** What the first boot reads and must exist before the instance does: the app secrets' versions. */
    bootPrerequisites?: pulumi.Resource[];
    /** node_exporter from the stack's ECR by digest, its repository, and the scan gate that passed it (HostImageMirror). */
    nodeExporterImage: pulumi.Input<string>;
    nodeExporterRepositoryArn: pulumi.Input<string>;
    nodeExporterGate: pulumi.Resource;
    /** What a push waits for: the registry's scanning configuration (RegistryScanning). */
    scanPrerequisites?: pulumi.Resource[];
}

const wholeAtLeast = (setting: string, value: number, min: number, allowed: string) => {
    if (!Number.isInteger(value) || value < min) throw new Error(`${setting} = ${JSON.stringify(value)}: ${allowed}`);
};

/** The settings every gated repository takes (the app's, and each host-image mirror's). */
export function validateGatedRepositoryArgs(args: Pick<ObservedAppHostArgs, "ecrKeepImages" | "scanMaxCritical" | "scanMaxHigh">): void {
    wholeAtLeast("ecrKeepImages", args.ecrKeepImages, 1, "a whole number of images to keep, at least 1");
    wholeAtLeast("scanMaxCritical", args.scanMaxCritical, 0, "a whole number of CRITICAL findings allowed, 0 or more");
    wholeAtLeast("scanMaxHigh", args.scanMaxHigh, -1, "a whole number of HIGH findings allowed, or -1 for HIGH not gating");
}

/** Bad arguments fail before any resource exists, naming the setting, the value and what is allowed. */
export function validateObservedAppHostArgs(
    args: Pick<ObservedAppHostArgs, "appName" | "ecrKeepImages" | "scanMaxCritical" | "scanMaxHigh" | "cpuAlarmPercent" | "secretArns" | "minHosts" | "maxHosts" | "targetCpuPercent">,
): void {
    // Names the ECR repository and the log group: lower-case, no path separators.
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(args.appName)) {
        throw new Error(`appName = ${JSON.stringify(args.appName)}: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit`);
    }
    validateGatedRepositoryArgs(args);
    if (typeof args.cpuAlarmPercent !== "number" || !(args.cpuAlarmPercent > 0 && args.cpuAlarmPercent <= 100)) {
        throw new Error(`cpuAlarmPercent = ${JSON.stringify(args.cpuAlarmPercent)}: a percentage above 0 and at most 100`);
    }
    wholeAtLeast("minHosts", args.minHosts, 1, "a whole number of hosts, at least 1");
    if (!Number.isInteger(args.maxHosts) || args.maxHosts <= args.minHosts) {
        throw new Error(`maxHosts = ${JSON.stringify(args.maxHosts)}: a whole number above minHosts (${args.minHosts}), so a refresh can launch before it terminates`);
    }
    if (!(args.targetCpuPercent >= 10 && args.targetCpuPercent <= 90)) throw new Error(`targetCpuPercent = ${JSON.stringify(args.targetCpuPercent)}: a percentage from 10 to 90`);
    for (const name of Object.keys(args.secretArns)) {
        if (!/^[a-z0-9][a-z0-9-]*$/i.test(name)) throw new Error(`secretArns key ${JSON.stringify(name)}: letters, digits and '-' (it becomes the env var ${name.toUpperCase()})`);
    }
}

/** The app's port and node_exporter's on each host. */
export const APP_PORT = 3000;
export const NODE_EXPORTER_PORT = 9100;
/** Seconds after launch before a failed ELB health check counts: first boot upgrades packages and pulls the image. */
export const HEALTH_CHECK_GRACE_SECONDS = 600;
/** Seconds a healthy new host warms up before the refresh moves on (and before its metrics count for scaling). */
export const INSTANCE_WARMUP_SECONDS = 60;

/**
 * Files that make up the image: at least what .dockerignore admits (plus the Dockerfile and
 * .dockerignore itself). Hashing more than the build sees only costs a new tag; hashing less
 * would rebuild a different image under an existing IMMUTABLE tag and fail the push.
 */
export const IMAGE_INPUTS = [".dockerignore", "Dockerfile", "package.json", "package-lock.json", "tsconfig.json", "src"];

/** A content tag: the same sources give the same tag, any change a new one (IMMUTABLE tags). */
export function imageContentTag(appDirectory: string): string {
    const hash = crypto.createHash("sha256");
    const visit = (rel: string) => {
        const full = path.join(appDirectory, rel);
        if (!fs.existsSync(full)) return;
        if (fs.statSync(full).isDirectory()) {
            for (const entry of fs.readdirSync(full).sort()) visit(path.join(rel, entry));
        } else {
            hash.update(rel).update("\0").update(fs.readFileSync(full)).update("\0");
        }
    };
    IMAGE_INPUTS.forEach(visit);
    return `src-${hash.digest("hex").slice(0, 16)}`;
}

/** ECR lifecycle: keep the newest N images, expire the rest. */
export function ecrLifecyclePolicy(keepImages: number): string {
    return JSON.stringify({
        rules: [
            {
                rulePriority: 1,
                description: `Keep the newest ${keepImages} images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
                action: { type: "expire" },
            },
        ],
    });
}

/**
 * The app's ECR repository, its image (built, pushed by content tag, gated on the scan), and the
 * hosts that run it: a launch template and an Auto Scaling group over both private subnets behind
 * the front door's target group, with node_exporter, logs to CloudWatch, target-tracking on CPU,
 * launch-before-terminate instance refreshes that roll back on the unhealthy-host alarm, and
 * group-level alarms to the alerts topic.
 */
export class ObservedAppHost extends pulumi.ComponentResource {
    readonly repositoryUrl: pulumi.Output<string>;
    readonly imageDigest: pulumi.Output<string>;
    readonly autoScalingGroupName: pulumi.Output<string>;
    readonly launchTemplateId: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;
    readonly appLogGroupName: pulumi.Output<string>;
    readonly platformLogGroupName: pulumi.Output<string>;

    constructor(name: string, args: ObservedAppHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Before super(): bad arguments leave no half-registered component behind.
        validateObservedAppHostArgs(args);
        super("devsecops:hosts:ObservedAppHost", name, {}, opts);
        const parent = { parent: this };
        const tags = (extra: Record<string, string> = {}) => standardTags("app-host", extra);
        const prefix = stackPrefix();
        const stack = pulumi.getStack();
        const region = aws.getRegionOutput({}, parent).region;

        const repository = new aws.ecr.Repository(`${name}-repo`, {
            name: `${prefix}/${args.appName}`.toLowerCase(),
            imageTagMutability: "IMMUTABLE",
            imageScanningConfiguration: { scanOnPush: true },
            encryptionConfigurations: [{ encryptionType: "KMS" }],
            forceDelete: false,
            tags: tags(),
            // Fixed name: a replacement must delete first (and fails while images remain: forceDelete is off on purpose).
        }, { parent: this, deleteBeforeReplace: true });
        new aws.ecr.LifecyclePolicy(`${name}-repo`, { repository: repository.name, policy: ecrLifecyclePolicy(args.ecrKeepImages) }, parent);

        const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, parent);
        const tag = imageContentTag(args.appDirectory);
        const image = new docker.Image(`${name}-image`, {
            imageName: pulumi.interpolate`${repository.repositoryUrl}:${tag}`,
            build: { context: args.appDirectory, dockerfile: path.join(args.appDirectory, "Dockerfile"), platform: "linux/amd64" },
            registry: { server: repository.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) },
            // Pushed after the registry scans the way ecrScanning says, so the first scan is the right kind.
        }, { parent: this, dependsOn: args.scanPrerequisites });

        const scanGate = scanGateCommand(`${name}-scan-gate`, {
            images: { [args.appName]: image.repoDigest },
            region,
            maxCritical: args.scanMaxCritical,
            maxHigh: args.scanMaxHigh,
            dependsOn: args.scanPrerequisites,
        }, parent);

        const appLogs = new aws.cloudwatch.LogGroup(`${name}-app-logs`, {
            name: `/aws/ec2/${stack}/${args.appName}`,
            retentionInDays: args.appLogRetentionDays,
            kmsKeyId: args.logsKmsKeyArn,
            tags: tags(),
        }, { parent: this, deleteBeforeReplace: true });
        const platformLogs = new aws.cloudwatch.LogGroup(`${name}-platform-logs`, {
            name: `/aws/ec2/${stack}/${args.appName}-host`,
            retentionInDays: args.platformLogRetentionDays,
            kmsKeyId: args.logsKmsKeyArn,
            tags: tags(),
        }, { parent: this, deleteBeforeReplace: true });

        // Egress in-line, ingress as separate rules only: one style per direction, or the group's update
        // revokes the separate rules (deployability/securityGroupRules.ts).
        const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
            vpcId: args.vpcId,
            description: "App hosts: the app from the load balancer and the monitoring host, node_exporter from the monitoring host",
            egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "Outbound through NAT or endpoints" }],
            tags: tags({ Name: `${prefix}-${args.appName}` }),
        }, parent);
        const ingress = [
            { what: "app-from-lb", port: APP_PORT, from: args.loadBalancerSecurityGroupId, description: "app through the load balancer (requests and health checks)" },
            { what: "app-from-monitoring", port: APP_PORT, from: args.monitoringSecurityGroupId, description: "app scraped by the monitoring host" },
            { what: "node-exporter-from-monitoring", port: NODE_EXPORTER_PORT, from: args.monitoringSecurityGroupId, description: "node-exporter scraped by the monitoring host" },
        ];
        for (const rule of ingress) {
            new aws.vpc.SecurityGroupIngressRule(`${name}-${rule.what}`, {
                securityGroupId: sg.id,
                referencedSecurityGroupId: rule.from,
                ipProtocol: "tcp",
                fromPort: rule.port,
                toPort: rule.port,
                description: rule.description,
                tags: tags(),
            }, parent);
        }
        // The load balancer's only way out: to the app hosts' port.
        new aws.vpc.SecurityGroupEgressRule(`${name}-lb-to-app`, {
            securityGroupId: args.loadBalancerSecurityGroupId,
            referencedSecurityGroupId: sg.id,
            ipProtocol: "tcp",
            fromPort: APP_PORT,
            toPort: APP_PORT,
            description: "requests and health checks to the app hosts",
            tags: tags(),
        }, parent);

        const { role, profile } = instanceRole(name, tags(), this);
        const pullPolicy = new aws.iam.RolePolicy(`${name}-pull-and-log`, {
            role: role.id,
            policy: pulumi
                .all([repository.arn, args.nodeExporterRepositoryArn, appLogs.arn, platformLogs.arn])
                .apply(([repositoryArn, nodeExporterArn, a, p]) => appHostPolicy({ repositoryArns: [repositoryArn, nodeExporterArn], logGroupArns: [a, p] })),
        }, parent);
        const secretsPolicy = new aws.iam.RolePolicy(`${name}-secrets`, { role: role.id, policy: args.secretsReadPolicyJson }, parent);

        const secretEnv = pulumi.all(
            Object.fromEntries(Object.entries(args.secretArns).map(([shortName, arn]) => [secretEnvName(shortName), arn])),
        );
        const hostName = `${prefix}-${args.appName}`;
        const hostTags = { Name: hostName, Role: "app", [DISCOVERY_TAG_KEY]: prefix };
        const launchTemplate = new aws.ec2.LaunchTemplate(`${name}-hosts`, {
            ...hardenedLaunchTemplateArgs(this),
            instanceType: args.instanceType,
            iamInstanceProfile: { arn: profile.arn },
            // No public address; subnets come from the group (private ones).
            networkInterfaces: [{ deviceIndex: 0, associatePublicIpAddress: "false", deleteOnTermination: "true", securityGroups: [sg.id] }],
            userData: pulumi
                .all([region, image.repoDigest, secretEnv, appLogs.name, platformLogs.name, args.nodeExporterImage])
                .apply(([r, digest, secretArns, appLogGroup, platformLogGroup, nodeExporterImage]) =>
                    Buffer.from(
                        renderAppHostUserData({ region: r, hostName, imageRef: digest, appVersion: tag, secretArns, appLogGroup, platformLogGroup, faultInjection: args.faultInjection, nodeExporterImage }),
                    ).toString("base64"),
                ),
            tagSpecifications: [{ resourceType: "volume", tags: tags(hostTags) }],
            // Each new digest or AMI is a new numbered version; the group names it (never $Latest) so a refresh can roll back.
            updateDefaultVersion: true,
            tags: tags(),
            // A version with a new image exists only after the scan gate passed it; its first boot reads the
            // role's grants and the secrets (IAM is eventually consistent), so they come first too.
        }, { parent: this, dependsOn: [scanGate, args.nodeExporterGate, pullPolicy, secretsPolicy, ...(args.bootPrerequisites ?? [])] });

        const group = new aws.autoscaling.Group(`${name}-hosts`, {
            vpcZoneIdentifiers: args.subnetIds,
            minSize: args.minHosts,
            maxSize: args.maxHosts,
            // No desiredCapacity: target tracking owns it, and an update must not reset it to the minimum.
            launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
            targetGroupArns: [args.targetGroupArn],
            healthCheckType: "ELB",
            // First boot upgrades packages and pulls the image before /health answers.
            healthCheckGracePeriod: HEALTH_CHECK_GRACE_SECONDS,
            defaultInstanceWarmup: INSTANCE_WARMUP_SECONDS,
            // `pulumi up` returns once the minimum is healthy behind the load balancer.
            minElbCapacity: args.minHosts,
            waitForCapacityTimeout: "20m",
            enabledMetrics: ["GroupInServiceInstances", "GroupDesiredCapacity", "GroupPendingInstances", "GroupTerminatingInstances"],
            instanceRefresh: {
                // Launch before terminate: never fewer healthy hosts than desired, at most twice as many
                // (EC2 Auto Scaling User Guide, "Instance refresh": MinHealthyPercentage 100 with MaxHealthyPercentage 200).
                strategy: "Rolling",
                preferences: {
                    minHealthyPercentage: 100,
                    maxHealthyPercentage: 200,
                    instanceWarmup: String(INSTANCE_WARMUP_SECONDS),
                    autoRollback: true,
                    alarmSpecification: { alarms: args.rollbackAlarmNames },
                    skipMatching: true,
                },
            },
            tags: Object.entries({ ...tags(), ...hostTags }).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
        }, parent);

        new aws.autoscaling.Policy(`${name}-cpu-target`, {
            autoscalingGroupName: group.name,
            policyType: "TargetTrackingScaling",
            targetTrackingConfiguration: {
                predefinedMetricSpecification: { predefinedMetricType: "ASGAverageCPUUtilization" },
                targetValue: args.targetCpuPercent,
            },
        }, parent);

        // Group-level alarms: per-instance ones would not survive the first replacement.
        const alarmActions = [args.alertTopicArn];
        new aws.cloudwatch.MetricAlarm(`${name}-cpu`, {
            alarmDescription: `Average CPU above ${args.cpuAlarmPercent}% for 10 minutes across ${hostName} (scaling out did not keep up, or the group is at appMaxHosts)`,
            namespace: "AWS/EC2",
            metricName: "CPUUtilization",
            dimensions: { AutoScalingGroupName: group.name },
            statistic: "Average",
            period: 60,
            evaluationPeriods: 10,
            threshold: args.cpuAlarmPercent,
            comparisonOperator: "GreaterThanThreshold",
            alarmActions,
            okActions: alarmActions,
            tags: tags(),
        }, parent);
        new aws.cloudwatch.MetricAlarm(`${name}-status`, {
            alarmDescription: `Status check failed on a ${hostName} host (the group replaces it once the load balancer finds it unhealthy)`,
            namespace: "AWS/EC2",
            metricName: "StatusCheckFailed",
            dimensions: { AutoScalingGroupName: group.name },
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 2,
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
            alarmActions,
            okActions: alarmActions,
            tags: tags(),
        }, parent);
        bootFailureAlarm(name, { bootServiceName: APP_BOOT_SERVICE, hostName, alertTopicArn: args.alertTopicArn, tags: tags() }, this);

        this.repositoryUrl = repository.repositoryUrl;
        this.imageDigest = image.repoDigest;
        this.autoScalingGroupName = group.name;
        this.launchTemplateId = launchTemplate.id;
        this.securityGroupId = sg.id;
        this.appLogGroupName = appLogs.name;
        this.platformLogGroupName = platformLogs.name;
        this.registerOutputs({
            repositoryUrl: this.repositoryUrl,
            imageDigest: this.imageDigest,
            autoScalingGroupName: this.autoScalingGroupName,
        });
    }
}
