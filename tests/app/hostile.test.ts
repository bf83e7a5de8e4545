import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
// eslint-disable-next-line @typescript-eslint/no-var-requires
const parsePrometheusTextFormat = require("parse-prometheus-text-format") as (text: string) => { name: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
import { App, createApp, SHUTDOWN_DRAIN_MS } from "../../app/src/server";
import { AppSettings, readSettings, SettingsError } from "../../app/src/settings";
import { renderAppHostUserData } from "../../components/cloudInit/appHostUserData";
import { freePort } from "../../scripts/local/harness";
import { LogLines, request } from "../support/appHttp";

/**
 * The app under hostile clients and during shutdown (issue 17): each case was reproduced
 * against the app before its fix. Bounded in time and count, 127.0.0.1 only, every process
 * and socket stopped also on failure.
 */

const APP_DIR = path.resolve(__dirname, "..", "..", "app");
const TOKEN = "drill-token-0123456789abcdef0123456789abcdef";


function settings(overrides: Partial<AppSettings> = {}): AppSettings {
    return { ...readSettings({ HOST: "127.0.0.1" }), ...overrides };
}

const sockets: net.Socket[] = [];
const apps: App[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const a of apps.splice(0)) {
        a.server.closeAllConnections();
        await a.shutdown();
    }
});

async function startInProcess(overrides: Partial<AppSettings> = {}): Promise<{ app: App; port: number; logs: LogLines }> {
    const logs = new LogLines();
    const app = createApp(settings(overrides), logs);
    apps.push(app);
    await new Promise<void>((r) => app.server.listen(0, "127.0.0.1", r));
    return { app, port: (app.server.address() as AddressInfo).port, logs };
}

/** Raw bytes to the port; resolves with everything the server sent once it closes (or after `waitMs`). */
function raw(port: number, text: string, waitMs = 2000): Promise<string> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        sockets.push(socket);
        let received = "";
        const timer = setTimeout(() => {
            socket.destroy();
            resolve(received);
        }, waitMs);
        socket.on("data", (d) => (received += d.toString("latin1")));
        socket.on("error", () => undefined);
        socket.on("close", () => {
            clearTimeout(timer);
            resolve(received);
        });
        socket.write(text);
    });
}



function countOf(text: string, name: string, labels: Record<string, string>): number {
    const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
    const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return Number(sample?.value ?? 0);
}

describe("app under hostile clients (in process)", function () {
    this.timeout(30_000);

    it("item 5: answers once when the body fails to parse after the response was sent", async () => {
        const { port } = await startInProcess();
        // GET / answers at once; the chunked body that follows is malformed.
        const received = await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n\r\n");
        expect(received.match(/HTTP\/1\.1 \d{3}/g), received).to.deep.equal(["HTTP/1.1 200"]);
    });

    it("item 7: counts and logs what the parser rejects — 400, 431, 417, and 408 on a header time-out", async () => {
        const { app, port, logs } = await startInProcess();
        app.server.headersTimeout = 300;
        expect(await raw(port, "GARBAGE\r\n\r\n")).to.match(/^HTTP\/1\.1 400 /);
        expect(await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)).to.match(/^HTTP\/1\.1 431 /);
        expect(await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n")).to.match(/^HTTP\/1\.1 417 /);
        // Mid-headers and silent: the time-out answers 408 (Node checks connections every second here).
        expect(await raw(port, "GET / HTTP/1.1\r\nHost: x\r\n", 5000)).to.match(/^HTTP\/1\.1 408 /);
        const metrics = await request(port, "GET", "/metrics");
        for (const status of ["400", "431", "417", "408"]) {
            expect(countOf(metrics.body, "http_requests_total", { status_code: status }), `http_requests_total{status_code="${status}"}`).to.equal(1);
            expect(logs.lines.filter((l) => l.status === Number(status)), `log line for ${status}`).to.have.length(1);
        }
        expect(logs.lines.find((l) => l.status === 400)).to.include({ route: "rejected" }).and.have.property("client", "127.0.0.1");
    });

    it("item 2: concurrent scrapes share one collection", async () => {
        const { app, port } = await startInProcess();
        let collections = 0;
        const original = app.metrics.registry.metrics.bind(app.metrics.registry);
        app.metrics.registry.metrics = () => {
            collections++;
            return original();
        };
        const received = await raw(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20), 1000);
        expect(received.match(/HTTP\/1\.1 200/g)).to.have.length(20);
        expect(collections).to.be.lessThan(20);
    });

    describe("item 3: fault injection only for the authorised", () => {
        it("refuses anonymous (401) and wrong tokens (403), wants JSON (415), and audits who changed it", async () => {
            const { port, logs } = await startInProcess({ faultInjection: true, faultInjectionToken: TOKEN });
            const body = JSON.stringify({ errorRatio: 1 });
            const anonymous = await request(port, "PUT", "/fault", { headers: { "content-type": "application/json" }, body });
            expect(anonymous.status).to.equal(401);
            expect(anonymous.headers["www-authenticate"]).to.match(/^Bearer/);
            expect((await request(port, "GET", "/fault")).status).to.equal(401);
            expect((await request(port, "PUT", "/fault", { headers: { authorization: `Bearer ${TOKEN}x`, "content-type": "application/json" }, body })).status).to.equal(403);
            expect((await request(port, "PUT", "/fault", { headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/plain" }, body })).status).to.equal(415);
            expect((await request(port, "GET", "/")).status, "faults still off").to.equal(200);
            const ok = await request(port, "PUT", "/fault", { headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json; charset=utf-8", "x-request-id": "drill-1" }, body });
            expect(ok.status).to.equal(200);
            expect((await request(port, "GET", "/")).status).to.equal(503);
            const audit = logs.lines.find((l) => l.msg === "fault injection ratio changed");
            expect(audit).to.include({ errorRatio: 1, request_id: "drill-1", client: "127.0.0.1" });
            expect(JSON.stringify(logs.lines)).to.not.contain(TOKEN);
        });

        it("will not start fault injection without a token of at least 32 characters, and never echoes it", () => {
            expect(() => readSettings({ FAULT_INJECTION: "true" })).to.throw(SettingsError, /FAULT_INJECTION_TOKEN: required when FAULT_INJECTION=true/);
            const short = "short-secret-value";
            let message = "";
            try {
                readSettings({ FAULT_INJECTION: "true", FAULT_INJECTION_TOKEN: short });
            } catch (e) {
                message = (e as Error).message;
            }
            expect(message).to.match(/FAULT_INJECTION_TOKEN: at least 32 characters \(got 18\)/).and.not.contain(short);
            expect(readSettings({ FAULT_INJECTION: "true", FAULT_INJECTION_TOKEN: TOKEN }).faultInjectionToken).to.equal(TOKEN);
        });
    });

    it("item 8: FAULT_ERROR_RATIO is a plain decimal from 0 to 1; HOST is an address", () => {
        for (const bad of ["0x1", "1e-1", " 0.5 ", "1.5", "-0", ".5"]) {
            expect(() => readSettings({ FAULT_ERROR_RATIO: bad }), bad).to.throw(SettingsError, /FAULT_ERROR_RATIO=.*: a decimal from 0 to 1/);
        }
        for (const good of ["0", "1", "0.25", "1.0"]) expect(readSettings({ FAULT_ERROR_RATIO: good }).faultErrorRatio, good).to.equal(Number(good));
        expect(() => readSettings({ HOST: "not-a-host" })).to.throw(SettingsError, /HOST="not-a-host": an IP address/);
        expect(readSettings({ HOST: "::" }).host).to.equal("::");
    });

    it("item 10: promtool check metrics accepts the exposition", async function () {
        const { port } = await startInProcess();
        await request(port, "GET", "/");
        const text = (await request(port, "GET", "/metrics")).body;
        const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", timeout: 30_000 });
        if (r.error) throw new Error(`promtool could not run (${r.error.message}): install Debian's prometheus package`);
        expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
    });
});

describe("app during shutdown and with a stalled log reader (node app/dist/main.js)", function () {
    this.timeout(60_000);
    before(function () {
        this.timeout(120_000);
        const build = spawnSync("npm", ["run", "build", "-w", "app"], { cwd: path.dirname(APP_DIR), encoding: "utf8" });
        expect(build.status, build.stderr).to.equal(0);
    });

    interface Running {
        child: ChildProcess;
        port: number;
        exit: Promise<number | null>;
        output: () => string;
        lines: () => Record<string, any>[];
    }

    async function run(env: Record<string, string> = {}, readStdout = true): Promise<Running> {
        const port = await freePort();
        const child = spawn(process.execPath, [path.join(APP_DIR, "dist", "main.js")], { env: { PATH: process.env.PATH!, HOST: "127.0.0.1", PORT: String(port), ...env }, stdio: ["ignore", "pipe", "pipe"] });
        children.push(child);
        let out = "";
        child.stderr!.on("data", (d) => (out += d));
        if (readStdout) child.stdout!.on("data", (d) => (out += d));
        const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
        const running = {
            child,
            port,
            exit,
            output: () => out,
            lines: () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
        };
        for (let i = 0; i < 100; i++) {
            if ((await request(port, "GET", "/health", { timeoutMs: 1000 }).catch(() => undefined))?.status === 200) return running;
            if (child.exitCode !== null) break;
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`the app did not answer /health: ${out}`);
    }

    it("item 1: SIGTERM under 50 keep-alive clients loses no request, and every answered request has a log line", async () => {
        const app = await run();
        const answered: string[] = [];
        const lost: string[] = [];
        let stop = false;
        const client = async (c: number) => {
            const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
            try {
                for (let n = 0; !stop && n < 100_000; n++) {
                    const id = `c${c}-${n}`;
                    try {
                        const r = await request(app.port, "GET", "/", { agent, headers: { "x-request-id": id } });
                        expect(r.status).to.equal(200);
                        answered.push(id);
                    } catch (e) {
                        // Refused: never sent, the client may retry elsewhere. Anything else lost a request.
                        if ((e as NodeJS.ErrnoException).code !== "ECONNREFUSED") lost.push(`${id}: ${(e as Error).message}`);
                        return;
                    }
                }
            } finally {
                agent.destroy();
            }
        };
        const clients = Array.from({ length: 50 }, (_, c) => client(c));
        await new Promise((r) => setTimeout(r, 500));
        const before = answered.length;
        app.child.kill("SIGTERM");
        const code = await app.exit;
        stop = true;
        await Promise.all(clients);
        expect(code).to.equal(0);
        expect(before, "requests answered before SIGTERM").to.be.greaterThan(100);
        expect(lost, "requests lost").to.deep.equal([]);
        const logged = new Set(app.lines().filter((l) => l.msg === "request").map((l) => l.request_id));
        expect(answered.filter((id) => !logged.has(id)), "answered without a log line").to.deep.equal([]);
    });

    it("item 2: eight connections pipelining /metrics without reading keep /health answering and memory bounded", async () => {
        const app = await run();
        const rssMiB = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${app.child.pid}/status`, "utf8"))![1]) / 1024;
        const rssBefore = rssMiB();
        const scrape = Buffer.from("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000));
        const floods = Array.from({ length: 8 }, () => {
            const s = net.connect(app.port, "127.0.0.1");
            sockets.push(s);
            s.on("error", () => undefined);
            s.pause(); // never reads
            let sent = 0;
            const pump = () => {
                while (sent < 50 && !s.destroyed) {
                    sent++;
                    if (!s.write(scrape)) return void s.once("drain", pump);
                }
            };
            s.on("connect", pump);
            return s;
        });
        const health: number[] = [];
        let peakRss = rssBefore;
        const until = Date.now() + 3000;
        while (Date.now() < until) {
            const t = Date.now();
            const r = await request(app.port, "GET", "/health", { timeoutMs: 2000 });
            expect(r.status).to.equal(200);
            health.push(Date.now() - t);
            peakRss = Math.max(peakRss, rssMiB());
            await new Promise((res) => setTimeout(res, 100));
        }
        floods.forEach((s) => s.destroy());
        expect(Math.max(...health), "slowest /health during the flood (ms)").to.be.below(2000);
        expect(peakRss - rssBefore, "RSS growth (MiB)").to.be.below(100);
        const metrics = await request(app.port, "GET", "/metrics");
        expect(countOf(metrics.body, "http_connections_closed_total", { reason: "pipeline_limit" })).to.equal(8);
    });

    it("item 4: a client stuck mid-headers is answered 408 and does not hold the exit past the drain bound, which is inside the container's stop timeout", async () => {
        // The stop timeout the app hosts really run the container with.
        const userData = renderAppHostUserData({
            region: "eu-west-1",
            hostName: "devsecops-stack-prod-app",
            imageRef: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:${"ab".repeat(32)}`,
            appVersion: "v1",
            secretArns: {},
            nodeExporterImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/mirror/node-exporter@sha256:${"04".repeat(32)}`,
            appLogGroup: "/aws/ec2/prod/app",
            platformLogGroup: "/aws/ec2/prod/app-host",
        });
        const stopTimeout = Number(/docker run -d --name app [\s\S]*?--stop-timeout (\d+)/.exec(userData)?.[1]);
        expect(SHUTDOWN_DRAIN_MS + 2000, "drain bound plus exit margin within the container's --stop-timeout").to.be.below(stopTimeout * 1000);
        const app = await run();
        const stuck = raw(app.port, "GET / HTTP/1.1\r\nHost: x\r\n", 30_000);
        await new Promise((r) => setTimeout(r, 200));
        const t = Date.now();
        app.child.kill("SIGTERM");
        expect(await app.exit).to.equal(0);
        const took = Date.now() - t;
        expect(took, "ms from SIGTERM to exit").to.be.below(SHUTDOWN_DRAIN_MS + 1000);
        expect(await stuck).to.match(/^HTTP\/1\.1 408 /);
        expect(app.lines().filter((l) => l.status === 408), "the cut request's log line").to.have.length(1);
    });

    it("item 8: a port in use or a bad HOST exits 1 with one clear line, no stack", async () => {
        const holder = net.createServer();
        await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
        try {
            const port = (holder.address() as AddressInfo).port;
            for (const env of [{ PORT: String(port) }, { PORT: "3000", HOST: "not-a-host" }]) {
                const child = spawn(process.execPath, [path.join(APP_DIR, "dist", "main.js")], { env: { PATH: process.env.PATH!, HOST: "127.0.0.1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
                children.push(child);
                let err = "";
                child.stderr!.on("data", (d) => (err += d));
                const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
                expect(code, JSON.stringify(env)).to.equal(1);
                expect(err.trim().split("\n"), err).to.have.length.at.most(2);
                expect(err).to.not.match(/^\s+at /m);
                expect(err).to.match(env.HOST ? /HOST="not-a-host"/ : new RegExp(`127\\.0\\.0\\.1:${port}.*in use`));
            }
        } finally {
            holder.close();
        }
    });

    it("item 6: a stalled log reader costs log lines, never availability, and the drops are counted", async () => {
        const app = await run({}, false);
        app.child.stdout!.pause();
        const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
        try {
            const id = "x".repeat(120);
            for (let batch = 0; batch < 40; batch++) {
                await Promise.all(Array.from({ length: 250 }, () => request(app.port, "GET", "/", { agent, headers: { "x-request-id": id }, timeoutMs: 2000 })));
            }
            const t = Date.now();
            expect((await request(app.port, "GET", "/health", { timeoutMs: 2000 })).status).to.equal(200);
            expect(Date.now() - t).to.be.below(2000);
            const metrics = await request(app.port, "GET", "/metrics", { timeoutMs: 2000 });
            expect(countOf(metrics.body, "app_log_lines_dropped_total", {}), "app_log_lines_dropped_total").to.be.greaterThan(0);
        } finally {
            agent.destroy();
        }
    });
});
