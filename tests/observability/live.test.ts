import { expect } from "chai";
import { httpRequest, LocalObservability, startLocalObservability } from "../../scripts/local/harness";
import { loadDashboardJson } from "../../dashboards";

/**
 * The real app, node_exporter, Prometheus and Alertmanager on 127.0.0.1 with the repo's
 * rendered configs (1 s scrape/evaluation, 5 s `for:`; the real durations are proven by
 * the promtool unit tests).
 */

interface PromVectorAnswer {
    status: string;
    error?: string;
    data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

interface PromAlert {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    state: string;
}

async function promQuery(prom: string, query: string): Promise<PromVectorAnswer> {
    const r = await httpRequest(`${prom}/api/v1/query?query=${encodeURIComponent(query)}`);
    return JSON.parse(r.body);
}

async function promAlerts(prom: string): Promise<PromAlert[]> {
    return JSON.parse((await httpRequest(`${prom}/api/v1/alerts`)).body).data.alerts;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 500): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError = "";
    while (Date.now() < deadline) {
        const v = await probe().catch((e: Error) => {
            lastError = e.message;
            return undefined;
        });
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}`);
}

describe("observability: live Prometheus, Alertmanager and node_exporter against the real app", function () {
    this.timeout(120_000);
    let local: LocalObservability | undefined;
    let stopTraffic: () => void = () => undefined;

    before(async function () {
        this.timeout(90_000); // may build the app first
        local = await startLocalObservability();
    });
    after(async () => {
        stopTraffic();
        await local?.stop();
    });

    it("scrapes app, node_exporter, Prometheus and Alertmanager: every target up, instance = the host", async () => {
        const up = await waitFor(
            "4 targets up",
            async () => {
                const r = await promQuery(local!.prometheusUrl, "up");
                const values = r.data.result.map((x) => `${x.metric.job}@${x.metric.instance}=${x.value[1]}`).sort();
                return values.length === 4 && values.every((v) => v.endsWith("=1")) ? values : undefined;
            },
            30_000,
        );
        expect(up).to.deep.equal(["alertmanager@127.0.0.1=1", "app@127.0.0.1=1", "node@127.0.0.1=1", "prometheus@127.0.0.1=1"]);
    });

    it("with no traffic HighErrorRate never went pending, although the request rate is recorded", async () => {
        // The harness's readiness probes hit /health, so the app has request series; then it idles.
        await waitFor("a recorded request rate", async () => ((await promQuery(local!.prometheusUrl, "instance:http_requests:rate5m")).data.result.length > 0 ? true : undefined), 30_000);
        await new Promise((r) => setTimeout(r, 3000)); // a few more 1 s evaluations
        const ever = await promQuery(local!.prometheusUrl, 'count_over_time(ALERTS{alertname="HighErrorRate"}[1h])');
        expect(ever.status).to.equal("success");
        expect(ever.data.result, "HighErrorRate was active at some point while idle").to.deep.equal([]);
    });

    it("answers the architecture document's PromQL checks with data once traffic flows", async () => {
        stopTraffic = local!.startTraffic(30);
        for (const q of ["sum(rate(http_requests_total[1m]))", "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))"]) {
            const value = await waitFor(
                q,
                async () => {
                    const v = (await promQuery(local!.prometheusUrl, q)).data.result[0]?.value[1];
                    return v !== undefined && Number(v) > 0 ? Number(v) : undefined;
                },
                30_000,
            );
            expect(value, q).to.be.greaterThan(0);
        }
    });

    it("every dashboard panel query returns data, with the instance variable at All and at one host", async () => {
        const dash = JSON.parse(loadDashboardJson());
        const instanceVar = dash.templating.list.find((v: { name: string }) => v.name === "instance");
        // label_values(<selector>, instance) as Grafana runs it: the label values API with match[].
        const m = /^label_values\((.+), *instance\)$/.exec(instanceVar.definition);
        expect(m, instanceVar.definition).to.not.equal(null);
        const labelValues = JSON.parse((await httpRequest(`${local!.prometheusUrl}/api/v1/label/instance/values?match[]=${encodeURIComponent(m![1])}`)).body);
        expect(labelValues.data).to.deep.equal(["127.0.0.1"]);

        const targets: { panel: string; expr: string }[] = dash.panels.flatMap((p: { title: string; targets: { expr: string }[] }) =>
            p.targets.map((t) => ({ panel: p.title, expr: t.expr })),
        );
        expect(targets.length).to.be.greaterThan(10);
        for (const instance of [instanceVar.allValue as string, labelValues.data[0] as string]) {
            for (const { panel, expr } of targets) {
                const q = expr.replace(/\$instance/g, instance);
                // Recorded series need a few evaluations after traffic starts.
                await waitFor(
                    `data for panel "${panel}": ${q}`,
                    async () => {
                        const r = await promQuery(local!.prometheusUrl, q);
                        if (r.status !== "success") throw new Error(`${r.status}: ${r.error}`);
                        return r.data.result.length > 0 ? true : undefined;
                    },
                    20_000,
                );
            }
        }
    });

    it("synthetic 5xx raise HighErrorRate to pending, then firing, then into Alertmanager; prints breach → pending", async () => {
        const breach = Date.now();
        await local!.setFaultRatio(0.5);
        try {
            const states: string[] = [];
            let pendingAt = 0;
            let firingAt = 0;
            await waitFor(
                "HighErrorRate firing",
                async () => {
                    const a = (await promAlerts(local!.prometheusUrl)).find((x) => x.labels.alertname === "HighErrorRate");
                    if (a && states[states.length - 1] !== a.state) states.push(a.state);
                    if (a?.state === "pending" && !pendingAt) pendingAt = Date.now();
                    if (a?.state === "firing") firingAt = Date.now();
                    return firingAt ? true : undefined;
                },
                60_000,
                200,
            );
            expect(states, "states seen, in order").to.deep.equal(["pending", "firing"]);
            const inAlertmanager = await waitFor(
                "HighErrorRate in Alertmanager",
                async () => {
                    const alerts: PromAlert[] = JSON.parse((await httpRequest(`${local!.alertmanagerUrl}/api/v2/alerts`)).body);
                    return alerts.find((a) => a.labels.alertname === "HighErrorRate");
                },
                30_000,
            );
            expect(inAlertmanager.labels).to.include({ severity: "critical", job: "app", instance: "127.0.0.1" });
            expect(inAlertmanager.annotations.runbook_url).to.match(/docs\/runbooks\.md#higherrorrate$/);
            expect(inAlertmanager.annotations.description).to.match(/^\d+(\.\d+)?% of requests to app on 127\.0\.0\.1 answered 5xx/);
            console.log(
                `      breach → pending ${((pendingAt - breach) / 1000).toFixed(1)} s, pending → firing ${((firingAt - pendingAt) / 1000).toFixed(1)} s ` +
                    `(1 s scrape and evaluation, for: 5s, 50 % errors at ~30 req/s)`,
            );
        } finally {
            await local!.setFaultRatio(0);
        }
    });
});
