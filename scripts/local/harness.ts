import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
    AlertDurations,
    AlertThresholds,
    DEFAULT_ALERT_THRESHOLDS,
    renderAlertmanagerConfig,
    renderAlertRules,
    renderPrometheusConfig,
    renderRecordingRules,
} from "../../prometheus";

/**
 * The monitoring side on one machine, for tests and for trying rules by hand: the
 * real app, node_exporter, Prometheus and Alertmanager (Debian's binaries) on free
 * 127.0.0.1 ports, configured by the same renderers the MonitoringHost ships.
 */

const ROOT = path.resolve(__dirname, "..", "..");

export interface LocalObservabilityOptions {
    thresholds?: AlertThresholds;
    /** Short by default so alerts move in seconds; the real durations are covered by promtool unit tests. */
    durations?: Partial<AlertDurations>;
    scrapeInterval?: string;
    evaluationInterval?: string;
    /** Copy the processes' output to stderr (`npm run local -- --verbose`). */
    verbose?: boolean;
}

/** The file in the config directory holding this run's /fault token. */
export const FAULT_TOKEN_FILE = "fault-token";

export interface LocalObservability {
    appUrl: string;
    prometheusUrl: string;
    alertmanagerUrl: string;
    nodeExporterUrl: string;
    /** Directory holding the rendered configs. */
    configDir: string;
    /** The bearer token this run's app requires on /fault (generated per run). */
    faultToken: string;
    /** `Authorization` for /fault with that token. */
    faultAuth: Record<string, string>;
    setFaultRatio(ratio: number): Promise<void>;
    /** Sends GET / at about `perSecond` requests per second until stopped. */
    startTraffic(perSecond: number): () => void;
    stop(): Promise<void>;
}

/** Each binary under its Debian name and its upstream/Homebrew name, with where to get it. */
export const BINARIES = {
    prometheus: { names: ["prometheus"], debian: "prometheus", homebrew: "prometheus" },
    alertmanager: { names: ["prometheus-alertmanager", "alertmanager"], debian: "prometheus-alertmanager", homebrew: "alertmanager" },
    nodeExporter: { names: ["prometheus-node-exporter", "node_exporter"], debian: "prometheus-node-exporter", homebrew: "node_exporter" },
} as const;

export type BinaryKind = keyof typeof BINARIES;

/** The first executable of the kind's names on `searchPath`; else an Error saying which package provides it. */
export function findBinary(kind: BinaryKind, searchPath: string = process.env.PATH ?? ""): string {
    const { names, debian, homebrew } = BINARIES[kind];
    for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
        for (const name of names) {
            const candidate = path.join(dir, name);
            try {
                fs.accessSync(candidate, fs.constants.X_OK);
                if (fs.statSync(candidate).isFile()) return candidate;
            } catch {
                /* not here */
            }
        }
    }
    throw new Error(
        `${names[names.length - 1]} not found (looked for ${names.join(", ")} on PATH): install it — ` +
            `Debian/Ubuntu: apt-get install ${debian}; macOS: brew install ${homebrew}`,
    );
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export function httpRequest(url: string, method = "GET", body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method, timeout: 5000, headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers } }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
        req.on("error", reject);
        req.end(body);
    });
}

async function waitUntilReady(name: string, url: string, child: ChildProcess, output: () => string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output()}`);
        const ok = await httpRequest(url).then((r) => r.status === 200, () => false);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${name} not ready at ${url} within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Process groups still running. The children are detached (their own groups), so if this
 * process ends without stop() — a crash, process.exit() in a test runner — they are killed here.
 */
const orphanGuard = new Set<number>();
const tempDirsInUse = new Set<string>();
process.once("exit", () => {
    for (const pid of orphanGuard) {
        try {
            process.kill(-pid, "SIGKILL");
        } catch {
            /* already gone */
        }
    }
    for (const dir of tempDirsInUse) fs.rmSync(dir, { recursive: true, force: true });
});

/** app/dist is missing or older than a source file: the harness must run the app as it is now. */
function appBuildIsStale(): boolean {
    const built = path.join(ROOT, "app", "dist", "main.js");
    if (!fs.existsSync(built)) return true;
    const builtAt = fs.statSync(built).mtimeMs;
    const srcDir = path.join(ROOT, "app", "src");
    return fs.readdirSync(srcDir, { recursive: true, encoding: "utf8" }).some((f) => f.endsWith(".ts") && fs.statSync(path.join(srcDir, f)).mtimeMs > builtAt);
}

export async function startLocalObservability(options: LocalObservabilityOptions = {}): Promise<LocalObservability> {
    const binary = { prometheus: findBinary("prometheus"), alertmanager: findBinary("alertmanager"), nodeExporter: findBinary("nodeExporter") };
    if (appBuildIsStale()) {
        const build = spawnSync("npm", ["run", "build", "-w", "app"], { cwd: ROOT, encoding: "utf8" });
        if (build.status !== 0) throw new Error(`app build failed:\n${build.stdout}${build.stderr}`);
    }
    const [appPort, nodePort, promPort, amPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-local-"));
    tempDirsInUse.add(configDir);
    const rulesDir = path.join(configDir, "rules");
    fs.mkdirSync(rulesDir);
    fs.writeFileSync(path.join(rulesDir, "recording_rules.yml"), renderRecordingRules());
    fs.writeFileSync(
        path.join(rulesDir, "alert_rules.yml"),
        renderAlertRules(options.thresholds ?? DEFAULT_ALERT_THRESHOLDS, {
            durations: { errorRate: "5s", latency: "5s", cpu: "5s", memory: "5s", disk: "5s", targetDown: "5s", ...options.durations },
        }),
    );
    fs.writeFileSync(
        path.join(configDir, "prometheus.yml"),
        renderPrometheusConfig({
            targets: {
                kind: "static",
                app: [`127.0.0.1:${appPort}`],
                node: [`127.0.0.1:${nodePort}`],
                prometheus: [`127.0.0.1:${promPort}`],
                alertmanager: [`127.0.0.1:${amPort}`],
            },
            ruleFiles: [path.join(rulesDir, "*.yml")],
            alertmanagers: [`127.0.0.1:${amPort}`],
            scrapeInterval: options.scrapeInterval ?? "1s",
            evaluationInterval: options.evaluationInterval ?? "1s",
        }),
    );
    fs.writeFileSync(path.join(configDir, "alertmanager.yml"), renderAlertmanagerConfig({}));

    const children: { name: string; child: ChildProcess; output: () => string }[] = [];
    const launch = (name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
        // Own process group, so stop() takes down anything the process started too.
        const child = spawn(command, args, { cwd: configDir, env: { PATH: process.env.PATH, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        const keep = (d: Buffer) => {
            out = (out + d.toString()).slice(-20_000);
            if (options.verbose) process.stderr.write(`[${name}] ${d}`);
        };
        child.stdout!.on("data", keep);
        child.stderr!.on("data", keep);
        child.on("error", (e) => (out += `\nspawn error: ${e.message}`));
        const entry = { name, child, output: () => out };
        children.push(entry);
        if (child.pid) {
            const pid = child.pid;
            orphanGuard.add(pid);
            child.once("exit", () => orphanGuard.delete(pid));
        }
        return entry;
    };

    const stop = async () => {
        for (const { child } of children) {
            if (child.exitCode === null && child.pid) {
                try {
                    process.kill(-child.pid, "SIGTERM");
                } catch {
                    /* already gone */
                }
            }
        }
        await Promise.all(
            children.map(({ child }) =>
                child.exitCode !== null || child.signalCode !== null || !child.pid
                    ? Promise.resolve()
                    : new Promise<void>((resolve) => {
                          const kill = setTimeout(() => {
                              try {
                                  process.kill(-child.pid!, "SIGKILL");
                              } catch {
                                  /* gone */
                              }
                          }, 5000);
                          child.once("exit", () => {
                              clearTimeout(kill);
                              resolve();
                          });
                      }),
            ),
        );
        fs.rmSync(configDir, { recursive: true, force: true });
        tempDirsInUse.delete(configDir);
    };

    // A token for this run only; also in <configDir>/fault-token (0600) for curl.
    const faultToken = randomBytes(24).toString("hex");
    const faultAuth = { authorization: `Bearer ${faultToken}` };
    fs.writeFileSync(path.join(configDir, FAULT_TOKEN_FILE), faultToken, { mode: 0o600 });
    try {
        const app = launch("app", process.execPath, [path.join(ROOT, "app", "dist", "main.js")], {
            PORT: String(appPort),
            HOST: "127.0.0.1",
            FAULT_INJECTION: "true",
            FAULT_INJECTION_TOKEN: faultToken,
            FAULT_ERROR_RATIO: "0",
            LOG_LEVEL: "warn",
        });
        const node = launch("node_exporter", binary.nodeExporter, [`--web.listen-address=127.0.0.1:${nodePort}`]);
        const am = launch("alertmanager", binary.alertmanager, [
            `--config.file=${path.join(configDir, "alertmanager.yml")}`,
            `--storage.path=${path.join(configDir, "alertmanager-data")}`,
            `--web.listen-address=127.0.0.1:${amPort}`,
            "--cluster.listen-address=",
        ]);
        const prom = launch("prometheus", binary.prometheus, [
            `--config.file=${path.join(configDir, "prometheus.yml")}`,
            `--storage.tsdb.path=${path.join(configDir, "prometheus-data")}`,
            `--web.listen-address=127.0.0.1:${promPort}`,
        ]);
        await waitUntilReady("app", `http://127.0.0.1:${appPort}/health`, app.child, app.output);
        await waitUntilReady("node_exporter", `http://127.0.0.1:${nodePort}/metrics`, node.child, node.output);
        await waitUntilReady("alertmanager", `http://127.0.0.1:${amPort}/-/ready`, am.child, am.output);
        await waitUntilReady("prometheus", `http://127.0.0.1:${promPort}/-/ready`, prom.child, prom.output);
    } catch (e) {
        await stop();
        throw e;
    }

    const appUrl = `http://127.0.0.1:${appPort}`;
    return {
        appUrl,
        prometheusUrl: `http://127.0.0.1:${promPort}`,
        alertmanagerUrl: `http://127.0.0.1:${amPort}`,
        nodeExporterUrl: `http://127.0.0.1:${nodePort}`,
        configDir,
        faultToken,
        faultAuth,
        async setFaultRatio(ratio: number) {
            const r = await httpRequest(`${appUrl}/fault`, "PUT", JSON.stringify({ errorRatio: ratio }), faultAuth);
            if (r.status !== 200) throw new Error(`PUT /fault answered ${r.status}: ${r.body}`);
        },
        startTraffic(perSecond: number) {
            // Every 100 ms send the whole requests owed so far, so low rates are honoured too.
            let owed = 0;
            const timer = setInterval(() => {
                owed += perSecond / 10;
                for (; owed >= 1; owed--) httpRequest(`${appUrl}/`).catch(() => undefined);
            }, 100);
            return () => clearInterval(timer);
        },
        stop,
    };
}
