import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
// eslint-disable-next-line @typescript-eslint/no-var-requires
const parsePrometheusTextFormat = require("parse-prometheus-text-format") as (text: string) => PromFamily[];
import { App, createApp, FaultInjector } from "../../app/src/server";
import { freePort } from "../../scripts/local/harness";
import { LogLines, Reply, request } from "../support/appHttp";
import { AppSettings, readSettings } from "../../app/src/settings";
import { createMetrics, LATENCY_BUCKETS } from "../../app/src/metrics";
import { imageLockDrift } from "../../app/scripts/syncImageLock";
import * as os from "node:os";

interface PromFamily {
    name: string;
    type: string;
    metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }[];
}

const APP_DIR = path.resolve(__dirname, "..", "..", "app");

const FAULT_TOKEN = "test-drill-token-0123456789abcdef0123";
const AUTH = { authorization: `Bearer ${FAULT_TOKEN}` };

function settings(overrides: Partial<AppSettings> = {}): AppSettings {
    return { ...readSettings({ HOST: "127.0.0.1", APP_VERSION: "1.2.3", GIT_COMMIT: "abc1234" }), faultInjectionToken: FAULT_TOKEN, ...overrides };
}




async function start(overrides: Partial<AppSettings> = {}): Promise<{ app: App; port: number; logs: LogLines }> {
    const logs = new LogLines();
    const app = createApp(settings(overrides), logs);
    await new Promise<void>((r) => app.server.listen(0, "127.0.0.1", r));
    return { app, port: (app.server.address() as AddressInfo).port, logs };
}

async function scrape(port: number): Promise<PromFamily[]> {
    const reply = await request(port, "GET", "/metrics");
    expect(reply.status).to.equal(200);
    expect(reply.headers["content-type"]).to.contain("text/plain");
    return parsePrometheusTextFormat(reply.body);
}

function family(families: PromFamily[], name: string): PromFamily {
    const f = families.find((x) => x.name === name);
    expect(f, `metric family ${name}`).to.not.equal(undefined);
    return f!;
}

type Sample = { labels: Record<string, string>; value: number };

/**
 * The series of a labelled histogram. parse-prometheus-text-format folds a typed histogram
 * into one unlabelled set of buckets, so the `# TYPE … histogram` line is dropped first and
 * the _bucket, _sum and _count lines are read as the plain samples they are.
 */
function histogramSeries(text: string, name: string): { bucket: Sample[]; sum: Sample[]; count: Sample[] } {
    const untyped = text.split("\n").filter((l) => l !== `# TYPE ${name} histogram`).join("\n");
    const samples = (suffix: string): Sample[] =>
        parsePrometheusTextFormat(untyped)
            .filter((f) => f.name === `${name}_${suffix}`)
            .flatMap((f) => f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })));
    return { bucket: samples("bucket"), sum: samples("sum"), count: samples("count") };
}

function counterValue(families: PromFamily[], labels: Record<string, string>): number {
    const m = family(families, "http_requests_total").metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    return m ? Number(m.value) : 0;
}

describe("app: endpoints, metrics and logs (in process)", () => {
    let ctx: { app: App; port: number; logs: LogLines };
    before(async () => (ctx = await start({ faultInjection: true, faultErrorRatio: 0 })));
    after(() => ctx.app.shutdown());

    it("GET / answers a JSON business response", async () => {
        const r = await request(ctx.port, "GET", "/");
        expect(r.status).to.equal(200);
        expect(r.headers["content-type"]).to.contain("application/json");
        expect(JSON.parse(r.body)).to.include({ service: "devsecops-app", version: "1.2.3" });
    });

    it("GET /health answers 200 with a small JSON status; HEAD works too", async () => {
        const r = await request(ctx.port, "GET", "/health");
        expect(r.status).to.equal(200);
        expect(JSON.parse(r.body).status).to.equal("ok");
        expect((await request(ctx.port, "HEAD", "/health")).status).to.equal(200);
    });

    it("answers unsupported methods with 405 and Allow, unknown paths with 404, malformed URLs with 400", async () => {
        const r = await request(ctx.port, "DELETE", "/health");
        expect(r.status).to.equal(405);
        expect(r.headers.allow).to.equal("GET, HEAD");
        expect((await request(ctx.port, "GET", "/nope")).status).to.equal(404);
        expect((await request(ctx.port, "GET", "/%E0%A4%A")).status).to.equal(400);
    });

    it("exposes RED metrics with route templates, unmatched paths bounded to one label value", async () => {
        const before = await scrape(ctx.port);
        const base = counterValue(before, { method: "GET", route: "unmatched", status_code: "404" });
        for (let i = 0; i < 5; i++) await request(ctx.port, "GET", `/random-${i}-${Date.now()}`);
        await request(ctx.port, "GET", "/");
        const after = await scrape(ctx.port);
        expect(counterValue(after, { method: "GET", route: "unmatched", status_code: "404" })).to.equal(base + 5);
        const routes = new Set(family(after, "http_requests_total").metrics.map((m) => m.labels!.route));
        for (const route of routes) expect(["/", "/health", "/fault", "unmatched"]).to.include(route);
        const hist = family(after, "http_request_duration_seconds");
        expect(hist.type).to.equal("HISTOGRAM");
        const buckets = Object.keys(hist.metrics[0].buckets!).map(Number).filter(Number.isFinite);
        expect(buckets).to.include.members([0.005, 0.5, 10]);
        expect(Math.min(...buckets)).to.equal(0.005);
        expect(Math.max(...buckets)).to.equal(10);
    });

    it("keeps the series count unchanged after 10,000 requests to distinct random paths", async function () {
        this.timeout(120_000);
        await request(ctx.port, "GET", "/never-seen-before");
        // The request-labelled families; runtime metrics (GC kinds, handle types) may legitimately grow.
        const seriesCount = async () =>
            (await scrape(ctx.port)).filter((f) => f.name.startsWith("http_")).reduce((n, f) => n + f.metrics.length, 0);
        const before = await seriesCount();
        const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
        const hit = (i: number) =>
            new Promise<void>((resolve, reject) => {
                const req = http.get({ host: "127.0.0.1", port: ctx.port, path: `/${i}-${Math.random().toString(36).slice(2)}?q=${i}`, agent }, (res) => {
                    res.resume();
                    res.on("end", resolve);
                });
                req.on("error", reject);
            });
        for (let batch = 0; batch < 10_000; batch += 500) await Promise.all(Array.from({ length: 500 }, (_, i) => hit(batch + i)));
        agent.destroy();
        expect(await seriesCount()).to.equal(before);
        const families = await scrape(ctx.port);
        expect(counterValue(families, { method: "GET", route: "unmatched", status_code: "404" })).to.be.at.least(10_001);
    });

    it("does not count /metrics scrapes", async () => {
        await scrape(ctx.port);
        await scrape(ctx.port);
        const families = await scrape(ctx.port);
        const routes = family(families, "http_requests_total").metrics.map((m) => m.labels!.route);
        expect(routes).to.not.include("/metrics");
    });

    it("bounds the method label: unknown methods count as OTHER", async () => {
        await request(ctx.port, "PROPFIND", "/");
        const families = await scrape(ctx.port);
        expect(counterValue(families, { method: "OTHER", route: "/", status_code: "405" })).to.equal(1);
    });

    it("exposes build info and prom-client's default process metrics", async () => {
        const families = await scrape(ctx.port);
        const build = family(families, "app_build_info").metrics[0];
        expect(build.labels).to.deep.equal({ version: "1.2.3", commit: "abc1234" });
        expect(Number(build.value)).to.equal(1);
        family(families, "process_cpu_seconds_total");
        family(families, "process_resident_memory_bytes");
    });

    it("logs one JSON line per request with the sane request id, never the Authorization header or cookies", async () => {
        await request(ctx.port, "GET", "/health", { headers: { "x-request-id": "req-42.abc", authorization: "Bearer top-secret-token", cookie: "session=s3cr3t" } });
        await request(ctx.port, "GET", "/health", { headers: { "x-request-id": "bad id with spaces <script>" } });
        ctx.app.logger.flush();
        await new Promise((r) => setTimeout(r, 50));
        const line = ctx.logs.lines.find((l) => l.request_id === "req-42.abc")!;
        expect(line).to.include({ method: "GET", route: "/health", status: 200, msg: "request" });
        expect(line.time).to.be.a("string");
        expect(line.duration_ms).to.be.a("number");
        const text = JSON.stringify(ctx.logs.lines);
        expect(text).to.not.contain("top-secret-token").and.not.contain("s3cr3t").and.not.contain("<script>");
        const generated = ctx.logs.lines.filter((l) => l.route === "/health").pop()!;
        expect(generated.request_id).to.match(/^[0-9a-f]{12}-[0-9a-z]+$/);
    });

    it("refuses oversized headers without crashing", async () => {
        const r = await request(ctx.port, "GET", "/", { headers: { "x-big": "a".repeat(20_000) } }).catch((e) => e);
        if (!(r instanceof Error)) expect(r.status).to.equal(431);
        expect((await request(ctx.port, "GET", "/health")).status).to.equal(200);
    });
});

describe("app: request metrics after known traffic", () => {
    it("counts each (method, route, status) and keeps histogram count, +Inf bucket and counter equal", async () => {
        const { app, port } = await start();
        try {
            for (let i = 0; i < 7; i++) await request(port, "GET", "/");
            for (let i = 0; i < 3; i++) await request(port, "HEAD", "/health");
            for (let i = 0; i < 2; i++) await request(port, "DELETE", "/");
            await request(port, "GET", "/x/y");
            const families = await scrape(port);
            const expected = [
                { method: "GET", route: "/", status_code: "200", n: 7 },
                { method: "HEAD", route: "/health", status_code: "200", n: 3 },
                { method: "DELETE", route: "/", status_code: "405", n: 2 },
                { method: "GET", route: "unmatched", status_code: "404", n: 1 },
            ];
            const counter = family(families, "http_requests_total").metrics;
            expect(counter.map((m) => ({ ...m.labels, n: Number(m.value) }))).to.have.deep.members(expected);
            const hist = histogramSeries((await request(port, "GET", "/metrics")).body, "http_request_duration_seconds");
            expect(hist.count).to.have.length(expected.length);
            for (const e of expected) {
                const labels = { method: e.method, route: e.route, status_code: e.status_code };
                const of = (xs: Sample[]) => xs.filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
                expect(of(hist.count).map((x) => x.value), `${e.method} ${e.route} count`).to.deep.equal([e.n]);
                const buckets = of(hist.bucket);
                expect(buckets.map((b) => b.labels.le)).to.deep.equal([...LATENCY_BUCKETS.map(String), "+Inf"]);
                for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).to.be.at.least(buckets[i - 1].value);
                // Local requests finish well under 10 s: every one is in the 10 s bucket already.
                expect(buckets.slice(-2).map((b) => b.value)).to.deep.equal([e.n, e.n]);
                expect(of(hist.sum)[0].value).to.be.greaterThan(0).and.below(e.n * 10);
            }
        } finally {
            await app.shutdown();
        }
    });

    it("puts each duration in the right bucket, bounds inclusive (le), and sums them", async () => {
        const metrics = createMetrics({ version: "v", commit: "c" });
        const series = metrics.series("GET", "/", 200);
        for (const seconds of [0.001, 0.005, 0.0051, 0.5, 0.5001, 9.99, 12]) series.observe(seconds);
        const text = await metrics.registry.metrics();
        expect(family(parsePrometheusTextFormat(text), "http_request_duration_seconds").type).to.equal("HISTOGRAM");
        const hist = histogramSeries(text, "http_request_duration_seconds");
        const cumulative = Object.fromEntries(hist.bucket.map((b) => [b.labels.le, b.value]));
        expect(hist.bucket[0].labels).to.include({ method: "GET", route: "/", status_code: "200" });
        expect(cumulative).to.deep.equal({ "0.005": 2, "0.01": 3, "0.025": 3, "0.05": 3, "0.1": 3, "0.25": 3, "0.5": 4, "1": 5, "2.5": 5, "5": 5, "10": 6, "+Inf": 7 });
        expect(hist.count.map((c) => c.value)).to.deep.equal([7]);
        expect(hist.sum[0].value).to.be.closeTo(0.001 + 0.005 + 0.0051 + 0.5 + 0.5001 + 9.99 + 12, 1e-9);
        // The counter is handed its increments at each scrape, never twice.
        const counted = async () => Number(family(parsePrometheusTextFormat(await metrics.registry.metrics()), "http_requests_total").metrics[0].value);
        expect(await counted()).to.equal(7);
        series.observe(0.01);
        expect(await counted()).to.equal(8);
        expect(await counted()).to.equal(8);
    });
});

describe("app: the image's lock file", () => {
    it("installs the same versions as the root lock the tests ran with (fix: npm run lock:image -w app)", () => {
        expect(imageLockDrift()).to.deep.equal([]);
    });
});

describe("app: fault injection (the alert drill)", () => {
    it("fails exactly round(ratio*100) of every 100 requests, spread evenly", () => {
        const f = new FaultInjector(0.25);
        const outcomes = Array.from({ length: 200 }, () => f.next());
        expect(outcomes.filter(Boolean)).to.have.length(50);
        expect(outcomes.slice(0, 8)).to.deep.equal([false, false, false, true, false, false, false, true]);
        expect(Array.from({ length: 100 }, () => new FaultInjector(0).next()).some(Boolean)).to.equal(false);
    });

    it("turns a share of GET / into 503s, changeable at runtime with PUT /fault", async () => {
        const { app, port } = await start({ faultInjection: true, faultErrorRatio: 0.5 });
        try {
            const statuses = [];
            for (let i = 0; i < 10; i++) statuses.push((await request(port, "GET", "/")).status);
            expect(statuses.filter((s) => s === 503)).to.have.length(5);
            const put = await request(port, "PUT", "/fault", { body: JSON.stringify({ errorRatio: 0 }), headers: { "content-type": "application/json", ...AUTH } });
            expect(JSON.parse(put.body)).to.deep.equal({ errorRatio: 0 });
            expect(JSON.parse((await request(port, "GET", "/fault", { headers: AUTH })).body).errorRatio).to.equal(0);
            for (let i = 0; i < 10; i++) expect((await request(port, "GET", "/")).status).to.equal(200);
            expect((await request(port, "PUT", "/fault", { body: '{"errorRatio": 2}', headers: { "content-type": "application/json", ...AUTH } })).status).to.equal(400);
        } finally {
            await app.shutdown();
        }
    });

    it("has no /fault route when fault injection is off", async () => {
        const { app, port } = await start({ faultInjection: false });
        try {
            expect((await request(port, "PUT", "/fault", { body: '{"errorRatio":1}' })).status).to.equal(404);
            for (let i = 0; i < 5; i++) expect((await request(port, "GET", "/")).status).to.equal(200);
        } finally {
            await app.shutdown();
        }
    });
});

describe("app: settings", () => {
    it("reads defaults and rejects bad values naming the variable, the value and what is allowed", () => {
        const s = readSettings({});
        expect(s).to.include({ port: 3000, host: "0.0.0.0", logLevel: "info", faultInjection: false, faultErrorRatio: 0 });
        expect(() => readSettings({ PORT: "70000" })).to.throw('PORT="70000": a port number from 1 to 65535');
        expect(() => readSettings({ FAULT_INJECTION: "yes" })).to.throw('FAULT_INJECTION="yes": true or false');
        expect(() => readSettings({ FAULT_ERROR_RATIO: "1.5", LOG_LEVEL: "loud" })).to.throw(/LOG_LEVEL="loud"[\s\S]*FAULT_ERROR_RATIO="1.5": a decimal from 0 to 1/);
    });
});

describe("app: the built process (node app/dist/main.js)", function () {
    this.timeout(60_000);
    const children: ChildProcess[] = [];
    before(function () {
        this.timeout(120_000);
        const build = spawnSync("npm", ["run", "build", "-w", "app"], { cwd: path.dirname(APP_DIR), encoding: "utf8" });
        expect(build.status, build.stderr).to.equal(0);
        expect(fs.existsSync(path.join(APP_DIR, "dist", "main.js"))).to.equal(true);
    });
    after(() => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));

    function run(env: Record<string, string>): { child: ChildProcess; exit: Promise<number | null>; output: () => string } {
        const child = spawn(process.execPath, [path.join(APP_DIR, "dist", "main.js")], { env: { PATH: process.env.PATH!, HOST: "127.0.0.1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
        children.push(child);
        let out = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (out += d));
        const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
        return { child, exit, output: () => out };
    }

    it("exits 1 at start on an invalid setting, with a clear message", async () => {
        const p = run({ PORT: "3000", FAULT_ERROR_RATIO: "-1" });
        expect(await p.exit).to.equal(1);
        expect(p.output()).to.contain('FAULT_ERROR_RATIO="-1": a decimal from 0 to 1');
    });

    it("on SIGTERM stops accepting, finishes the in-flight request and exits 0", async () => {
        const port = await freePort();
        const p = run({ PORT: String(port), FAULT_INJECTION: "true", FAULT_INJECTION_TOKEN: FAULT_TOKEN });
        for (let i = 0; i < 50; i++) {
            if (p.output().includes("listening")) break;
            await new Promise((r) => setTimeout(r, 100));
        }
        expect(p.output()).to.contain("listening");
        let duringDrain: Promise<string> = Promise.resolve("not tried");
        // An in-flight request: headers sent, body still coming.
        const reply = new Promise<Reply>((resolve, reject) => {
            const req = http.request({ host: "127.0.0.1", port, method: "PUT", path: "/fault", headers: { "content-length": "18", "content-type": "application/json", ...AUTH } }, (res) => {
                let body = "";
                res.on("data", (c) => (body += c));
                res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
            });
            req.on("error", reject);
            req.write('{"errorRatio"');
            setTimeout(() => {
                p.child.kill("SIGTERM");
                // While the request is still in flight, a new connection must already be refused.
                setTimeout(() => {
                    duringDrain = request(port, "GET", "/health").then(() => "answered", (e: NodeJS.ErrnoException) => e.code ?? e.message);
                    duringDrain.then(() => req.end(":0.5}"));
                }, 300);
            }, 200);
        });
        const r = await reply;
        expect(await duringDrain, "a new connection while draining").to.equal("ECONNREFUSED");
        expect(p.child.exitCode, "still running until the in-flight request finished").to.equal(null);
        expect(r.status).to.equal(200);
        expect(JSON.parse(r.body)).to.deep.equal({ errorRatio: 0.5 });
        expect(await p.exit).to.equal(0);
        const refused = await request(port, "GET", "/health").then(() => "answered", (e: NodeJS.ErrnoException) => e.code);
        expect(refused).to.equal("ECONNREFUSED");
    });
});
