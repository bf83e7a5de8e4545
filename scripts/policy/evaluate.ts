import { EnforcementLevel, PolicyPackArgs, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

/**
 * Evaluates a policy pack in process over recorded resources, calling each policy the way
 * @pulumi/policy's analyzer server does for the engine (server.js: analyze per resource, then
 * analyzeStack once): the same enforcement-level resolution (policy config, then the policy,
 * then the pack), getConfig without enforcementLevel, props behind the unknown-checking proxy
 * (an unknown read during preview becomes an advisory "can't run" diagnostic), and
 * notApplicable. So the offline gate and the tests need no Pulumi CLI.
 */

export interface EvaluatedResource {
    type: string;
    name: string;
    urn: string;
    /** Properties as the engine passes them: inputs (plus the id, which stack policies match on); unknowns as Pulumi's unknown sentinel. */
    props: Record<string, any>;
    /** URNs this resource depends on. */
    dependencies: string[];
}

export interface Violation {
    policy: string;
    level: Exclude<EnforcementLevel, "disabled" | "remediate">;
    /** `<type>::<name>`, or `(stack)` for a stack policy's finding about no one resource. */
    resource: string;
    message: string;
}

/** One policy's config as the engine holds it: its enforcement level and its config properties. */
export interface PolicyConfig {
    enforcementLevel?: EnforcementLevel;
    [property: string]: unknown;
}

/** The policy-pack config file format (`--policy-pack-config`, `pulumi policy enable --config`). */
export type PackConfigFile = Record<string, EnforcementLevel | PolicyConfig>;

const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

// Internal to @pulumi/policy but what its server wraps props in; resolved at run time from the installed copy.
const { unknownCheckingProxy, UnknownValueError } = require("@pulumi/policy/proxy") as {
    unknownCheckingProxy<T extends object>(o: T): T;
    UnknownValueError: new (...args: any[]) => Error;
};

class NotApplicable extends Error {}

/**
 * Normalises a config file as the CLI does: a bare level is `{ enforcementLevel }`, `all` sets the
 * level of every policy that has none of its own, schema defaults are filled in. Names no policy
 * has, levels that do not exist and properties the policy's schema lacks are errors.
 */
export function resolvePackConfig(pack: PolicyPackArgs, file: PackConfigFile = {}): Record<string, PolicyConfig> {
    const names = new Set(pack.policies.map((p) => p.name));
    const entries = Object.entries(file).map(([name, value]) => [name, typeof value === "string" ? { enforcementLevel: value } : { ...value }] as const);
    for (const [name, value] of entries) {
        if (name !== "all" && !names.has(name)) throw new Error(`policy config names "${name}", which is not a policy of this pack (policies: ${[...names].join(", ")})`);
        if (value.enforcementLevel !== undefined && !LEVELS.includes(value.enforcementLevel)) {
            throw new Error(`policy config for "${name}": enforcementLevel "${value.enforcementLevel}" is not one of ${LEVELS.join(", ")}`);
        }
    }
    const given = Object.fromEntries(entries);
    const resolved: Record<string, PolicyConfig> = {};
    for (const policy of pack.policies) {
        const own: PolicyConfig = given[policy.name] ?? {};
        const properties = policy.configSchema?.properties ?? {};
        for (const key of Object.keys(own)) {
            if (key !== "enforcementLevel" && !(key in properties)) throw new Error(`policy config for "${policy.name}": unknown property "${key}" (allowed: ${Object.keys(properties).join(", ") || "none"})`);
        }
        const defaults = Object.fromEntries(Object.entries(properties).filter(([, s]: [string, any]) => s.default !== undefined).map(([k, s]: [string, any]) => [k, s.default]));
        const level = own.enforcementLevel ?? given.all?.enforcementLevel;
        resolved[policy.name] = { ...defaults, ...own, ...(level ? { enforcementLevel: level } : {}) };
    }
    return resolved;
}

function describe(r: { type: string; name: string }): string {
    return `${r.type}::${r.name}`;
}

export function evaluatePack(pack: PolicyPackArgs, resources: EvaluatedResource[], configFile: PackConfigFile = {}): Violation[] {
    const config = resolvePackConfig(pack, configFile);
    const violations: Violation[] = [];

    const byUrn = new Map<string, PolicyResource>();
    const policyResources: PolicyResource[] = resources.map((r) => {
        const props = unknownCheckingProxy(r.props);
        const resource: PolicyResource = {
            type: r.type,
            name: r.name,
            urn: r.urn,
            props,
            opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 } } as any,
            dependencies: [],
            propertyDependencies: {},
            isType: (cls: any) => cls?.__pulumiType === r.type,
            asType: ((cls: any) => (cls?.__pulumiType === r.type ? props : undefined)) as any,
        };
        byUrn.set(r.urn, resource);
        return resource;
    });
    resources.forEach((r, i) => (policyResources[i].dependencies = r.dependencies.map((u) => byUrn.get(u)).filter((d): d is PolicyResource => d !== undefined)));

    for (const policy of pack.policies) {
        const { enforcementLevel: configured, ...properties } = config[policy.name] ?? {};
        let level = configured ?? policy.enforcementLevel ?? pack.enforcementLevel ?? "advisory";
        if (level === "disabled") continue;
        if (level === "remediate") level = "mandatory"; // a violation that remediation left behind
        const getConfig = <T extends object>() => properties as T;
        const notApplicable = (reason?: string): never => {
            throw new NotApplicable(reason);
        };
        const run = (what: string, validate: (report: (message: string, urn?: string) => void) => unknown, where: (urn?: string) => string) => {
            const report = (message: string, urn?: string) => violations.push({ policy: policy.name, level: level as Violation["level"], resource: where(urn), message });
            try {
                const result = validate(report);
                if (result instanceof Promise) throw new Error(`policy ${policy.name} is asynchronous; the offline evaluator runs synchronous policies only`);
            } catch (e) {
                if (e instanceof NotApplicable) return;
                // The engine downgrades a policy that read an unknown value to an advisory note.
                if (e instanceof UnknownValueError) {
                    violations.push({ policy: policy.name, level: "advisory", resource: where(), message: `can't run policy '${policy.name}' during preview: ${(e as Error).message}` });
                    return;
                }
                throw new Error(`policy ${policy.name} failed on ${what}: ${(e as Error).message}`);
            }
        };

        const validateResource = (policy as ResourceValidationPolicy).validateResource;
        if (validateResource) {
            for (const r of policyResources) {
                for (const validate of [validateResource].flat()) {
                    const args = { type: r.type, name: r.name, urn: r.urn, props: r.props, opts: r.opts, isType: r.isType, asType: r.asType, getConfig, notApplicable, stackTags: new Map() };
                    run(describe(r), (report) => validate(args as any, report), () => describe(r));
                }
            }
        }
        const validateStack = (policy as StackValidationPolicy).validateStack;
        if (validateStack) {
            run(
                "the stack",
                (report) => validateStack({ resources: policyResources, getConfig, notApplicable, stackTags: new Map() } as any, report),
                (urn) => {
                    const r = urn ? byUrn.get(urn) : undefined;
                    return r ? describe(r) : "(stack)";
                },
            );
        }
    }
    return violations;
}

/** Recorded mock registrations as the engine shows them to policies: inputs plus the id. */
export function fromRecorded(resources: { type: string; name: string; urn: string; id: string; inputs: Record<string, any>; dependencies: string[] }[]): EvaluatedResource[] {
    return resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: { ...r.inputs, id: r.id }, dependencies: r.dependencies }));
}

/** resource · policy · level · message, mandatory first. */
export function formatViolations(violations: Violation[]): string {
    if (violations.length === 0) return "no policy violations";
    const sorted = [...violations].sort((a, b) => Number(b.level === "mandatory") - Number(a.level === "mandatory"));
    const header = ["resource", "policy", "level", "message"];
    const rows = sorted.map((v) => [v.resource, v.policy, v.level, v.message]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
    return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
