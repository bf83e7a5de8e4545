import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { appHostPolicy } from "./iam/hostPolicies";
import { renderAppHostUserData, secretEnvName } from "./cloudInit/appHostUserData";
import { bootFailureAlarm, hardenedInstanceArgs, instanceRole } from "./hostBaseline";
import { DISCOVERY_TAG_KEY } from "./monitoringHost";
import { stackPrefix, standardTags } from "./tags";

export interface ObservedAppHostArgs {
    /** Short name of the app: names the repository, log group and host. */
    appName: string;
    /** The image's build context (app/). */
    appDirectory: string;
    vpcId: pulumi.Input<string>;
    /** Private: nothing reaches it from the internet. */
    subnetId: pulumi.Input<string>;
    instanceType: string;
    /** Only this security group (the MonitoringHost's) may reach :3000 and :9100. */
    monitoringSecurityGroupId: pulumi.Input<string>;
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
}

/** Bad arguments fail before any resource exists, naming the setting, the value and what is allowed. */
export function validateObservedAppHostArgs(
    args: Pick<ObservedAppHostArgs, "appName" | "ecrKeepImages" | "scanMaxCritical" | "scanMaxHigh" | "cpuAlarmPercent" | "secretArns">,
): void {
    const wholeAtLeast = (setting: string, value: number, min: number, allowed: string) => {
        if (!Number.isInteger(value) || value < min) throw new Error(`${setting} = ${JSON.stringify(value)}: ${allowed}`);
    };
    // Names the ECR repository and the log group: lower-case, no path separators.
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(args.appName)) {
        throw new Error(`appName = ${JSON.stringify(args.appName)}: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit`);
    }
    wholeAtLeast("ecrKeepImages", args.ecrKeepImages, 1, "a whole number of images to keep, at least 1");
    wholeAtLeast("scanMaxCritical", args.scanMaxCritical, 0, "a whole number of CRITICAL findings allowed, 0 or more");
    wholeAtLeast("scanMaxHigh", args.scanMaxHigh, -1, "a whole number of HIGH findings allowed, or -1 for HIGH not gating");
    if (typeof args.cpuAlarmPercent !== "number" || !(args.cpuAlarmPercent > 0 && args.cpuAlarmPercent <= 100)) {
        throw new Error(`cpuAlarmPercent = ${JSON.stringify(args.cpuAlarmPercent)}: a percentage above 0 and at most 100`);
    }
    for (const name of Object.keys(args.secretArns)) {
        if (!/^[a-z0-9][a-z0-9-]*$/i.test(name)) throw new Error(`secretArns key ${JSON.stringify(name)}: letters, digits and '-' (it becomes the env var ${name.toUpperCase()})`);
    }
}

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
 * The app's ECR repository, its image (built, pushed by content tag, gated on the
 * scan), and the EC2 host that runs it privately with node_exporter, logs to
 * CloudWatch, and CPU/status alarms to the alerts topic.
 */
export class ObservedAppHost extends pulumi.ComponentResource {
    readonly repositoryUrl: pulumi.Output<string>;
    readonly imageDigest: pulumi.Output<string>;
    readonly instanceId: pulumi.Output<string>;
    readonly privateIp: pulumi.Output<string>;
    readonly appUrl: pulumi.Output<string>;
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
        }, parent);

        const scanGate = new command.local.Command(`${name}-scan-gate`, {
            // Resolved as a module, so moving or renaming the gate fails here, not at deploy time.
            create: `node -r ts-node/register/transpile-only ${JSON.stringify(require.resolve("./scanGate/ecrScanGate"))}`,
            environment: {
                REPOSITORY: repository.name,
                IMAGE_DIGEST: image.repoDigest,
                AWS_REGION: region,
                MAX_CRITICAL: String(args.scanMaxCritical),
                MAX_HIGH: String(args.scanMaxHigh),
            },
            triggers: [image.repoDigest],
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

        const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
            vpcId: args.vpcId,
            description: "App host: app and node_exporter from the monitoring host only",
            egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "Outbound through NAT or endpoints" }],
            tags: tags({ Name: `${prefix}-${args.appName}` }),
        }, parent);
        for (const { port, what } of [{ port: 3000, what: "app" }, { port: 9100, what: "node-exporter" }]) {
            new aws.vpc.SecurityGroupIngressRule(`${name}-${what}-from-monitoring`, {
                securityGroupId: sg.id,
                referencedSecurityGroupId: args.monitoringSecurityGroupId,
                ipProtocol: "tcp",
                fromPort: port,
                toPort: port,
                description: `${what} scraped by the monitoring host`,
                tags: tags(),
            }, parent);
        }

        const { role, profile } = instanceRole(name, tags(), this);
        const pullPolicy = new aws.iam.RolePolicy(`${name}-pull-and-log`, {
            role: role.id,
            policy: pulumi
                .all([repository.arn, appLogs.arn, platformLogs.arn])
                .apply(([repositoryArn, a, p]) => appHostPolicy({ repositoryArn, logGroupArns: [a, p] })),
        }, parent);
        const secretsPolicy = new aws.iam.RolePolicy(`${name}-secrets`, { role: role.id, policy: args.secretsReadPolicyJson }, parent);

        const secretEnv = pulumi.all(
            Object.fromEntries(Object.entries(args.secretArns).map(([shortName, arn]) => [secretEnvName(shortName), arn])),
        );
        const instance = new aws.ec2.Instance(`${name}-instance`, {
            ...hardenedInstanceArgs(this),
            instanceType: args.instanceType,
            subnetId: args.subnetId,
            associatePublicIpAddress: false,
            vpcSecurityGroupIds: [sg.id],
            iamInstanceProfile: profile.name,
            userData: pulumi
                .all([region, image.repoDigest, secretEnv, appLogs.name, platformLogs.name])
                .apply(([r, digest, secretArns, appLogGroup, platformLogGroup]) =>
                    renderAppHostUserData({ region: r, imageRef: digest, appVersion: tag, secretArns, appLogGroup, platformLogGroup, faultInjection: args.faultInjection }),
                ),
            // A new image digest means a new host: immutable infrastructure, no drift.
            userDataReplaceOnChange: true,
            tags: tags({ Name: `${prefix}-${args.appName}`, Role: "app", [DISCOVERY_TAG_KEY]: prefix }),
            // No ignoreChanges on ami: replacements would reuse the first AMI (pulumi/pulumi#2657); each new
            // image or AL2023 release replaces the host. The first boot reads the role's grants and the secrets,
            // so the instance waits for them (IAM is eventually consistent) as well as for the scan gate.
        }, { parent: this, dependsOn: [scanGate, pullPolicy, secretsPolicy, ...(args.bootPrerequisites ?? [])] });

        const alarmActions = [args.alertTopicArn];
        new aws.cloudwatch.MetricAlarm(`${name}-cpu`, {
            alarmDescription: `CPU above ${args.cpuAlarmPercent}% for 10 minutes on ${prefix}-${args.appName}`,
            namespace: "AWS/EC2",
            metricName: "CPUUtilization",
            dimensions: { InstanceId: instance.id },
            statistic: "Average",
            period: 60,
            evaluationPeriods: 10,
            threshold: args.cpuAlarmPercent,
            comparisonOperator: "GreaterThanThreshold",
            alarmActions,
            okActions: alarmActions,
            tags: tags(),
        }, parent);
        bootFailureAlarm(name, { instanceId: instance.id, hostName: `${prefix}-${args.appName}`, alertTopicArn: args.alertTopicArn, tags: tags() }, this);
        new aws.cloudwatch.MetricAlarm(`${name}-status`, {
            alarmDescription: `Status check failed on ${prefix}-${args.appName}`,
            namespace: "AWS/EC2",
            metricName: "StatusCheckFailed",
            dimensions: { InstanceId: instance.id },
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 2,
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
            alarmActions,
            okActions: alarmActions,
            tags: tags(),
        }, parent);

        this.repositoryUrl = repository.repositoryUrl;
        this.imageDigest = image.repoDigest;
        this.instanceId = instance.id;
        this.privateIp = instance.privateIp;
        this.appUrl = pulumi.interpolate`http://${instance.privateIp}:3000`;
        this.securityGroupId = sg.id;
        this.appLogGroupName = appLogs.name;
        this.platformLogGroupName = platformLogs.name;
        this.registerOutputs({
            repositoryUrl: this.repositoryUrl,
            imageDigest: this.imageDigest,
            instanceId: this.instanceId,
            appUrl: this.appUrl,
        });
    }
}
