import { expect } from "chai";
import { httpRequest, LocalObservability, startLocalObservability } from "../../scripts/local/harness";
import { loadDashboardJson } from "../../dashboards";

async function promQuery(prom: string, query: string): Promise<{ status: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string }> {
    const r = await httpRequest(`${prom}/api/v1/query?query=${encodeURIComponent(query)}`);
    return JSON.parse(r.body);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const v = await probe().catch(() => undefined);
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe("observability: live Prometheus, Alertmanager and node_exporter against the real app", function () {
    this.timeout(120_000);
    let local: LocalObservability;
    let stopTraffic: () => void = () => undefined;

    before(async () => {
        local = await startLocalObservability();
    });
    after(async () => {
        stopTraffic();
        await local?.stop();
    });

    it("scrapes app, node_exporter, Prometheus and Alertmanager: all targets up", async () => {
        const up = await waitFor("4 targets up", async () => {
            const r = await promQuery(local.prometheusUrl, "up");
            const values = r.data.result.map((x) => `${x.metric.job}=${x.value[1]}`).sort();
            return values.length === 4 && values.every((v) => v.endsWith("=1")) ? values : undefined;
        }, 30_000);
        expect(up).to.deep.equal(["alertmanager=1", "app=1", "node=1", "prometheus=1"]);
    });

    it("with no traffic, HighErrorRate is neither pending nor firing", async () => {
        await new Promise((r) => setTimeout(r, 3000));
        const r = JSON.parse((await httpRequest(`${local.prometheusUrl}/api/v1/alerts`)).body);
        expect(r.data.alerts.filter((a: any) => a.labels.alertname === "HighErrorRate")).to.deep.equal([]);
    });

    it("answers the architecture document's PromQL checks with data once traffic flows", async () => {
        stopTraffic = local.startTraffic(30);
        for (const q of ["sum(rate(http_requests_total[1m]))", "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))"]) {
            const value = await waitFor(q, async () => {
                const r = await promQuery(local.prometheusUrl, q);
                const v = r.data.result[0]?.value[1];
                return v !== undefined && Number(v) > 0 ? Number(v) : undefined;
            }, 30_000);
            expect(value, q).to.be.greaterThan(0);
        }
    });

    it("evaluates every dashboard query without error, and the RED and host panels have data", async () => {
        const dash = JSON.parse(loadDashboardJson());
        for (const panel of dash.panels) {
            for (const t of panel.targets) {
                const q = t.expr.replace(/\$instance/g, ".*");
                const r = await promQuery(local.prometheusUrl, q);
                expect(r.status, `${panel.title}: ${q} → ${r.error}`).to.equal("success");
            }
        }
        // Recorded series need a couple of evaluations before the RED and host panels show data.
        await waitFor("recorded RED and node series", async () => {
            const names = ["job:http_requests:rate5m", "job:http_request_duration_seconds:p95_5m", "instance:node_cpu_utilisation:percent", "instance:node_memory_utilisation:percent"];
            const results = await Promise.all(names.map((n) => promQuery(local.prometheusUrl, n)));
            return results.every((r) => r.data.result.length > 0) ? true : undefined;
        }, 30_000);
    });

    it("fires HighErrorRate on synthetic 5xx and delivers it to Alertmanager; measures breach → pending", async () => {
        const breach = Date.now();
        await local.setFaultRatio(0.5);
        try {
            const pendingAt = await waitFor("HighErrorRate pending", async () => {
                const r = JSON.parse((await httpRequest(`${local.prometheusUrl}/api/v1/alerts`)).body);
                return r.data.alerts.some((a: any) => a.labels.alertname === "HighErrorRate") ? Date.now() : undefined;
            }, 60_000);
            await waitFor("HighErrorRate firing", async () => {
                const r = JSON.parse((await httpRequest(`${local.prometheusUrl}/api/v1/alerts`)).body);
                return r.data.alerts.some((a: any) => a.labels.alertname === "HighErrorRate" && a.state === "firing") ? true : undefined;
            }, 60_000);
            const inAlertmanager = await waitFor("HighErrorRate in Alertmanager", async () => {
                const r = JSON.parse((await httpRequest(`${local.alertmanagerUrl}/api/v2/alerts`)).body);
                return r.find((a: any) => a.labels.alertname === "HighErrorRate");
            }, 30_000);
            expect(inAlertmanager.labels.severity).to.equal("critical");
            expect(inAlertmanager.annotations.runbook_url).to.contain("#higherrorrate");
            console.log(`      breach → pending: ${((pendingAt - breach) / 1000).toFixed(1)} s (scrape and evaluation every 1 s)`);
        } finally {
            await local.setFaultRatio(0);
        }
    });
});
