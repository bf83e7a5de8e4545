import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { loadConfig } from "./config/loadConfig";
import { AppLoadBalancer } from "./components/appLoadBalancer";
import { AuditTrail } from "./components/auditTrail";
import { GrafanaProvisioning } from "./components/grafanaProvisioning";
import { GrafanaRoute } from "./components/grafanaRoute";
import { HOST_IMAGES } from "./components/cloudInit/hostImages";
import { HostImageMirror } from "./components/hostImageMirror";
import { LogsEncryptionKey } from "./components/logsEncryptionKey";
import { MonitoringHost } from "./components/monitoringHost";
import { Network } from "./components/network";
import { APP_PORT, ObservedAppHost } from "./components/observedAppHost";
import { RegistryScanning } from "./components/registryScanning";
import { SecretsVault } from "./components/secretsVault";
import { stackPrefix } from "./components/tags";
import { ThreatDetection } from "./components/threatDetection";
import { DASHBOARD_UID } from "./dashboards";
import { DEFAULT_SLO_TARGETS } from "./prometheus";
import { TUNNEL_TARGETS, tunnelCommand } from "./tunnel/targets";

// 1. Every setting is validated before any resource exists: a bad stack fails here, all at once.
const { settings, providedSecretValues } = loadConfig();

// 2. The foundation: the logs key, network, audit trail, threat detection, secrets.
const logsKey = new LogsEncryptionKey("logs");
const logsKmsKeyArn = logsKey.keyArn;

const network = new Network("network", { ...settings.network, logsKmsKeyArn, ampRemoteWrite: settings.hosts.ampWorkspaceArn !== undefined });

const audit = new AuditTrail("audit", {
    ...settings.audit,
    allowConfigDelivery: settings.threat.enableConfigRecorder,
    logsKmsKeyArn,
});

const threat = new ThreatDetection("threat", {
    existingDetectorId: settings.threat.existingDetectorId,
    findingPublishingFrequency: settings.threat.findingPublishingFrequency,
    findingMinSeverity: settings.threat.findingMinSeverity,
    alertEmail: settings.threat.alertEmail,
    enableSecurityHub: settings.threat.enableSecurityHub,
    configRecorder: settings.threat.enableConfigRecorder
        ? { deliveryBucketName: audit.bucketName, deliveryBucketArn: audit.bucketArn, deliveryKeyArn: audit.kmsKeyArn, deliveryReady: [audit.bucketPolicy] }
        : undefined,
});

const vault = new SecretsVault("secrets", {
    generatedSecretNames: settings.secrets.generatedSecretNames,
    providedSecretValues,
    customerManagedKey: settings.secrets.customerManagedKey,
    rotationLambdaArn: settings.secrets.rotationLambdaArn,
    rotationDays: settings.secrets.rotationDays,
    faultInjectionToken: settings.hosts.appFaultInjection,
});

const appSecretArnsByName = Object.fromEntries(Object.entries(vault.appSecrets).map(([name, s]) => [name, s.arn]));

// 3. The supply chain: every image a host runs is in the stack's ECR, scanned as ecrScanning says and
// passed by the scan gate before any host starts; the third-party ones are copied from their pinned digests.
const scanning = new RegistryScanning("image-scanning", { mode: settings.hosts.ecrScanning, repositoryPrefix: stackPrefix().toLowerCase() });
const hostImages = new HostImageMirror("host-images", {
    images: HOST_IMAGES,
    ecrKeepImages: settings.hosts.ecrKeepImages,
    scanMaxCritical: settings.hosts.scanMaxCritical,
    scanMaxHigh: settings.hosts.scanMaxHigh,
    scanPrerequisites: scanning.ready,
});

// 4. The hosts: monitoring first, because only its security group may reach the app host. It is
// private: operators reach it by Session Manager tunnel, and Grafana also by its HTTPS name.
const monitoring = new MonitoringHost("monitoring", {
    vpcId: network.vpcId,
    subnetId: network.privateSubnetIds[0],
    instanceType: settings.hosts.monitoringInstanceType,
    grafanaProvisioning: settings.hosts.grafanaProvisioning,
    alertTopicArn: threat.alertTopicArn,
    alertTopicKeyArn: threat.alertTopicKeyArn,
    grafanaAdminSecretArn: vault.grafanaAdminSecretArn,
    grafanaReadPolicyJson: vault.grafanaReadPolicyJson,
    thresholds: settings.alerts,
    slo: { ...DEFAULT_SLO_TARGETS, availability: settings.alerts.sloAvailabilityTarget, latency: settings.alerts.sloLatencyTarget },
    prometheusRetentionDays: settings.hosts.prometheusRetentionDays,
    prometheusVolumeGiB: settings.hosts.prometheusVolumeGiB,
    prometheusSnapshotsKept: settings.hosts.prometheusSnapshotsKept,
    platformLogRetentionDays: settings.hosts.platformLogRetentionDays,
    ampWorkspaceArn: settings.hosts.ampWorkspaceArn,
    logsKmsKeyArn,
    bootPrerequisites: [vault.grafanaAdminSecretVersion],
    images: hostImages.images.apply((i) => ({ prometheus: i.prometheus, alertmanager: i.alertmanager, grafana: i.grafana })),
    imageRepositoryArns: [hostImages.repositoryArns.prometheus, hostImages.repositoryArns.alertmanager, hostImages.repositoryArns.grafana],
    imagesGate: hostImages.scanGate,
});

// 5. The front door: the only way in from the internet, to the app hosts only.
const frontDoor = new AppLoadBalancer("front-door", {
    vpcId: network.vpcId,
    publicSubnetIds: network.publicSubnetIds,
    appPort: APP_PORT,
    healthPath: "/health",
    internalPaths: ["/metrics", "/fault"],
    // Longer than the app's own drain (docs/hosts.md "Shutdown sequence").
    deregistrationDelaySeconds: 30,
    ...settings.frontDoor,
    operatorHostNames: settings.hosts.grafanaHostName ? [settings.hosts.grafanaHostName] : [],
    latencyThresholdSeconds: settings.alerts.latencyP95Seconds,
    alertTopicArn: threat.alertTopicArn,
    platformLogRetentionDays: settings.hosts.platformLogRetentionDays,
    logsKmsKeyArn,
});

const appHost = new ObservedAppHost("app", {
    appName: "devsecops-app",
    appDirectory: path.join(__dirname, "app"),
    vpcId: network.vpcId,
    subnetIds: network.privateSubnetIds,
    instanceType: settings.hosts.appInstanceType,
    minHosts: settings.hosts.appMinHosts,
    maxHosts: settings.hosts.appMaxHosts,
    targetCpuPercent: settings.hosts.appTargetCpuPercent,
    monitoringSecurityGroupId: monitoring.securityGroupId,
    loadBalancerSecurityGroupId: frontDoor.securityGroupId,
    targetGroupArn: frontDoor.targetGroupArn,
    rollbackAlarmNames: [frontDoor.unhealthyHostsAlarmName],
    secretArns: appSecretArnsByName,
    secretsReadPolicyJson: vault.appReadPolicyJson,
    alertTopicArn: threat.alertTopicArn,
    appLogRetentionDays: settings.hosts.appLogRetentionDays,
    platformLogRetentionDays: settings.hosts.platformLogRetentionDays,
    ecrKeepImages: settings.hosts.ecrKeepImages,
    scanMaxCritical: settings.hosts.scanMaxCritical,
    scanMaxHigh: settings.hosts.scanMaxHigh,
    cpuAlarmPercent: settings.alerts.cpuPercent,
    faultInjection: settings.hosts.appFaultInjection,
    logsKmsKeyArn,
    bootPrerequisites: vault.appSecretVersions,
    nodeExporterImage: hostImages.images.apply((i) => i.nodeExporter),
    nodeExporterRepositoryArn: hostImages.repositoryArns.nodeExporter,
    nodeExporterGate: hostImages.scanGate,
    scanPrerequisites: scanning.ready,
});

// 6. Grafana at its HTTPS name for operatorCidrs (with a domain and its certificate), and its datasource
// and dashboard: by the provider through that name, or by file provisioning shipped to the host.
const grafanaRoute =
    settings.hosts.grafanaHostName && frontDoor.httpsListenerArn && settings.frontDoor.hostedZoneId
        ? new GrafanaRoute("grafana-route", {
              vpcId: network.vpcId,
              listenerArn: frontDoor.httpsListenerArn,
              loadBalancerSecurityGroupId: frontDoor.securityGroupId,
              loadBalancerDnsName: frontDoor.dnsName,
              loadBalancerZoneId: frontDoor.zoneId,
              hostName: settings.hosts.grafanaHostName,
              hostedZoneId: settings.frontDoor.hostedZoneId,
              sourceCidrs: settings.hosts.operatorCidrs,
              instanceId: monitoring.instanceId,
              instanceSecurityGroupId: monitoring.securityGroupId,
              port: TUNNEL_TARGETS.grafana.remotePort,
              healthPath: "/api/health",
          })
        : undefined;
const grafana =
    settings.hosts.grafanaProvisioning === "provider" && grafanaRoute
        ? new GrafanaProvisioning("grafana", { grafanaUrl: grafanaRoute.url, adminPassword: vault.grafanaAdminPassword }, { dependsOn: [grafanaRoute] })
        : undefined;

// 7. Stack outputs: identifiers, ARNs and URLs only, never secret values.
export const vpcId = network.vpcId;
export const publicSubnetIds = network.publicSubnetIds;
export const privateSubnetIds = network.privateSubnetIds;
export const flowLogGroupName = network.flowLogGroupName;
export const auditBucketName = audit.bucketName;
export const trailArn = audit.trailArn;
export const trailName = audit.trailName;
export const detectorId = threat.detectorId;
export const alertTopicArn = threat.alertTopicArn;
export const appSecretArns = appSecretArnsByName;
export const grafanaAdminSecretArn = vault.grafanaAdminSecretArn;
export const region = monitoring.region;
/** The URL a client uses: https://<domainName> with a certificate, else http://<load balancer DNS name>. */
export const appUrl = frontDoor.url;
export const appTls = frontDoor.tls ? "https" : "plain HTTP: set domainName + hostedZoneId or certificateArn for HTTPS";
export const loadBalancerArn = frontDoor.loadBalancerArn;
export const loadBalancerDnsName = frontDoor.dnsName;
export const targetGroupArn = frontDoor.targetGroupArn;
export const webAclArn = frontDoor.webAclArn;
export const accessLogBucketName = frontDoor.accessLogBucketName;
export const autoScalingGroupName = appHost.autoScalingGroupName;
export const ecrRepositoryUrl = appHost.repositoryUrl;
export const imageDigest = appHost.imageDigest;
export const hostImageDigests = hostImages.images;
export const appLogGroupName = appHost.appLogGroupName;
export const platformLogGroupNames = [appHost.platformLogGroupName, ...monitoring.logGroupNames, ...(frontDoor.wafLogGroupName ? [frontDoor.wafLogGroupName] : [])];
export const monitoringInstanceId = monitoring.instanceId;
// No monitoring UI has a public URL: these say how to reach each (docs/hosts.md "Operator access").
export const prometheusUrl = tunnelCommand("prometheus");
export const alertmanagerUrl = tunnelCommand("alertmanager");
export const grafanaUrl = grafanaRoute?.url ?? tunnelCommand("grafana");
export const grafanaProvisioning = settings.hosts.grafanaProvisioning;
export const grafanaDashboardUid = grafana?.dashboardUid ?? DASHBOARD_UID;
export const grafanaDashboardUrl = grafanaRoute ? `${grafanaRoute.url}/d/${DASHBOARD_UID}` : undefined;
export const appSecurityGroupId = appHost.securityGroupId;
export const monitoringSecurityGroupId = monitoring.securityGroupId;
// What `npm run verify` compares each log group's retention with.
export const logRetentionDays = pulumi
    .all([appHost.appLogGroupName, pulumi.all(platformLogGroupNames), network.flowLogGroupName, audit.logGroupName])
    .apply(([app, platformGroups, flow, trail]) => ({
        [app]: settings.hosts.appLogRetentionDays,
        ...Object.fromEntries(platformGroups.map((g) => [g, settings.hosts.platformLogRetentionDays])),
        [flow]: settings.network.flowLogRetentionDays,
        ...(trail ? { [trail]: settings.audit.cloudWatchRetentionDays } : {}),
    }));
