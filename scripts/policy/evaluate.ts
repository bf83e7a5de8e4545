import { EnforcementLevel, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { DevSecOpsPolicy } from "../../policy/policies";

/**
 * Evaluates the policy pack in process over recorded resources, calling each
 * policy the way the Pulumi engine does (validateResource per resource, then
 * validateStack once), so the offline gate and the tests need no Pulumi CLI.
 */

export interface EvaluatedResource {
    type: string;
    name: string;
    urn: string;
    /** Resource properties as the engine would pass them (inputs, plus the id for cross-references). */
    props: Record<string, any>;
    dependencies: string[];
}

export interface Violation {
    policy: string;
    level: EnforcementLevel;
    resource: string;
    message: string;
}

export interface PackConfig {
    /** Per-policy overrides, as in `pulumi policy enable --config`: { "<policy>": { enforcementLevel, ...config } }. */
    [policy: string]: { enforcementLevel?: EnforcementLevel; [key: string]: unknown };
}

function toPolicyResource(r: EvaluatedResource, byUrn: Map<string, PolicyResource>): PolicyResource {
    const self: PolicyResource = {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: r.props,
        opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 } } as any,
        get dependencies() {
            return r.dependencies.map((u) => byUrn.get(u)).filter((x): x is PolicyResource => x !== undefined);
        },
        propertyDependencies: {},
        isType: (cls: any) => cls?.__pulumiType === r.type,
        asType: ((cls: any) => (cls?.__pulumiType === r.type ? r.props : undefined)) as any,
    };
    return self;
}

export function evaluatePack(policies: DevSecOpsPolicy[], resources: EvaluatedResource[], config: PackConfig = {}): Violation[] {
    const violations: Violation[] = [];
    const byUrn = new Map<string, PolicyResource>();
    const policyResources = resources.map((r) => {
        const pr = toPolicyResource(r, byUrn);
        byUrn.set(r.urn, pr);
        return pr;
    });
    for (const policy of policies) {
        const policyConfig = config[policy.name] ?? {};
        const level = policyConfig.enforcementLevel ?? policy.enforcementLevel ?? "advisory";
        if (level === "disabled") continue;
        const getConfig = <T extends object>() => policyConfig as unknown as T;
        const notApplicable = (reason?: string): never => {
            throw Object.assign(new Error(reason ?? "not applicable"), { notApplicable: true });
        };
        const run = (fn: () => void) => {
            try {
                fn();
            } catch (e) {
                if (!(e as { notApplicable?: boolean }).notApplicable) throw e;
            }
        };
        const validateResource = (policy as ResourceValidationPolicy).validateResource;
        if (validateResource) {
            const validators = [validateResource].flat();
            for (const r of policyResources) {
                const report = (message: string) => violations.push({ policy: policy.name, level, resource: `${r.type}::${r.name}`, message });
                for (const v of validators) {
                    run(() => v({ type: r.type, name: r.name, urn: r.urn, props: r.props, opts: r.opts, isType: r.isType, asType: r.asType, getConfig, notApplicable } as any, report));
                }
            }
        }
        const validateStack = (policy as StackValidationPolicy).validateStack;
        if (validateStack) {
            const report = (message: string, urn?: string) => {
                const r = urn ? byUrn.get(urn) : undefined;
                violations.push({ policy: policy.name, level, resource: r ? `${r.type}::${r.name}` : "(stack)", message });
            };
            run(() => validateStack({ resources: policyResources, getConfig, notApplicable, stackTags: new Map() } as any, report));
        }
    }
    return violations;
}

/** Recorded mock resources as the engine would show them to policies: inputs plus the id. */
export function fromRecorded(resources: { type: string; name: string; urn: string; id: string; inputs: Record<string, any>; dependencies: string[] }[]): EvaluatedResource[] {
    return resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: { ...r.inputs, id: r.id }, dependencies: r.dependencies }));
}

export function formatViolations(violations: Violation[]): string {
    if (violations.length === 0) return "no policy violations";
    const rows = violations.map((v) => [v.resource, v.policy, v.level, v.message]);
    const header = ["resource", "policy", "level", "message"];
    const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i].length))));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
    return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
