import { DASHBOARD_UID } from "../../dashboards";
import { Check, CheckOutcome, fail, pass } from "./checkResult";
import { explainHttpError, MONITORING_REACH_HINT } from "./failureHints";
import { HttpStatusError, httpJson, joinUrl } from "./httpJson";
import { atMonitoringEndpoint, monitoringEndpoint } from "./monitoringEndpoint";
import { StackOutputs } from "./stackOutputs";

/**
 * §4.3: Grafana answers, the provisioned dashboard exists, and its panels' queries run through
 * Grafana itself (POST /api/ds/query) without error and return data, i.e. Grafana → datasource →
 * Prometheus works. Empty panels are named; only most panels being empty fails the check.
 */

const REQUEST_TIMEOUT_MS = 10_000;

/** Credentials from the environment only; never printed. Anonymous access is off on the stack's Grafana. */
export function grafanaAuthHeader(env: NodeJS.ProcessEnv): string | undefined {
    if (env.GRAFANA_TOKEN) return `Bearer ${env.GRAFANA_TOKEN}`;
    if (env.GRAFANA_USER && env.GRAFANA_PASSWORD) return `Basic ${Buffer.from(`${env.GRAFANA_USER}:${env.GRAFANA_PASSWORD}`).toString("base64")}`;
    return undefined;
}

const CREDENTIALS_HINT =
    "export GRAFANA_TOKEN=<service account token, Viewer role> or GRAFANA_USER=admin and GRAFANA_PASSWORD=<the secret in output grafanaAdminSecretArn: aws secretsmanager get-secret-value --secret-id <arn> --query SecretString --output text>";

function grafanaFailure(e: unknown, grafanaUrl: string): CheckOutcome {
    if (e instanceof HttpStatusError) {
        if (e.status === 401) return fail(`Grafana rejected the credentials (HTTP 401) at ${e.url}`, CREDENTIALS_HINT);
        if (e.status === 403) return fail(`Grafana denied access (HTTP 403) at ${e.url}`, "the token's service account needs at least the Viewer role and query permission on the Prometheus datasource");
        return fail(`Grafana answered HTTP ${e.status} at ${e.url}`, "check the grafana container on the monitoring host (docker logs grafana via SSM)");
    }
    return explainHttpError(e, { service: "Grafana", url: grafanaUrl, reachHint: MONITORING_REACH_HINT }, REQUEST_TIMEOUT_MS);
}

export async function checkGrafanaHealth(grafanaUrl: string, signal?: AbortSignal): Promise<CheckOutcome> {
    try {
        const health = await httpJson<{ database?: string; version?: string }>(joinUrl(grafanaUrl, "/api/health"), { timeoutMs: REQUEST_TIMEOUT_MS, signal });
        if (health.database !== "ok") return fail(`Grafana database: ${health.database ?? "unknown"}`, "Grafana's database is not healthy: check the grafana container's volume and logs");
        return pass(`Grafana ${health.version ?? "?"} healthy`);
    } catch (e) {
        return grafanaFailure(e, grafanaUrl);
    }
}

interface DatasourceRef {
    type?: string;
    uid?: string;
}
interface Panel {
    title?: string;
    type?: string;
    datasource?: DatasourceRef | string | null;
    targets?: { refId?: string; expr?: string; datasource?: DatasourceRef | string | null; hide?: boolean }[];
    panels?: Panel[];
}
interface DashboardResponse {
    dashboard: { title?: string; panels?: Panel[]; templating?: { list?: { name: string; type: string; query?: unknown; current?: { value?: unknown } }[] } };
}
interface DatasourceListEntry {
    uid: string;
    type: string;
    name: string;
    isDefault?: boolean;
}
interface DsQueryResponse {
    results: Record<string, { status?: number; error?: string; frames?: { data?: { values?: unknown[][] } }[] }>;
}

/** Rows may nest collapsed panels. */
function allPanels(panels: Panel[] = []): Panel[] {
    return panels.flatMap((p) => [p, ...allPanels(p.panels)]);
}

function concreteUid(ref: DatasourceRef | string | null | undefined): string | undefined {
    const uid = typeof ref === "string" ? ref : ref?.uid;
    return uid && !uid.startsWith("$") && uid !== "-- Mixed --" && uid !== "default" ? uid : undefined;
}

/** Grafana resolves dashboard variables in the browser, not in /api/ds/query: substitute them as "all". */
function withVariablesAsAll(expr: string, variableNames: string[]): string {
    let out = expr;
    for (const name of variableNames) out = out.split(`\${${name}}`).join(".*").split(`$${name}`).join(".*");
    return out;
}

export async function checkGrafanaDashboard(grafanaUrl: string, dashboardUid: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<CheckOutcome> {
    const auth = grafanaAuthHeader(env);
    if (!auth) return fail("no Grafana credentials (GRAFANA_TOKEN, or GRAFANA_USER and GRAFANA_PASSWORD)", CREDENTIALS_HINT);
    const headers = { authorization: auth };
    const get = <T>(path: string) => httpJson<T>(joinUrl(grafanaUrl, path), { headers, timeoutMs: REQUEST_TIMEOUT_MS, signal });
    let dash: DashboardResponse;
    try {
        dash = await get<DashboardResponse>(`/api/dashboards/uid/${encodeURIComponent(dashboardUid)}`);
    } catch (e) {
        if (e instanceof HttpStatusError && e.status === 404) {
            return fail(`dashboard uid ${dashboardUid} not found`, "the dashboard is provisioned by `pulumi up`: by the provider (grafanaProvisioning provider) or by the SSM config document's files (file; Grafana rescans them every 30 s). Run pulumi up, or check the monitoring-config association ran");
        }
        return grafanaFailure(e, grafanaUrl);
    }
    const variables = (dash.dashboard.templating?.list ?? []).filter((v) => v.type !== "datasource").map((v) => v.name);
    const datasourceVariable = (dash.dashboard.templating?.list ?? []).find((v) => v.type === "datasource");
    let fallbackUid = concreteUid(datasourceVariable?.current?.value as string | undefined);
    if (!fallbackUid) {
        try {
            const list = await get<DatasourceListEntry[]>("/api/datasources");
            const prometheus = list.filter((d) => d.type === "prometheus");
            fallbackUid = (prometheus.find((d) => d.isDefault) ?? prometheus[0])?.uid;
        } catch (e) {
            return grafanaFailure(e, grafanaUrl);
        }
    }

    const panels = allPanels(dash.dashboard.panels).filter((p) => (p.targets ?? []).some((t) => t.expr && !t.hide));
    const withData: string[] = [];
    const empty: string[] = [];
    const failed: string[] = [];
    for (const panel of panels) {
        const targets = (panel.targets ?? []).filter((t) => t.expr && !t.hide);
        const queries = targets.map((t, i) => {
            const uid = concreteUid(t.datasource) ?? concreteUid(panel.datasource) ?? fallbackUid;
            return { refId: t.refId ?? String.fromCharCode(65 + i), datasource: { type: "prometheus", uid }, expr: withVariablesAsAll(t.expr!, variables), instant: true, range: false, intervalMs: 15_000, maxDataPoints: 100 };
        });
        const title = panel.title || "(untitled)";
        if (queries.some((q) => !q.datasource.uid)) {
            failed.push(`${title} (no Prometheus datasource)`);
            continue;
        }
        let response: DsQueryResponse;
        try {
            response = await httpJson<DsQueryResponse>(joinUrl(grafanaUrl, "/api/ds/query"), { method: "POST", headers, body: { from: "now-15m", to: "now", queries }, timeoutMs: REQUEST_TIMEOUT_MS, signal });
        } catch (e) {
            if (e instanceof HttpStatusError && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 403) {
                failed.push(`${title} (HTTP ${e.status})`);
                continue;
            }
            return grafanaFailure(e, grafanaUrl);
        }
        const results = Object.values(response.results ?? {});
        const error = results.find((r) => r.error)?.error;
        const hasData = results.some((r) => (r.frames ?? []).some((f) => (f.data?.values ?? []).some((column) => column.length > 0)));
        if (error) failed.push(`${title} (${error.slice(0, 120)})`);
        else if (!hasData) empty.push(title);
        else withData.push(title);
    }
    const title = dash.dashboard.title ?? dashboardUid;
    if (panels.length === 0) return fail(`dashboard "${title}" has no panel queries`, "re-provision the dashboard: pulumi up");
    const summary = `dashboard "${title}": ${withData.length}/${panels.length} panels with data${empty.length ? `; no data: ${empty.join(", ")}` : ""}`;
    const datasourceHint =
        "check the Prometheus datasource (Grafana → Connections → Data sources → Test) and that Prometheus has the series (the Prometheus checks; recorded series need a few minutes after start)";
    if (failed.length > 0) return fail(`${summary}; query errors: ${failed.join(", ")}`, datasourceHint);
    // Some panels are legitimately empty (an error ratio while there are no 5xx); most being empty means no series at all.
    if (withData.length < panels.length / 2) return fail(summary, datasourceHint);
    return pass(summary);
}

/** `grafanaUrl`: the --grafana-url flag (a tunnel or the HTTPS name), else the output when it is a URL. */
export function grafanaChecks(outputs: StackOutputs, env: NodeJS.ProcessEnv, grafanaUrl?: string): Check[] {
    const at = () => monitoringEndpoint("grafana", outputs, grafanaUrl);
    return [
        { group: "grafana", name: "Grafana healthy", required: true, timeoutMs: 15_000, run: (signal) => atMonitoringEndpoint(at(), (url) => checkGrafanaHealth(url, signal)) },
        {
            group: "grafana",
            name: "Grafana dashboard panels have data",
            required: true,
            timeoutMs: 60_000,
            // The same uid whichever mechanism provisioned it (grafanaProvisioning provider or file).
            run: (signal) => atMonitoringEndpoint(at(), (url) => checkGrafanaDashboard(url, outputs.optionalString("grafanaDashboardUid") ?? DASHBOARD_UID, env, signal)),
        },
    ];
}
