import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    AlertThresholds,
    SloTargets,
    renderAlertmanagerConfig,
    renderAlertRules,
    renderPrometheusConfig,
    renderRecordingRules,
} from "../prometheus";
import { GrafanaProvisioningMode } from "../config/stackConfig";
import { renderGrafanaProvisioningFiles } from "../dashboards";
import { monitoringHostPolicy } from "./iam/hostPolicies";
import { MONITORING_BOOT_SERVICE, renderConfigShippingScript, renderMonitoringHostUserData } from "./cloudInit/monitoringHostUserData";
import { bootFailureAlarm, hardenedInstanceArgs, instanceRole } from "./hostBaseline";
import { stackPrefix, standardTags } from "./tags";
import { serviceTrustPolicy } from "./policyDocument";

/** The tag EC2 service discovery selects app hosts by; ObservedAppHost sets it. */
export const DISCOVERY_TAG_KEY = "MonitoringTarget";

export interface MonitoringHostArgs {
    vpcId: pulumi.Input<string>;
    /** Private: no public address; operators come by Session Manager tunnel, Grafana also through the front door. */
    subnetId: pulumi.Input<string>;
    instanceType: string;
    /** `file`: the config document also ships Grafana's provisioning files; `provider`: it empties them. */
    grafanaProvisioning: GrafanaProvisioningMode;
    alertTopicArn: pulumi.Input<string>;
    alertTopicKeyArn: pulumi.Input<string>;
    grafanaAdminSecretArn: pulumi.Input<string>;
    /** The vault's read policy for the Grafana admin secret (and its key). */
    grafanaReadPolicyJson: pulumi.Input<string>;
    thresholds: AlertThresholds;
    /** SLO targets for the burn-rate rules; the renderers' defaults (99.9 %, 99 % within 0.5 s) without it. */
    slo?: SloTargets;
    prometheusRetentionDays: number;
    prometheusVolumeGiB: number;
    /** Daily snapshots of the data volume kept by Data Lifecycle Manager. */
    prometheusSnapshotsKept: number;
    platformLogRetentionDays: number;
    ampWorkspaceArn?: string;
    /** Customer-managed key for this host's log groups (LogsEncryptionKey). */
    logsKmsKeyArn?: pulumi.Input<string>;
    /** What the first boot reads and must exist before the instance does: the Grafana admin secret's version. */
    bootPrerequisites?: pulumi.Resource[];
    /** Prometheus, Alertmanager and Grafana from the stack's ECR by digest, their repositories, and the scan gate that passed them (HostImageMirror). */
    images: pulumi.Input<{ prometheus: string; alertmanager: string; grafana: string }>;
    imageRepositoryArns: pulumi.Input<string>[];
    imagesGate: pulumi.Resource;
}

/** The tag Data Lifecycle Manager selects the data volume by (value: the stack's volume name). */
export const SNAPSHOT_TAG_KEY = "DevSecOpsSnapshots";

/** The workspace's remote-write endpoint from its ARN. */
export function ampRemoteWriteUrl(workspaceArn: string): { url: string; region: string } {
    const [, , , region, , resource] = workspaceArn.split(":");
    const id = resource.split("/")[1];
    return { url: `https://aps-workspaces.${region}.amazonaws.com/workspaces/${id}/api/v1/remote_write`, region };
}

/** Checked before anything registers: a bad size or retention leaves no half-built host. */
export function validateMonitoringHostArgs(args: Pick<MonitoringHostArgs, "prometheusVolumeGiB" | "prometheusRetentionDays" | "grafanaProvisioning">): void {
    if (!Number.isInteger(args.prometheusVolumeGiB) || args.prometheusVolumeGiB < 1) {
        throw new Error(`prometheusVolumeGiB = ${JSON.stringify(args.prometheusVolumeGiB)}: a whole number of GiB, at least 1`);
    }
    if (!Number.isInteger(args.prometheusRetentionDays) || args.prometheusRetentionDays < 1) {
        throw new Error(`prometheusRetentionDays = ${JSON.stringify(args.prometheusRetentionDays)}: a whole number of days, at least 1`);
    }
    if (args.grafanaProvisioning !== "provider" && args.grafanaProvisioning !== "file") {
        throw new Error(`grafanaProvisioning = ${JSON.stringify(args.grafanaProvisioning)}: provider or file`);
    }
}

/**
 * Prometheus, Alertmanager and Grafana on one EC2 host in a private subnet: no public address
 * and no ingress from any network (operators use Session Manager port forwarding; Grafana is
 * also admitted from the front door by GrafanaRoute); TSDB on an encrypted volume that outlives
 * the instance; configs shipped by an SSM association so rule and threshold changes reload the
 * services instead of replacing the host.
 */
export class MonitoringHost extends pulumi.ComponentResource {
    readonly instanceId: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;
    readonly privateIp: pulumi.Output<string>;
    readonly logGroupNames: pulumi.Output<string>[];
    readonly configAssociationId: pulumi.Output<string>;
    readonly region: pulumi.Output<string>;

    constructor(name: string, args: MonitoringHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Before super(): bad arguments leave no half-registered component behind.
        validateMonitoringHostArgs(args);
        super("devsecops:hosts:MonitoringHost", name, {}, opts);
        const parent = { parent: this };
        const tags = (extra: Record<string, string> = {}) => standardTags("monitoring-host", extra);
        const prefix = stackPrefix();
        const monitoringHostName = `${prefix}-monitoring`;
        // The data volume's name, also the tag Data Lifecycle Manager selects it by.
        const dataVolumeName = `${prefix}-monitoring-data`;
        const stack = pulumi.getStack();
        const region = aws.getRegionOutput({}, parent).region;

        const logGroups = ["prometheus", "grafana", "monitoring-host"].map(
            (service) =>
                new aws.cloudwatch.LogGroup(`${name}-${service}`, {
                    name: `/aws/ec2/${stack}/${service}`,
                    retentionInDays: args.platformLogRetentionDays,
                    kmsKeyId: args.logsKmsKeyArn,
                    tags: tags(),
                }, { parent: this, deleteBeforeReplace: true }),
        );
        const [prometheusLogs, grafanaLogs, platformLogs] = logGroups;

        // No ingress here: Session Manager tunnels arrive through the SSM agent's own outbound connection,
        // and Grafana's front-door rule is added by GrafanaRoute (security group to security group). The
        // description forces a new group (aws_security_group: description replaces), so a stack that had the
        // old operator-CIDR rules gets a clean group: an omitted `ingress` would leave them in place.
        const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
            vpcId: args.vpcId,
            description: "Monitoring host: no ingress of its own; operators by Session Manager, Grafana from the front door",
            tags: tags({ Name: monitoringHostName }),
        }, parent);
        // Rules as their own resources only, never in-line beside GrafanaRoute's (the provider warns that mixing
        // the two overwrites rules: aws.ec2.SecurityGroup docs). Egress: package and image downloads, AWS APIs,
        // scrapes inside the VPC (through NAT or VPC endpoints).
        new aws.vpc.SecurityGroupEgressRule(`${name}-outbound`, {
            securityGroupId: sg.id,
            cidrIpv4: "0.0.0.0/0",
            ipProtocol: "-1",
            description: "Outbound through NAT or VPC endpoints",
            tags: tags(),
        }, parent);

        const { role, profile } = instanceRole(name, tags(), this);
        const hostPolicy = new aws.iam.RolePolicy(`${name}-monitoring`, {
            role: role.id,
            policy: pulumi
                .all([pulumi.all(logGroups.map((g) => g.arn)), args.alertTopicArn, args.alertTopicKeyArn, pulumi.all(args.imageRepositoryArns)])
                .apply(([logGroupArns, alertTopicArn, alertTopicKeyArn, imageRepositoryArns]) =>
                    monitoringHostPolicy({ logGroupArns, alertTopicArn, alertTopicKeyArn, ampWorkspaceArn: args.ampWorkspaceArn, imageRepositoryArns }),
                ),
        }, parent);
        const secretPolicy = new aws.iam.RolePolicy(`${name}-grafana-secret`, { role: role.id, policy: args.grafanaReadPolicyJson }, parent);

        const subnet = aws.ec2.getSubnetOutput({ id: args.subnetId }, parent);
        const dataVolume = new aws.ebs.Volume(`${name}-data`, {
            availabilityZone: subnet.availabilityZone,
            size: args.prometheusVolumeGiB,
            type: "gp3",
            encrypted: true,
            tags: tags({ Name: dataVolumeName, [SNAPSHOT_TAG_KEY]: dataVolumeName }),
        }, { parent: this, protect: false });

        // Daily snapshots, the newest prometheusSnapshotsKept kept: a lost or corrupted volume costs a day of
        // metrics, not all of them. The volume uses the default aws/ebs key, which the service role may use
        // (Amazon EBS User Guide, "IAM service roles for Amazon Data Lifecycle Manager").
        const snapshotRole = new aws.iam.Role(`${name}-snapshots`, {
            assumeRolePolicy: serviceTrustPolicy("dlm.amazonaws.com"),
            managedPolicyArns: ["arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"],
            tags: tags(),
        }, parent);
        new aws.dlm.LifecyclePolicy(`${name}-snapshots`, {
            description: `${prefix} Prometheus data volume, daily`,
            executionRoleArn: snapshotRole.arn,
            state: "ENABLED",
            policyDetails: {
                policyType: "EBS_SNAPSHOT_MANAGEMENT",
                resourceTypes: ["VOLUME"],
                targetTags: { [SNAPSHOT_TAG_KEY]: dataVolumeName },
                schedules: [{
                    name: "daily",
                    createRule: { interval: 24, intervalUnit: "HOURS", times: "03:00" },
                    retainRule: { count: args.prometheusSnapshotsKept },
                    copyTags: true,
                }],
            },
            tags: tags(),
        }, parent);

        const instance = new aws.ec2.Instance(`${name}-instance`, {
            ...hardenedInstanceArgs(this),
            instanceType: args.instanceType,
            subnetId: args.subnetId,
            associatePublicIpAddress: false,
            vpcSecurityGroupIds: [sg.id],
            iamInstanceProfile: profile.name,
            // Thresholds and rules are not in user data: they travel by SSM, so they never replace the host.
            userData: pulumi
                .all([region, dataVolume.id, args.grafanaAdminSecretArn, prometheusLogs.name, grafanaLogs.name, platformLogs.name, args.images])
                .apply(([r, volumeId, secretArn, promLog, grafanaLog, platformLog, images]) =>
                    renderMonitoringHostUserData({
                        region: r,
                        hostName: monitoringHostName,
                        dataVolumeId: volumeId,
                        prometheusRetentionDays: args.prometheusRetentionDays,
                        prometheusVolumeGiB: args.prometheusVolumeGiB,
                        grafanaAdminSecretArn: secretArn,
                        prometheusLogGroup: promLog,
                        grafanaLogGroup: grafanaLog,
                        platformLogGroup: platformLog,
                        images,
                    }),
                ),
            // user data runs its write_files once per instance: a changed boot script only takes effect on a new
            // host, so a change replaces it (safe: the data volume's attachment is delete-first).
            userDataReplaceOnChange: true,
            tags: tags({ Name: monitoringHostName, Role: "monitoring" }),
            // No ignoreChanges on ami: ignored inputs are reused by replacements (pulumi/pulumi#2657), so every
            // replacement would boot the first AMI. A newer AL2023 image replaces the host at the next `pulumi up`;
            // the data volume survives (attachment below is delete-first).
            // Waits for its role's policies and the secret version: the first boot reads both (IAM is eventually consistent);
            // and for the scan gate: no host runs an image it has not passed.
        }, { parent: this, dependsOn: [hostPolicy, secretPolicy, args.imagesGate, ...(args.bootPrerequisites ?? [])] });

        // The host is watched by something other than itself: EC2 recovers it onto healthy hardware (same id,
        // addresses and volumes) when the system status check fails (CloudWatch User Guide, "Create alarms
        // that stop, terminate, reboot, or recover an instance"), and the alerts topic hears of it.
        new aws.cloudwatch.MetricAlarm(`${name}-recover`, {
            alarmDescription: `${monitoringHostName}: system status check failed for 2 minutes; EC2 recovers the instance`,
            namespace: "AWS/EC2",
            metricName: "StatusCheckFailed_System",
            dimensions: { InstanceId: instance.id },
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 2,
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            alarmActions: [pulumi.interpolate`arn:aws:automate:${region}:ec2:recover`, args.alertTopicArn],
            okActions: [args.alertTopicArn],
            tags: tags(),
        }, parent);

        bootFailureAlarm(name, { bootServiceName: MONITORING_BOOT_SERVICE, hostName: monitoringHostName, alertTopicArn: args.alertTopicArn, tags: tags() }, this);

        new aws.ec2.VolumeAttachment(`${name}-data`, {
            deviceName: "/dev/sdf",
            volumeId: dataVolume.id,
            instanceId: instance.id,
            // Detach cleanly from a running host, and delete-first on replacement: a volume attaches to one
            // instance at a time, so a create-first attachment to the new host fails with VolumeInUse (pulumi/pulumi-aws#2769).
            stopInstanceBeforeDetaching: true,
        }, { parent: this, deleteBeforeReplace: true });

        const shippingScript = pulumi.all([region, args.alertTopicArn]).apply(([r, topicArn]) =>
            renderConfigShippingScript({
                prometheusYml: renderPrometheusConfig({
                    targets: { kind: "ec2", region: r, tagKey: DISCOVERY_TAG_KEY, tagValue: prefix },
                    remoteWrite: args.ampWorkspaceArn ? ampRemoteWriteUrl(args.ampWorkspaceArn) : undefined,
                }),
                alertRulesYml: renderAlertRules(args.thresholds, { slo: args.slo }),
                recordingRulesYml: renderRecordingRules(args.slo),
                alertmanagerYml: renderAlertmanagerConfig({ snsTopicArn: topicArn, region: r }),
                grafanaProvisioning: args.grafanaProvisioning === "file" ? renderGrafanaProvisioningFiles() : undefined,
            }),
        );
        const document = new aws.ssm.Document(`${name}-config`, {
            documentType: "Command",
            documentFormat: "JSON",
            content: shippingScript.apply((script) =>
                JSON.stringify({
                    schemaVersion: "2.2",
                    description: "Write Prometheus/Alertmanager configs and rules, validate, reload",
                    mainSteps: [{ action: "aws:runShellScript", name: "shipMonitoringConfig", inputs: { runCommand: script.split("\n"), timeoutSeconds: "120" } }],
                }),
            ),
            tags: tags(),
        }, parent);
        const association = new aws.ssm.Association(`${name}-config`, {
            name: document.name,
            documentVersion: document.latestVersion,
            targets: [{ key: "InstanceIds", values: [instance.id] }],
            // Re-applied every 30 minutes too, so a rebuilt host converges without a deploy.
            scheduleExpression: "rate(30 minutes)",
            tags: tags(),
        }, parent);

        this.region = region;
        this.instanceId = instance.id;
        this.securityGroupId = sg.id;
        this.privateIp = instance.privateIp;
        this.logGroupNames = logGroups.map((g) => g.name);
        this.configAssociationId = association.associationId;
        this.registerOutputs({
            instanceId: this.instanceId,
            securityGroupId: this.securityGroupId,
            privateIp: this.privateIp,
        });
    }
}
