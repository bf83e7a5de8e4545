import { Check, CheckOutcome, fail, pass } from "./checkResult";
import { explainHttpError, MONITORING_REACH_HINT } from "./failureHints";
import { HttpStatusError, httpJson, joinUrl } from "./httpJson";
import { atMonitoringEndpoint, monitoringEndpoint } from "./monitoringEndpoint";
import { StackOutputs } from "./stackOutputs";

/** §4.1 and §4.2 of the architecture document: targets UP, and the PromQL checks return data. */

const REQUEST_TIMEOUT_MS = 10_000;
/** Jobs whose targets must exist: the app and its host's node_exporter. */
export const REQUIRED_JOBS = ["app", "node"];
export const DOCUMENT_QUERIES = [
    { label: "request rate", expr: "sum(rate(http_requests_total[1m]))", unit: "req/s" },
    { label: "latency p95", expr: "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))", unit: "s" },
];

export interface TargetsResponse {
    status: string;
    data: { activeTargets: { labels: Record<string, string>; scrapeUrl: string; health: "up" | "down" | "unknown"; lastError: string }[] };
}

export interface QueryResponse {
    status: string;
    error?: string;
    data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

function prometheusFailure(e: unknown, url: string): CheckOutcome {
    if (e instanceof HttpStatusError) return fail(`Prometheus answered HTTP ${e.status} at ${e.url}`, "is prometheusUrl really Prometheus? Check the prometheus container on the monitoring host (docker logs prometheus via SSM)");
    return explainHttpError(e, { service: "Prometheus", url, reachHint: MONITORING_REACH_HINT }, REQUEST_TIMEOUT_MS);
}

export async function checkPrometheusTargets(prometheusUrl: string, signal?: AbortSignal): Promise<CheckOutcome> {
    const url = joinUrl(prometheusUrl, "/api/v1/targets?state=active");
    let response: TargetsResponse;
    try {
        response = await httpJson<TargetsResponse>(url, { timeoutMs: REQUEST_TIMEOUT_MS, signal });
    } catch (e) {
        return prometheusFailure(e, prometheusUrl);
    }
    return evaluateTargets(response);
}

/** Separate from the fetch so the verdict can be tested on a real /api/v1/targets answer with a target marked down. */
export function evaluateTargets(response: TargetsResponse): CheckOutcome {
    const targets = response.data.activeTargets;
    const up = targets.filter((t) => t.health === "up");
    const byJob = new Map<string, { up: number; total: number }>();
    for (const t of targets) {
        const job = t.labels.job ?? "?";
        const entry = byJob.get(job) ?? { up: 0, total: 0 };
        entry.total++;
        if (t.health === "up") entry.up++;
        byJob.set(job, entry);
    }
    const perJob = [...byJob].map(([job, n]) => `${job} ${n.up}/${n.total}`).join(", ");
    const summary = `${up.length}/${targets.length} targets up${perJob ? ` (${perJob})` : ""}`;
    const missingJobs = REQUIRED_JOBS.filter((job) => !byJob.has(job));
    if (missingJobs.length > 0) {
        return fail(
            `${summary}; no target for job ${missingJobs.join(", ")}`,
            "Prometheus discovers the app host by EC2 service discovery: the app instance must be running and carry the stack's discovery tag, and the monitoring role needs ec2:DescribeInstances",
        );
    }
    const down = targets.filter((t) => t.health !== "up");
    if (down.length > 0) {
        const detail = down.map((t) => `${t.labels.job} ${t.labels.instance ?? t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}`).join("; ");
        return fail(
            `${summary}; ${detail}`,
            "the app host's security group (Pulumi resource app-sg) must admit 3000 and 9100 from the monitoring host's security group, and the app and node-exporter containers must run (docker ps on the app host via SSM Session Manager)",
        );
    }
    return pass(summary);
}

export async function queryPrometheus(prometheusUrl: string, expr: string, signal?: AbortSignal): Promise<QueryResponse> {
    return httpJson<QueryResponse>(joinUrl(prometheusUrl, `/api/v1/query?query=${encodeURIComponent(expr)}`), { timeoutMs: REQUEST_TIMEOUT_MS, signal });
}

function formatValue(value: string, unit: string): string {
    const n = Number(value);
    if (Number.isNaN(n)) return "NaN (no requests in the window)";
    return `${n < 0.01 && n > 0 ? n.toExponential(2) : n.toFixed(3)} ${unit}`;
}

export async function checkDocumentQueries(prometheusUrl: string, signal?: AbortSignal): Promise<CheckOutcome> {
    const found: string[] = [];
    const empty: string[] = [];
    for (const q of DOCUMENT_QUERIES) {
        let response: QueryResponse;
        try {
            response = await queryPrometheus(prometheusUrl, q.expr, signal);
        } catch (e) {
            if (e instanceof HttpStatusError && e.status === 400) return fail(`Prometheus rejected ${q.expr}: ${e.body.slice(0, 200)}`, "the query is the architecture document's; check the Prometheus version");
            return prometheusFailure(e, prometheusUrl);
        }
        const first = response.data.result[0];
        if (first) found.push(`${q.label} ${formatValue(first.value[1], q.unit)}`);
        else empty.push(q.expr);
    }
    if (empty.length > 0) {
        return fail(
            `no data for ${empty.join(" and ")}${found.length ? `; ${found.join(", ")}` : ""}`,
            "Prometheus has no request metrics from the app yet: check the app target is up, then send it traffic (the app is private: through an SSM port-forward tunnel)",
        );
    }
    return pass(found.join(", "));
}

/** `prometheusUrl`: the --prometheus-url flag (a tunnel), else the output when it is a URL. */
export function prometheusChecks(outputs: StackOutputs, prometheusUrl?: string): Check[] {
    const at = () => monitoringEndpoint("prometheus", outputs, prometheusUrl);
    return [
        { group: "prometheus", name: "Prometheus targets up", required: true, timeoutMs: 20_000, run: (signal) => atMonitoringEndpoint(at(), (url) => checkPrometheusTargets(url, signal)) },
        { group: "prometheus", name: "Prometheus queries return data", required: true, timeoutMs: 30_000, run: (signal) => atMonitoringEndpoint(at(), (url) => checkDocumentQueries(url, signal)) },
    ];
}
