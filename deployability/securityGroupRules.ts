import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * A security group's rules in one direction are either in-line (`ingress`/`egress` on the group) or
 * separate rule resources, never both: the in-line list is authoritative, so the group's next update
 * revokes the separate rules and the rules' next update adds them back (aws.ec2.SecurityGroup and
 * aws.vpc.SecurityGroupIngressRule docs: "rule conflicts may occur and rules will be overwritten").
 * Mocks accept both. An explicit empty list is in-line too: it means "no rules", not "unmanaged".
 */
const SEPARATE_RULES: Record<string, (r: StackResource) => "ingress" | "egress" | undefined> = {
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": () => "ingress",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": () => "egress",
    "aws:ec2/securityGroupRule:SecurityGroupRule": (r) => (r.inputs.type === "ingress" || r.inputs.type === "egress" ? r.inputs.type : undefined),
};

export function checkSecurityGroupRules(resources: StackResource[]): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    const groups = resources.filter((r) => r.type === "aws:ec2/securityGroup:SecurityGroup");
    for (const rule of resources) {
        const direction = SEPARATE_RULES[rule.type]?.(rule);
        if (!direction) continue;
        const group = groups.find((g) => g.id !== undefined && g.id === rule.inputs.securityGroupId);
        if (group && Array.isArray(group.inputs[direction])) {
            findings.push({
                check: "security-group-rules",
                resource: resourceKey(rule),
                message: `a separate ${direction} rule on ${group.name}, whose ${direction} rules are in-line: the group's next update revokes it; keep one style per direction (separate rule resources)`,
            });
        }
    }
    return findings;
}
