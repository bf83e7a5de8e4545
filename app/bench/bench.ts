/**
 * Throughput and p99 of the app against bare node:http serving the same bytes, in
 * alternating rounds in one run (autocannon, 50 connections). Prints the medians and
 * ratios and writes them to bench-results.json. A measurement, not a test.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { freePort } from "../../scripts/local/harness";
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require("autocannon") as (opts: object) => Promise<{ requests: { average: number }; latency: { p99: number }; non2xx: number; errors: number }>;

const APP_DIR = path.resolve(__dirname, "..");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

function startServer(script: string, port: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, [script], {
        env: { PATH: process.env.PATH!, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" },
        // Logs go to /dev/null as they would to a fast pipe: the cost of producing them is still paid.
        stdio: ["ignore", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 10_000);
        child.stdout!.on("data", (d: Buffer) => {
            if (d.toString().includes("listening")) {
                clearTimeout(timer);
                child.stdout!.removeAllListeners("data");
                child.stdout!.resume();
                resolve(child);
            }
        });
    });
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}

function get(port: number, p: string): Promise<string> {
    return new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path: p }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve(body));
        }).on("error", reject);
    });
}

async function main(): Promise<void> {
    const build = spawnSync("npm", ["run", "build"], { cwd: APP_DIR, stdio: "inherit" });
    if (build.status !== 0) throw new Error("app build failed");
    const appPort = await freePort();
    const barePort = await freePort();
    const app = await startServer(path.join(APP_DIR, "dist", "main.js"), appPort);
    const bare = await startServer(path.join(__dirname, "bareServer.js"), barePort);
    const results = { app: { rps: [] as number[], p99: [] as number[] }, bare: { rps: [] as number[], p99: [] as number[] } };
    try {
        for (let round = 1; round <= ROUNDS; round++) {
            for (const [name, port] of [["bare", barePort], ["app", appPort]] as const) {
                const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: SECONDS });
                if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
                results[name].rps.push(r.requests.average);
                results[name].p99.push(r.latency.p99);
                console.log(`round ${round} ${name.padEnd(4)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p99 ${r.latency.p99} ms`);
            }
        }
        const scrapeStart = process.hrtime.bigint();
        const metrics = await get(appPort, "/metrics");
        const scrapeMs = Number(process.hrtime.bigint() - scrapeStart) / 1e6;
        const series = metrics.split("\n").filter((l) => l && !l.startsWith("#")).length;
        const summary = {
            rounds: ROUNDS,
            secondsPerRound: SECONDS,
            connections: 50,
            bare: { rps: median(results.bare.rps), p99Ms: median(results.bare.p99) },
            app: { rps: median(results.app.rps), p99Ms: median(results.app.p99) },
            throughputRatio: median(results.app.rps) / median(results.bare.rps),
            p99Ratio: median(results.app.p99) / Math.max(median(results.bare.p99), 1),
            metricsScrapeMs: scrapeMs,
            metricsSeries: series,
            target: { throughputRatioAtLeast: 0.9, p99RatioAtMost: 1.5 },
        };
        console.log("\n            req/s (median)   p99 ms (median)");
        console.log(`bare http   ${summary.bare.rps.toFixed(0).padStart(14)}   ${String(summary.bare.p99Ms).padStart(15)}`);
        console.log(`app         ${summary.app.rps.toFixed(0).padStart(14)}   ${String(summary.app.p99Ms).padStart(15)}`);
        console.log(`ratio       ${summary.throughputRatio.toFixed(2).padStart(14)}   ${summary.p99Ratio.toFixed(2).padStart(15)}   (target >= 0.90, <= 1.50)`);
        console.log(`/metrics scrape ${scrapeMs.toFixed(1)} ms, ${series} series`);
        fs.writeFileSync(path.join(process.cwd(), "bench-results.json"), JSON.stringify(summary, null, 2));
    } finally {
        app.kill("SIGTERM");
        bare.kill("SIGTERM");
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
