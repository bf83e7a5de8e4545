import * as http from "node:http";
import { AddressInfo } from "node:net";

/**
 * A Grafana stand-in serving the documented HTTP API shapes verify uses (/api/health,
 * /api/dashboards/uid/<uid>, /api/datasources, /api/ds/query). /api/ds/query is answered
 * by the real Prometheus, converted to data frames, so panels have data only when Prometheus does.
 */

export const STUB_DATASOURCE_UID = "devsecops-prometheus";

export interface GrafanaStub {
    url: string;
    /** Every request the stub saw: method, path and whether the credentials were right. */
    requests: { method: string; path: string; authorized: boolean; body?: unknown }[];
    stop(): Promise<void>;
}

export interface GrafanaStubOptions {
    prometheusUrl: string;
    token: string;
    dashboards: Record<string, unknown>;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
}

async function prometheusToFrames(prometheusUrl: string, refId: string, expr: string): Promise<unknown> {
    const r = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== "success") return { error: body.error ?? "query failed", errorSource: "downstream", status: 400, frames: [] };
    return {
        status: 200,
        frames: (body.data?.result ?? []).map((series) => ({
            schema: {
                refId,
                meta: { type: "numeric-multi", typeVersion: [0, 1], executedQueryString: `Expr: ${expr}` },
                fields: [
                    { name: "Time", type: "time", typeInfo: { frame: "time.Time" } },
                    { name: "Value", type: "number", typeInfo: { frame: "float64" }, labels: series.metric },
                ],
            },
            data: { values: [[series.value[0] * 1000], [Number(series.value[1])]] },
        })),
    };
}

export async function startGrafanaStub(options: GrafanaStubOptions): Promise<GrafanaStub> {
    const requests: GrafanaStub["requests"] = [];
    const server = http.createServer((req, res) => {
        let text = "";
        req.on("data", (c) => (text += c));
        req.on("end", async () => {
            const path = (req.url ?? "/").split("?")[0];
            const authorized = req.headers.authorization === `Bearer ${options.token}`;
            const body = text ? JSON.parse(text) : undefined;
            requests.push({ method: req.method ?? "GET", path, authorized, body });
            try {
                if (path === "/api/health") return send(res, 200, { commit: "stub", database: "ok", version: "13.2.3" });
                if (!authorized) return send(res, 401, { message: "Invalid API key", messageId: "api-key.invalid", statusCode: 401 });
                const dashboard = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path);
                if (dashboard && req.method === "GET") {
                    const found = options.dashboards[decodeURIComponent(dashboard[1])];
                    if (!found) return send(res, 404, { message: "Dashboard not found" });
                    return send(res, 200, { dashboard: { id: 7, version: 1, ...(found as object) }, meta: { type: "db", slug: "devsecops-observability", folderUid: "devsecops", provisioned: false } });
                }
                if (path === "/api/datasources" && req.method === "GET") {
                    return send(res, 200, [{ id: 1, uid: STUB_DATASOURCE_UID, orgId: 1, name: "Prometheus", type: "prometheus", access: "proxy", url: "http://localhost:9090", isDefault: true, readOnly: false }]);
                }
                if (path === "/api/ds/query" && req.method === "POST") {
                    const results: Record<string, unknown> = {};
                    for (const q of body.queries as { refId: string; expr: string; datasource: { uid: string } }[]) {
                        results[q.refId] = q.datasource?.uid === STUB_DATASOURCE_UID
                            ? await prometheusToFrames(options.prometheusUrl, q.refId, q.expr)
                            : { error: `data source with uid ${q.datasource?.uid} not found`, status: 404, frames: [] };
                    }
                    return send(res, 200, { results });
                }
                return send(res, 404, { message: "Not found" });
            } catch (e) {
                return send(res, 500, { message: (e as Error).message });
            }
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        stop: () => new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        }),
    };
}
