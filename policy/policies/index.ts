import { ecrImmutableTags, ecrKmsEncryption, ecrScanOnPush } from "./ecr";
import { ebsEncrypted, imdsv2Required, noPublicIp, userDataNoSecrets } from "./ec2";
import { guardDutyEnabled, securityBaseline } from "./detection";
import { logOneYearKms, logRetentionSet } from "./logGroups";
import { noWildcardAction, noWildcardResourceWrite, permissionsBoundary } from "./iam";
import { DevSecOpsPolicy } from "./definePolicy";
import { kmsKeyRotation, secretRotation, snsTopicEncrypted } from "./secretsAndAlerts";
import { s3DefaultEncryption, s3PublicAccessBlock, s3TlsOnly, s3Versioning } from "./s3";
import { defaultSecurityGroupClosed, noOpenIngress, noRemoteAdminPorts } from "./securityGroups";
import { requiredTags } from "./tags";
import { trailCloudWatchLogs, trailKmsEncryption, trailLogFileValidation, trailManagementEvents, trailMultiRegion } from "./cloudTrail";

export type { Controls, DevSecOpsPolicy } from "./definePolicy";

/** The stack's security contract, in the order policy/README.md's control table lists it. */
export const devsecopsPolicies: DevSecOpsPolicy[] = [
    s3DefaultEncryption,
    s3PublicAccessBlock,
    s3TlsOnly,
    s3Versioning,
    trailMultiRegion,
    trailLogFileValidation,
    trailManagementEvents,
    trailKmsEncryption,
    trailCloudWatchLogs,
    imdsv2Required,
    ebsEncrypted,
    noPublicIp,
    userDataNoSecrets,
    noOpenIngress,
    noRemoteAdminPorts,
    defaultSecurityGroupClosed,
    noWildcardAction,
    noWildcardResourceWrite,
    permissionsBoundary,
    ecrScanOnPush,
    ecrImmutableTags,
    ecrKmsEncryption,
    logRetentionSet,
    logOneYearKms,
    secretRotation,
    snsTopicEncrypted,
    kmsKeyRotation,
    guardDutyEnabled,
    securityBaseline,
    requiredTags,
];
