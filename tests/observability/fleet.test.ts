import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_ALERT_THRESHOLDS, renderAlertRules, renderPrometheusConfig, renderRecordingRules } from "../../prometheus";
import { findBinary, freePort, httpRequest } from "../../scripts/local/harness";

/**
 * Two app processes as two hosts of one Auto Scaling group: both carry the same `name`
 * (the group's shared Name tag), each its own `instance` (as EC2 discovery now sets it from
 * the instance id). A real Prometheus on 127.0.0.1 (1 s scrape and evaluation, `for: 5s`)
 * must keep two series apart and fire HighErrorRate for the failing host only.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const FAULT_TOKEN = "fleet-test-drill-token-0123456789abcdef";
const FAULT_AUTH = { authorization: `Bearer ${FAULT_TOKEN}` };
const HOSTS = [
    { instance: "i-0aaaaaaaaaaaaaaa1", name: "devsecops-stack-dev-app" },
    { instance: "i-0bbbbbbbbbbbbbbb2", name: "devsecops-stack-dev-app" },
];

async function query(prom: string, q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = JSON.parse((await httpRequest(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).body);
    if (r.status !== "success") throw new Error(`${q}: ${r.error}`);
    return r.data.result;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const v = await probe().catch(() => undefined);
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe("observability: two hosts with one Name tag stay two series; HighErrorRate fires for the failing one only (live)", function () {
    this.timeout(120_000);
    const children: ChildProcess[] = [];
    let dir = "";
    let prom = "";
    const apps: string[] = [];
    let traffic: NodeJS.Timeout | undefined;

    before(async function () {
        this.timeout(90_000);
        const prometheus = findBinary("prometheus");
        if (!fs.existsSync(path.join(ROOT, "app", "dist", "main.js"))) {
            const b = spawnSync("npm", ["run", "build", "-w", "app"], { cwd: ROOT, encoding: "utf8" });
            if (b.status !== 0) throw new Error(`app build failed: ${b.stdout}${b.stderr}`);
        }
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-fleet-"));
        const ports = [await freePort(), await freePort()];
        const promPort = await freePort();
        const unusedAlertmanager = await freePort();
        fs.writeFileSync(path.join(dir, "recording_rules.yml"), renderRecordingRules());
        fs.writeFileSync(path.join(dir, "alert_rules.yml"), renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { durations: { errorRate: "5s" } }));
        fs.writeFileSync(
            path.join(dir, "prometheus.yml"),
            renderPrometheusConfig({
                targets: {
                    kind: "static",
                    app: HOSTS.map((h, i) => ({ target: `127.0.0.1:${ports[i]}`, instance: h.instance, name: h.name })),
                    node: [],
                    prometheus: [`127.0.0.1:${promPort}`],
                    alertmanager: [],
                },
                ruleFiles: [path.join(dir, "*_rules.yml")],
                alertmanagers: [`127.0.0.1:${unusedAlertmanager}`],
                scrapeInterval: "1s",
                evaluationInterval: "1s",
            }),
        );
        const launch = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
            const c = spawn(cmd, args, { cwd: dir, env: { PATH: process.env.PATH, ...env }, stdio: "ignore" });
            children.push(c);
            return c;
        };
        ports.forEach((port) => {
            launch(process.execPath, [path.join(ROOT, "app", "dist", "main.js")], { PORT: String(port), HOST: "127.0.0.1", FAULT_INJECTION: "true", FAULT_INJECTION_TOKEN: FAULT_TOKEN, FAULT_ERROR_RATIO: "0", LOG_LEVEL: "warn" });
            apps.push(`http://127.0.0.1:${port}`);
        });
        launch(prometheus, [`--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${promPort}`]);
        prom = `http://127.0.0.1:${promPort}`;
        for (const url of [...apps.map((a) => `${a}/health`), `${prom}/-/ready`]) {
            await waitFor(url, async () => ((await httpRequest(url)).status === 200 ? true : undefined), 20_000);
        }
        // ~20 requests per second to each host.
        traffic = setInterval(() => {
            for (const a of apps) for (let i = 0; i < 2; i++) httpRequest(`${a}/`).catch(() => undefined);
        }, 100);
    });

    after(async () => {
        if (traffic) clearInterval(traffic);
        for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
        await Promise.all(
            children.map((c) =>
                c.exitCode !== null || c.signalCode !== null
                    ? Promise.resolve()
                    : new Promise<void>((resolve) => {
                          const t = setTimeout(() => c.kill("SIGKILL"), 5000);
                          c.once("exit", () => {
                              clearTimeout(t);
                              resolve();
                          });
                      }),
            ),
        );
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("two distinct request-rate series, one per instance id, both with the shared name; the dashboard variable lists both", async () => {
        const series = await waitFor(
            "two recorded request rates",
            async () => {
                const r = await query(prom, "instance:http_requests:rate5m");
                return r.length === 2 && r.every((x) => Number(x.value[1]) > 0) ? r : undefined;
            },
            30_000,
        );
        expect(series.map((s) => s.metric.instance).sort()).to.deep.equal(HOSTS.map((h) => h.instance));
        const up = await query(prom, 'up{job="app"}');
        expect(up.map((u) => `${u.metric.instance}/${u.metric.name}`).sort()).to.deep.equal(HOSTS.map((h) => `${h.instance}/${h.name}`));
        // The dashboard's instance variable: label_values(up{job="app"}, instance).
        const values = JSON.parse((await httpRequest(`${prom}/api/v1/label/instance/values?match[]=${encodeURIComponent('up{job="app"}')}`)).body).data;
        expect(values).to.deep.equal(HOSTS.map((h) => h.instance));
    });

    it("an error burst on one host fires HighErrorRate for that instance only; prints breach → firing", async () => {
        const breach = Date.now();
        const r = await httpRequest(`${apps[0]}/fault`, "PUT", JSON.stringify({ errorRatio: 0.5 }), FAULT_AUTH);
        expect(r.status).to.equal(200);
        try {
            const firing = await waitFor(
                "HighErrorRate firing",
                async () => {
                    const a = await query(prom, 'ALERTS{alertname="HighErrorRate",alertstate="firing"}');
                    return a.length > 0 ? a : undefined;
                },
                60_000,
            );
            const firedAfter = (Date.now() - breach) / 1000;
            expect(firing.map((a) => a.metric.instance)).to.deep.equal([HOSTS[0].instance]);
            // A few more evaluations: the healthy host never went even pending.
            await new Promise((res) => setTimeout(res, 3000));
            const other = await query(prom, `count_over_time(ALERTS{alertname="HighErrorRate",instance="${HOSTS[1].instance}"}[1h])`);
            expect(other, "the healthy host's HighErrorRate").to.deep.equal([]);
            console.log(`      breach → HighErrorRate firing for ${HOSTS[0].instance} only: ${firedAfter.toFixed(1)} s (1 s scrape and evaluation, for: 5s, 50 % errors)`);
        } finally {
            await httpRequest(`${apps[0]}/fault`, "PUT", JSON.stringify({ errorRatio: 0 }), FAULT_AUTH).catch(() => undefined);
        }
    });
});
