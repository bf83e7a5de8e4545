import { asList } from "../policy/policies/definePolicy";
import { StackResource } from "./stackResource";

/**
 * The stack as hosts see it: each thing that launches instances, the role its instances get,
 * the policies on that role, and the scripts they run at boot (user data and the SSM documents
 * associated with them). Read off the registered resources, never from a hand-kept list.
 */
export interface HostView {
    /** The instance, or the launch template. */
    host: StackResource;
    /** What creates instances: the instance itself, or the Auto Scaling groups using the template. */
    launchers: StackResource[];
    role?: StackResource;
    /** Inline and attached policies of the role (RolePolicy / RolePolicyAttachment resources). */
    rolePolicies: StackResource[];
    /** Boot scripts and the files they ship, decoded. */
    bootTexts: string[];
}

const HOST_TYPES = ["aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate"];

function decodeBase64(text: string): string | undefined {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
    const decoded = Buffer.from(text, "base64").toString("utf8");
    // Only text: a printable payload, not an accidental base64-looking word.
    return /^[\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]*$/.test(decoded) && !decoded.includes("\ufffd") ? decoded : undefined;
}

/** The text and every base64 payload inside it (configs staged by the SSM document), decoded. */
export function expandPayloads(text: string): string[] {
    const out = [text];
    for (const m of text.matchAll(/[A-Za-z0-9+/]{40,}={0,2}/g)) {
        const decoded = decodeBase64(m[0]);
        if (decoded) out.push(...expandPayloads(decoded));
    }
    return out;
}

function documentCommands(doc: StackResource): string {
    try {
        const content = JSON.parse(String(doc.inputs.content ?? ""));
        return ((content.mainSteps ?? []) as { inputs?: { runCommand?: unknown } }[])
            .flatMap((step) => asList(step.inputs?.runCommand))
            .join("\n");
    } catch {
        return String(doc.inputs.content ?? "");
    }
}

/** Whether a reference (name, ARN or id) names one of these; an unset reference names nothing. */
function matchesAny(value: unknown, candidates: unknown[]): boolean {
    return value !== undefined && candidates.includes(value);
}

export function hostViews(resources: StackResource[]): HostView[] {
    const roles = resources.filter((r) => r.type === "aws:iam/role:Role");
    const profiles = resources.filter((r) => r.type === "aws:iam/instanceProfile:InstanceProfile");
    return resources
        .filter((r) => HOST_TYPES.includes(r.type))
        .map((host) => {
            const isTemplate = host.type === "aws:ec2/launchTemplate:LaunchTemplate";
            const profileRef = isTemplate ? host.inputs.iamInstanceProfile?.name ?? host.inputs.iamInstanceProfile?.arn : host.inputs.iamInstanceProfile;
            const profile = profiles.find((p) => matchesAny(profileRef, [p.state.name, p.state.arn, p.id]));
            const role = profile ? roles.find((r) => matchesAny(profile.inputs.role, [r.state.name, r.state.arn, r.id])) : undefined;
            const rolePolicies = role
                ? resources.filter(
                      (p) =>
                          (p.type === "aws:iam/rolePolicy:RolePolicy" || p.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment") &&
                          matchesAny(p.inputs.role, [role.state.name, role.state.arn, role.id]),
                  )
                : [];
            const launchers = isTemplate
                ? resources.filter((g) => g.type === "aws:autoscaling/group:Group" && matchesAny(g.inputs.launchTemplate?.id ?? g.inputs.launchTemplate?.name, [host.id, host.state.name]))
                : [host];
            const userData = isTemplate ? decodeBase64(String(host.inputs.userData ?? "")) ?? "" : String(host.inputs.userData ?? "");
            const documents = resources
                .filter((a) => a.type === "aws:ssm/association:Association")
                .filter((a) => ((a.inputs.targets ?? []) as { key?: string; values?: unknown }[]).some((t) => t.key === "InstanceIds" && asList(t.values).includes(host.id)))
                .flatMap((a) => resources.filter((d) => d.type === "aws:ssm/document:Document" && matchesAny(a.inputs.name, [d.state.name, d.id])));
            const bootTexts = [userData, ...documents.map(documentCommands)].filter(Boolean).flatMap(expandPayloads);
            return { host, launchers: launchers.length ? launchers : [host], role, rolePolicies, bootTexts };
        });
}

/** URNs a resource waits for before it is created: its dependencies and theirs. */
export function transitiveDependencies(resource: StackResource, resources: StackResource[]): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const seen = new Set<string>();
    const stack = [...resource.dependencies];
    while (stack.length) {
        const urn = stack.pop()!;
        if (seen.has(urn)) continue;
        seen.add(urn);
        stack.push(...(byUrn.get(urn)?.dependencies ?? []));
    }
    return seen;
}
