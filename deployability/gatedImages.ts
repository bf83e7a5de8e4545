import { ECR_REGISTRY_HOST, ECR_REPOSITORY_NAME, IMAGE_DIGEST } from "../components/ecrImageReference";
import { HostView, hostViews, transitiveDependencies } from "./hostRoles";
import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * Every image a host runs comes from this stack's own ECR, by digest, and was passed by a scan
 * gate its launcher waits for — read off the rendered boot scripts, the repositories and the gate
 * commands' IMAGES. Mocks accept a pull from Docker Hub; a host with `privateEgress: endpoints`
 * cannot make it, and no gate has judged what it would run.
 */

/** Public registries a boot script could pull from (a reference starting with one of these hosts). */
const PUBLIC_IMAGE = /(?:^|[\s'"=(])((?:docker\.io|registry-1\.docker\.io|quay\.io|ghcr\.io|gcr\.io|[a-z]+-docker\.pkg\.dev|public\.ecr\.aws|registry\.k8s\.io|mcr\.microsoft\.com)\/[^\s'"]+)/g;
/** A private ECR reference: registry/repository, then a tag or a digest (or both). */
const ECR_IMAGE = new RegExp(`(${ECR_REGISTRY_HOST})/(${ECR_REPOSITORY_NAME})(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@${IMAGE_DIGEST})?`, "g");

const ECR_IMAGE_PARTS = new RegExp(ECR_IMAGE.source);

/** What the stack's scan gates judged: the references in each gate command's IMAGES. */
function gatedReferences(resources: StackResource[]): Map<string, Set<string>> {
    const gates = new Map<string, Set<string>>();
    for (const r of resources) {
        if (r.type !== "command:local:Command" || typeof r.inputs.environment?.IMAGES !== "string") continue;
        try {
            gates.set(r.urn, new Set(Object.values(JSON.parse(r.inputs.environment.IMAGES) as Record<string, string>)));
        } catch {
            gates.set(r.urn, new Set());
        }
    }
    return gates;
}

export function checkGatedImages(resources: StackResource[], views: HostView[] = hostViews(resources)): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    const repositories = new Set(resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => String(r.inputs.name ?? r.state.name)));
    const gates = gatedReferences(resources);
    for (const view of views) {
        const script = view.bootTexts.join("\n");
        const report = (message: string) => findings.push({ check: "gated-images", resource: resourceKey(view.host), message });
        for (const m of script.matchAll(PUBLIC_IMAGE)) {
            report(`runs ${m[1]} from a public registry: no gate judged it, and without internet egress the pull fails; mirror it (HostImageMirror)`);
        }
        const refs = new Set([...script.matchAll(ECR_IMAGE)].map((m) => m[0]));
        for (const ref of refs) {
            const [, , repository, , digest] = ECR_IMAGE_PARTS.exec(ref) ?? [];
            if (!digest) {
                report(`runs ${ref} by tag: a re-pushed tag changes what runs; name it by digest`);
                continue;
            }
            if (!repositories.has(repository)) report(`runs ${ref}, whose repository ${repository} is not one of this stack's`);
            for (const launcher of view.launchers) {
                const waitsFor = transitiveDependencies(launcher, resources);
                if (![...gates].some(([urn, judged]) => waitsFor.has(urn) && judged.has(ref))) {
                    report(`${resourceKey(launcher)} starts hosts that run ${ref} without waiting for a scan gate that judged it: add the gate to dependsOn`);
                }
            }
        }
    }
    return findings;
}
