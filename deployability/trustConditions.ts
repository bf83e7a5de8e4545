import { asList } from "../policy/policies/definePolicy";
import { statementsOf } from "../policy/policies/policyDocuments";
import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * The condition keys each AWS service documents for the trust policy of a role it assumes.
 * A key the service does not send makes the condition false: the role cannot be assumed
 * (CloudTrail rejects the trail outright; EC2 hands the instance no credentials).
 * A service missing from this table is a finding too: add it with its source.
 */
export const TRUST_CONDITION_KEYS: Record<string, { keys: string[]; source: string }> = {
    "ec2.amazonaws.com": {
        keys: [],
        source: "IAM User Guide, 'Use an IAM role to grant permissions to applications running on Amazon EC2 instances' (trust without conditions)",
    },
    "cloudtrail.amazonaws.com": {
        keys: [],
        source: "CloudTrail User Guide, 'Role policy document for CloudTrail to use CloudWatch Logs for monitoring' (aws:SourceArn/aws:SourceAccount not supported)",
    },
    "vpc-flow-logs.amazonaws.com": {
        keys: ["aws:SourceAccount", "aws:SourceArn"],
        source: "Amazon VPC User Guide, 'IAM role for publishing flow logs to CloudWatch Logs' (confused-deputy keys)",
    },
    "dlm.amazonaws.com": {
        keys: [],
        source: "Amazon EBS User Guide, 'IAM service roles for Amazon Data Lifecycle Manager' (custom role trust: dlm.amazonaws.com, no conditions)",
    },
    "config.amazonaws.com": {
        keys: ["aws:SourceAccount", "aws:SourceArn"],
        source: "AWS Config Developer Guide, 'Permissions for the IAM Role Assigned to AWS Config' (adding an IAM trust policy to your role)",
    },
};

/** Every service principal's trust statement uses only keys that service documents. */
export function checkTrustConditions(resources: StackResource[]): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    for (const r of resources.filter((x) => x.type === "aws:iam/role:Role")) {
        for (const statement of statementsOf(r.inputs.assumeRolePolicy)) {
            if (statement.Effect !== "Allow") continue;
            for (const service of asList((statement.Principal as { Service?: unknown } | undefined)?.Service)) {
                const entry = TRUST_CONDITION_KEYS[service];
                const keys = Object.values(statement.Condition ?? {}).flatMap((byKey) => Object.keys(byKey ?? {}));
                if (!entry) {
                    findings.push({
                        check: "trust-conditions",
                        resource: resourceKey(r),
                        message: `service principal ${service} has no entry in deployability/trustConditions.ts: look up the condition keys it documents for role trust and add them with their source`,
                    });
                    continue;
                }
                for (const key of keys) {
                    if (entry.keys.some((k) => k.toLowerCase() === key.toLowerCase())) continue;
                    findings.push({
                        check: "trust-conditions",
                        resource: resourceKey(r),
                        message: `trust for ${service} carries condition key ${key}, which ${service} does not document for role trust (allowed: ${entry.keys.join(", ") || "none"}; ${entry.source})`,
                    });
                }
            }
        }
    }
    return findings;
}
