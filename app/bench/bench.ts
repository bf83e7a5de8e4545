/**
 * Throughput and p99 of the app against bare node:http serving the same bytes, in
 * alternating rounds in one run (autocannon, 50 connections). Prints the medians, the
 * ratios and each server's CPU time per request, the /metrics scrape time and series count,
 * and writes them to bench-results.json. A measurement, not a test.
 *
 * Both servers write stdout to /dev/null: in production Docker's log driver, another
 * process, reads it; the app still pays for producing and writing every log line.
 * With two or more CPUs and `taskset` present, the load generator runs on CPU 0 and the
 * servers on CPU 1 (BENCH_PIN=false turns this off), so the ratio reflects the servers'
 * own cost rather than scheduler contention with the load generator.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../../scripts/local/harness";
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require("autocannon") as (opts: object) => Promise<{ requests: { average: number; total: number }; latency: { p99: number }; non2xx: number; errors: number }>;

const APP_DIR = path.resolve(__dirname, "..");

function positiveInteger(name: string, fallback: number): number {
    const text = process.env[name] ?? String(fallback);
    if (!/^[1-9]\d*$/.test(text)) throw new Error(`${name}=${JSON.stringify(text)}: a whole number of at least 1`);
    return Number(text);
}

const ROUNDS = positiveInteger("BENCH_ROUNDS", 5);
const SECONDS = positiveInteger("BENCH_SECONDS", 3);
const CONNECTIONS = 50;
const PIN = process.env.BENCH_PIN !== "false" && os.cpus().length >= 2 && spawnSync("taskset", ["--version"]).status === 0;

/** utime + stime of a process in clock ticks (100 per second on Linux), from /proc. */
function cpuTicks(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, timeout: 2000 }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

async function startServer(name: string, script: string, port: number, devNull: number): Promise<ChildProcess> {
    const command = PIN ? "taskset" : process.execPath;
    const args = PIN ? ["-c", "1", process.execPath, script] : [script];
    const child = spawn(command, args, { env: { PATH: process.env.PATH!, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" }, stdio: ["ignore", devNull, "inherit"] });
    for (let i = 0; i < 100; i++) {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before answering`);
        if ((await get(port, "/").catch(() => undefined))?.status === 200) return child;
        await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
    throw new Error(`${name} did not answer GET / within 10 s`);
}

/** The q-quantile (0..1) of xs, nearest rank. */
function quantile(xs: number[], q: number): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/**
 * Scrapes /metrics one after another, `gapMs` apart, from a separate process while the app serves a
 * full GET / load; returns each scrape's ms. A separate process, so the load generator's own
 * event loop does not delay the scrapes it measures.
 */
async function scrapesUnderLoad(port: number, seconds: number, gapMs: number): Promise<number[]> {
    const scraper = `
        const http = require("node:http");
        const times = [];
        const until = Date.now() + ${(seconds - 0.5) * 1000};
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const one = () => new Promise((resolve, reject) => {
            const t = process.hrtime.bigint();
            http.get({ host: "127.0.0.1", port: ${port}, path: "/metrics", agent, timeout: 2000 }, (res) => {
                res.resume();
                res.on("end", () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t) / 1e6) : reject(new Error("status " + res.statusCode))));
            }).on("error", reject);
        });
        (async () => {
            await new Promise((r) => setTimeout(r, 300));
            while (Date.now() < until) { times.push(await one()); await new Promise((r) => setTimeout(r, ${gapMs})); }
            process.stdout.write(JSON.stringify(times), () => process.exit(0));
        })().catch((e) => { console.error(e.message); process.exit(1); });`;
    const command = PIN ? "taskset" : process.execPath;
    const args = PIN ? ["-c", "0", process.execPath, "-e", scraper] : ["-e", scraper];
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    await autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: seconds });
    if ((await exited) !== 0) throw new Error("the /metrics scraper failed");
    return JSON.parse(out) as number[];
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
    const build = spawnSync("npm", ["run", "build"], { cwd: APP_DIR, stdio: "inherit" });
    if (build.status !== 0) throw new Error("app build failed");
    if (PIN) spawnSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
    const devNull = fs.openSync("/dev/null", "w");
    const servers: { name: "bare" | "app"; child: ChildProcess; port: number; rps: number[]; p99: number[]; cpuUsPerRequest: number[] }[] = [];
    try {
        for (const [name, script] of [["bare", path.join(__dirname, "bareServer.js")], ["app", path.join(APP_DIR, "dist", "main.js")]] as const) {
            const port = await freePort();
            servers.push({ name, child: await startServer(name, script, port, devNull), port, rps: [], p99: [], cpuUsPerRequest: [] });
        }
        // One short unmeasured round each: JIT warm-up and connection setup.
        for (const s of servers) await autocannon({ url: `http://127.0.0.1:${s.port}/`, connections: CONNECTIONS, duration: 1 });
        for (let round = 1; round <= ROUNDS; round++) {
            for (const s of servers) {
                const ticks = cpuTicks(s.child.pid!);
                const r = await autocannon({ url: `http://127.0.0.1:${s.port}/`, connections: CONNECTIONS, duration: SECONDS });
                if (r.non2xx > 0 || r.errors > 0) throw new Error(`${s.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
                const cpuUs = ((cpuTicks(s.child.pid!) - ticks) * 1e6) / 100 / r.requests.total;
                s.rps.push(r.requests.average);
                s.p99.push(r.latency.p99);
                s.cpuUsPerRequest.push(cpuUs);
                console.log(`round ${round} ${s.name.padEnd(4)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p99 ${r.latency.p99} ms  server CPU ${cpuUs.toFixed(1)} µs/request`);
            }
        }
        const [bare, app] = servers;
        const scrapeStart = process.hrtime.bigint();
        const metrics = await get(app.port, "/metrics");
        const scrapeMs = Number(process.hrtime.bigint() - scrapeStart) / 1e6;
        const series = metrics.body.split("\n").filter((l) => l && !l.startsWith("#")).length;
        const scrapes = await scrapesUnderLoad(app.port, SECONDS, 20);
        const summary = {
            rounds: ROUNDS,
            secondsPerRound: SECONDS,
            connections: CONNECTIONS,
            pinned: PIN ? "load generator on CPU 0, servers on CPU 1" : "no",
            bare: { rps: median(bare.rps), p99Ms: median(bare.p99), cpuUsPerRequest: median(bare.cpuUsPerRequest), rounds: { rps: bare.rps, p99Ms: bare.p99 } },
            app: { rps: median(app.rps), p99Ms: median(app.p99), cpuUsPerRequest: median(app.cpuUsPerRequest), rounds: { rps: app.rps, p99Ms: app.p99 } },
            throughputRatio: median(app.rps) / median(bare.rps),
            // autocannon reports latency in whole milliseconds; 1 ms is the floor of the divisor.
            p99Ratio: median(app.p99) / Math.max(median(bare.p99), 1),
            metricsScrapeMs: scrapeMs,
            metricsUnderLoad: { scrapes: scrapes.length, p50Ms: quantile(scrapes, 0.5), p99Ms: quantile(scrapes, 0.99) },
            metricsSeries: series,
            target: { throughputRatioAtLeast: 0.9, p99RatioAtMost: 1.5, metricsUnderLoadP99MsBelow: 5 },
        };
        const row = (label: string, a: string, b: string, c: string) => console.log(`${label.padEnd(10)}${a.padStart(16)}${b.padStart(18)}${c.padStart(22)}`);
        console.log("");
        row("", "req/s (median)", "p99 ms (median)", "server CPU µs/request");
        row("bare", summary.bare.rps.toFixed(0), String(summary.bare.p99Ms), summary.bare.cpuUsPerRequest.toFixed(1));
        row("app", summary.app.rps.toFixed(0), String(summary.app.p99Ms), summary.app.cpuUsPerRequest.toFixed(1));
        row("app/bare", summary.throughputRatio.toFixed(2), summary.p99Ratio.toFixed(2), (summary.app.cpuUsPerRequest / summary.bare.cpuUsPerRequest).toFixed(2));
        console.log(`target: throughput ratio >= 0.90 (${summary.throughputRatio >= 0.9 ? "met" : "NOT met"}), p99 ratio <= 1.50 (${summary.p99Ratio <= 1.5 ? "met" : "NOT met"}); pinned: ${summary.pinned}`);
        console.log(`/metrics scrape ${scrapeMs.toFixed(1)} ms, ${series} series`);
        const m = summary.metricsUnderLoad;
        console.log(`/metrics under ${CONNECTIONS}-connection GET / load: ${m.scrapes} scrapes, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms (target < 5 ms: ${m.p99Ms < 5 ? "met" : "NOT met"})`);
        fs.writeFileSync(path.join(process.cwd(), "bench-results.json"), JSON.stringify(summary, null, 2) + "\n");
        console.log(`written: ${path.join(process.cwd(), "bench-results.json")}`);
    } finally {
        for (const s of servers) s.child.kill("SIGTERM");
        fs.closeSync(devNull);
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
