import { checkBootPermissions } from "./bootPermissions";
import { checkBootPrerequisites } from "./bootPrerequisites";
import { checkGatedImages } from "./gatedImages";
import { hostViews } from "./hostRoles";
import { checkListenerRules } from "./listenerRules";
import { checkPrivateEndpoints } from "./privateEndpoints";
import { checkReplacementSafety } from "./replacementSafety";
import { checkSecurityGroupRules } from "./securityGroupRules";
import { DeployabilityFinding, StackResource } from "./stackResource";
import { checkTrustConditions } from "./trustConditions";

export type { DeployabilityFinding, StackResource } from "./stackResource";

/**
 * Checks over the mocked stack for what a real account rejects and mocks accept: trust
 * conditions a service does not send, create-first replacements that cannot succeed, hosts
 * that boot before their permissions and secrets exist, boot calls their role cannot make,
 * listener rules over ELB's condition limits, hosts running images no gate judged,
 * security groups whose in-line rules would revoke separate ones, and, without NAT, AWS calls with
 * no VPC endpoint to answer them.
 */
export function checkDeployability(resources: StackResource[]): DeployabilityFinding[] {
    // The checks that read boot scripts share the same host views: derive them once.
    const views = hostViews(resources);
    return [
        ...checkTrustConditions(resources),
        ...checkReplacementSafety(resources),
        ...checkBootPrerequisites(resources, views),
        ...checkBootPermissions(resources, views),
        ...checkListenerRules(resources),
        ...checkGatedImages(resources, views),
        ...checkSecurityGroupRules(resources),
        ...checkPrivateEndpoints(resources, views),
    ];
}
