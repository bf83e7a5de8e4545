import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * ALB listener-rule limits that mocks never enforce (ELB User Guide, "Condition types for listener
 * rules"): at most three match evaluations (values) per condition, at most five per rule, at most
 * one each of host-header, http-request-method, path-pattern and source-ip per rule; and one
 * priority per rule on a listener (CreateRule fails with PriorityInUse).
 */
export const MAX_VALUES_PER_CONDITION = 3;
export const MAX_VALUES_PER_RULE = 5;
const ONE_PER_RULE = ["hostHeader", "httpRequestMethod", "pathPattern", "sourceIp"] as const;

function conditionValues(condition: Record<string, { values?: unknown[] } | undefined>): { kind: string; count: number }[] {
    return Object.entries(condition)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([kind, v]) => ({ kind, count: Array.isArray(v?.values) ? v!.values!.length : 1 }));
}

export function checkListenerRules(resources: StackResource[]): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    const priorities = new Map<string, string>();
    for (const r of resources.filter((x) => x.type === "aws:lb/listenerRule:ListenerRule")) {
        const finding = (message: string) => findings.push({ check: "listener-rules", resource: resourceKey(r), message });
        const conditions = (r.inputs.conditions ?? []) as Record<string, { values?: unknown[] }>[];
        const all = conditions.flatMap(conditionValues);
        for (const c of all) {
            if (c.count > MAX_VALUES_PER_CONDITION) finding(`a ${c.kind} condition with ${c.count} values: at most ${MAX_VALUES_PER_CONDITION} per condition (split it into several rules)`);
        }
        const total = all.reduce((n, c) => n + c.count, 0);
        if (total > MAX_VALUES_PER_RULE) finding(`${total} match evaluations: at most ${MAX_VALUES_PER_RULE} per rule`);
        for (const kind of ONE_PER_RULE) {
            const n = all.filter((c) => c.kind === kind).length;
            if (n > 1) finding(`${n} ${kind} conditions: at most one per rule`);
        }
        const key = `${JSON.stringify(r.inputs.listenerArn)}#${r.inputs.priority}`;
        const other = priorities.get(key);
        if (r.inputs.priority !== undefined && other) finding(`priority ${r.inputs.priority} is also ${other}'s on the same listener (PriorityInUse)`);
        else priorities.set(key, r.name);
    }
    return findings;
}
