import { ecrImmutableTags, ecrKmsEncryption, ecrScanOnPush } from "./ecr";
import { ebsEncrypted, imdsv2Required, noPublicIp, userDataNoSecrets } from "./ec2";
import { guardDutyEnabled, securityBaseline } from "./detection";
import { logOneYearKms, logRetentionSet } from "./logGroups";
import { noDataReadOnWildcard, noPrivilegeEscalation, noWildcardAction, noWildcardResourceWrite, permissionsBoundary, trustPolicyScoped } from "./iam";
import { albAccessLogs, albHardened, albWafAssociated, asgElbHealthCheck, asgLaunchTemplate, targetGroupHealthCheck, customerKeysAdvisory, instanceProfileSet, launchTemplateNoPublicIp, listenerHttps, listenerTls, metadataHopLimit, subnetNoAutoPublicIp } from "./frontDoor";
import { DevSecOpsPolicy } from "./definePolicy";
import { kmsKeyPolicyScoped, kmsKeyRotation, secretRotation, snsTopicEncrypted } from "./secretsAndAlerts";
import { s3AccessLoggingAndLifecycle, s3AclsDisabled, s3DefaultEncryption, s3PublicAccessBlock, s3TlsOnly, s3Versioning } from "./s3";
import { defaultSecurityGroupClosed, noOpenIngress, noRemoteAdminPorts, sgRuleDescriptions } from "./securityGroups";
import { resourcePolicyNotPublic } from "./resourcePolicies";
import { requiredTags } from "./tags";
import { trailCloudWatchLogs, trailKmsEncryption, trailLogFileValidation, trailManagementEvents, trailMultiRegion } from "./cloudTrail";

export type { Controls, DevSecOpsPolicy } from "./definePolicy";

/** The stack's security contract, in the order policy/README.md's control table lists it. */
export const devsecopsPolicies: DevSecOpsPolicy[] = [
    s3DefaultEncryption,
    s3PublicAccessBlock,
    s3TlsOnly,
    s3Versioning,
    s3AclsDisabled,
    s3AccessLoggingAndLifecycle,
    trailMultiRegion,
    trailLogFileValidation,
    trailManagementEvents,
    trailKmsEncryption,
    trailCloudWatchLogs,
    imdsv2Required,
    ebsEncrypted,
    noPublicIp,
    launchTemplateNoPublicIp,
    metadataHopLimit,
    subnetNoAutoPublicIp,
    userDataNoSecrets,
    instanceProfileSet,
    customerKeysAdvisory,
    noOpenIngress,
    noRemoteAdminPorts,
    defaultSecurityGroupClosed,
    sgRuleDescriptions,
    noWildcardAction,
    noWildcardResourceWrite,
    noDataReadOnWildcard,
    noPrivilegeEscalation,
    trustPolicyScoped,
    permissionsBoundary,
    ecrScanOnPush,
    ecrImmutableTags,
    ecrKmsEncryption,
    logRetentionSet,
    logOneYearKms,
    secretRotation,
    snsTopicEncrypted,
    kmsKeyRotation,
    kmsKeyPolicyScoped,
    resourcePolicyNotPublic,
    albHardened,
    albAccessLogs,
    listenerTls,
    listenerHttps,
    albWafAssociated,
    asgElbHealthCheck,
    asgLaunchTemplate,
    targetGroupHealthCheck,
    guardDutyEnabled,
    securityBaseline,
    requiredTags,
];
