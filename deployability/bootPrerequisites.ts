import { HostView, hostViews, transitiveDependencies } from "./hostRoles";
import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * An instance boots as soon as it exists: unless what launches it waits for its role's policies
 * and for the secret versions its boot script reads, the first boot races IAM propagation and
 * secret creation, and `set -e` leaves the host empty (IAM User Guide, "Troubleshoot IAM":
 * changes are eventually consistent).
 */
export function checkBootPrerequisites(resources: StackResource[], views: HostView[] = hostViews(resources)): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    const secrets = resources.filter((r) => r.type === "aws:secretsmanager/secret:Secret");
    const versions = resources.filter((r) => r.type === "aws:secretsmanager/secretVersion:SecretVersion");
    for (const view of views) {
        const script = view.bootTexts.join("\n");
        const readSecrets = secrets.filter((s) => typeof s.state.arn === "string" && script.includes(s.state.arn));
        for (const launcher of view.launchers) {
            const waitsFor = transitiveDependencies(launcher, resources);
            for (const policy of view.rolePolicies) {
                if (!waitsFor.has(policy.urn)) {
                    findings.push({
                        check: "boot-prerequisites",
                        resource: resourceKey(launcher),
                        message: `launches instances before its role's policy ${resourceKey(policy)} exists: add it to dependsOn`,
                    });
                }
            }
            for (const secret of readSecrets) {
                const own = versions.filter((v) => v.inputs.secretId === secret.state.arn || v.inputs.secretId === secret.id);
                if (own.length && !own.some((v) => waitsFor.has(v.urn))) {
                    findings.push({
                        check: "boot-prerequisites",
                        resource: resourceKey(launcher),
                        message: `its boot script reads ${secret.state.arn}, but it does not wait for that secret's version (${own.map(resourceKey).join(", ")}): add it to dependsOn`,
                    });
                }
            }
        }
    }
    return findings;
}
