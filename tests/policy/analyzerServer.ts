import { PolicyPackArgs } from "@pulumi/policy";
import { EvaluatedResource, Violation } from "../../scripts/policy/evaluate";

/**
 * Drives @pulumi/policy's own analyzer RPC handlers (server.js, what `pulumi preview --policy-pack`
 * talks to over gRPC) with requests built from the same resources, so tests can check that the
 * in-process evaluator reports exactly what the engine would. Default pack config only: the
 * server keeps config in module state set by the `configure` RPC.
 */

const server = require("@pulumi/policy/server") as {
    makeAnalyzeRpcFun(name: string, version: string, level: string, policies: PolicyPackArgs["policies"]): (call: unknown, callback: (err: unknown, resp: any) => void) => Promise<void>;
    makeAnalyzeStackRpcFun(name: string, version: string, level: string, policies: PolicyPackArgs["policies"]): (call: unknown, callback: (err: unknown, resp: any) => void) => Promise<void>;
};

const LEVEL_NAMES: Record<number, Violation["level"]> = { 0: "advisory", 1: "mandatory" };

function options() {
    return {
        getProtect: () => false,
        getIgnorechangesList: () => [],
        getAliasesList: () => [],
        getCustomtimeouts: () => undefined,
        getAdditionalsecretoutputsList: () => [],
        getDeletebeforereplacedefined: () => false,
        getParent: () => "",
    };
}

function request(r: EvaluatedResource) {
    const props = JSON.parse(JSON.stringify(r.props));
    return {
        getType: () => r.type,
        getName: () => r.name,
        getUrn: () => r.urn,
        getProperties: () => ({ toJavaScript: () => props }),
        getOptions: options,
        getProvider: () => undefined,
        getParent: () => "",
        getDependenciesList: () => r.dependencies,
        getPropertydependenciesMap: () => undefined,
    };
}

function call(handler: ReturnType<typeof server.makeAnalyzeRpcFun>, req: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
        handler({ request: req }, (err, resp) => (err ? reject(err) : resolve(resp))).catch(reject);
    });
}

export async function analyzeWithPolicyServer(pack: PolicyPackArgs, resources: EvaluatedResource[]): Promise<Violation[]> {
    const level = pack.enforcementLevel ?? "advisory";
    const analyze = server.makeAnalyzeRpcFun("devsecops-stack", "0.0.0", level, pack.policies);
    const analyzeStack = server.makeAnalyzeStackRpcFun("devsecops-stack", "0.0.0", level, pack.policies);
    const byUrn = new Map(resources.map((r) => [r.urn, `${r.type}::${r.name}`]));
    // The server prefixes each message with the policy's description; the evaluator keeps them apart.
    const toViolations = (resp: any, fallback: string): Violation[] =>
        resp.getDiagnosticsList().map((d: any) => ({
            policy: d.getPolicyname(),
            level: LEVEL_NAMES[d.getEnforcementlevel()],
            resource: d.getUrn() ? (byUrn.get(d.getUrn()) ?? d.getUrn()) : fallback,
            message: String(d.getMessage()).slice(d.getDescription() ? d.getDescription().length + 1 : 0),
        }));
    const violations: Violation[] = [];
    for (const r of resources) violations.push(...toViolations(await call(analyze, request(r)), `${r.type}::${r.name}`));
    violations.push(...toViolations(await call(analyzeStack, { getResourcesList: () => resources.map(request) }), "(stack)"));
    return violations;
}
