import { loadConfig } from "./config/loadConfig";
import { AuditTrail } from "./components/auditTrail";
import { Network } from "./components/network";
import { SecretsVault } from "./components/secretsVault";
import { ThreatDetection } from "./components/threatDetection";

// 1. Every setting is validated before any resource exists: a bad stack fails here, all at once.
const { settings, providedSecretValues } = loadConfig();

// 2. The foundation: network, audit trail, threat detection, secrets.
const network = new Network("network", settings.network);

const audit = new AuditTrail("audit", {
    ...settings.audit,
    allowConfigDelivery: settings.threat.enableConfigRecorder,
});

const threat = new ThreatDetection("threat", {
    existingDetectorId: settings.threat.existingDetectorId,
    findingPublishingFrequency: settings.threat.findingPublishingFrequency,
    findingMinSeverity: settings.threat.findingMinSeverity,
    alertEmail: settings.threat.alertEmail,
    enableSecurityHub: settings.threat.enableSecurityHub,
    configRecorder: settings.threat.enableConfigRecorder ? { deliveryBucketName: audit.bucketName } : undefined,
});

const vault = new SecretsVault("secrets", {
    generatedSecretNames: settings.secrets.generatedSecretNames,
    providedSecretValues,
    customerManagedKey: settings.secrets.customerManagedKey,
    rotationLambdaArn: settings.secrets.rotationLambdaArn,
    rotationDays: settings.secrets.rotationDays,
});

// 3. Stack outputs: identifiers and ARNs only, never secret values.
export const vpcId = network.vpcId;
export const publicSubnetIds = network.publicSubnetIds;
export const privateSubnetIds = network.privateSubnetIds;
export const flowLogGroupName = network.flowLogGroupName;
export const auditBucketName = audit.bucketName;
export const trailArn = audit.trailArn;
export const trailName = audit.trailName;
export const detectorId = threat.detectorId;
export const alertTopicArn = threat.alertTopicArn;
export const appSecretArns = Object.fromEntries(Object.entries(vault.appSecrets).map(([name, s]) => [name, s.arn]));
export const grafanaAdminSecretArn = vault.grafanaAdminSecretArn;
