import { expect } from "chai";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FAULT_TOKEN_FILE, findBinary, httpRequest } from "../../scripts/local/harness";
import { parseLocalArgs } from "../../scripts/local/main";

const ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(ROOT, "scripts", "local", "main.ts");

/** The CLI as `npm run local` runs it, in its own process group so the test can always end it. */
function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", CLI, ...args], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, output: () => out, exited };
}

function killGroup(child: ChildProcess | undefined): void {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
        try {
            process.kill(-child.pid, "SIGKILL");
        } catch {
            /* already gone */
        }
    }
}

async function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)));
    try {
        return await Promise.race([p, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

describe("observability: npm run local", function () {
    describe("arguments", () => {
        it("defaults to no errors at 20 req/s", () => {
            expect(parseLocalArgs([])).to.deep.equal({ errorsPercent: 0, rps: 20, verbose: false, help: false });
        });

        it("takes --errors and --rps as the next word or after =", () => {
            expect(parseLocalArgs(["--errors", "10", "--rps=50", "--verbose"])).to.deep.equal({ errorsPercent: 10, rps: 50, verbose: true, help: false });
            expect(parseLocalArgs(["--errors=2.5"]).errorsPercent).to.equal(2.5);
        });

        it("rejects bad usage naming the flag, the value and what is allowed", () => {
            expect(() => parseLocalArgs(["--errors", "150"])).to.throw('--errors "150": a number from 0 to 100');
            expect(() => parseLocalArgs(["--errors"])).to.throw("--errors (no value): a number from 0 to 100");
            expect(() => parseLocalArgs(["--rps", "ten"])).to.throw('--rps "ten": a number from 1 to 500');
            expect(() => parseLocalArgs(["--error", "5"])).to.throw('unknown argument "--error": allowed are --errors, --rps, --verbose, --help');
        });
    });

    describe("finding the binaries", () => {
        let dir: string;
        beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-bin-"))));
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
        const executable = (name: string) => fs.writeFileSync(path.join(dir, name), "#!/bin/sh\n", { mode: 0o755 });

        it("a missing binary names the Debian and the Homebrew package", () => {
            expect(() => findBinary("nodeExporter", dir)).to.throw(
                "node_exporter not found (looked for prometheus-node-exporter, node_exporter on PATH): install it — Debian/Ubuntu: apt-get install prometheus-node-exporter; macOS: brew install node_exporter",
            );
            expect(() => findBinary("alertmanager", dir)).to.throw(/apt-get install prometheus-alertmanager; macOS: brew install alertmanager/);
            expect(() => findBinary("prometheus", "")).to.throw(/apt-get install prometheus; macOS: brew install prometheus/);
        });

        it("finds the upstream (Homebrew) name, prefers the Debian one, and ignores a file that is not executable", () => {
            fs.writeFileSync(path.join(dir, "alertmanager"), "not executable", { mode: 0o644 });
            expect(() => findBinary("alertmanager", dir)).to.throw(/not found/);
            executable("node_exporter");
            expect(findBinary("nodeExporter", `/nonexistent${path.delimiter}${dir}`)).to.equal(path.join(dir, "node_exporter"));
            executable("prometheus-node-exporter");
            expect(findBinary("nodeExporter", dir)).to.equal(path.join(dir, "prometheus-node-exporter"));
        });

        it("the CLI exits 1 naming the package when Prometheus is not on PATH, and 2 on bad usage", async function () {
            this.timeout(30_000);
            const noTools = startCli([], { ...process.env, PATH: dir });
            try {
                expect(await within("the CLI without binaries", noTools.exited, 20_000), noTools.output()).to.equal(1);
                expect(noTools.output()).to.contain("prometheus not found").and.to.contain("apt-get install prometheus");
            } finally {
                killGroup(noTools.child);
            }
            const badUsage = startCli(["--errors", "150"]);
            try {
                expect(await within("the CLI with bad usage", badUsage.exited, 20_000), badUsage.output()).to.equal(2);
                expect(badUsage.output()).to.contain('--errors "150": a number from 0 to 100').and.to.contain("usage: npm run local");
            } finally {
                killGroup(badUsage.child);
            }
        });
    });

    describe("the harness without stop() (live)", function () {
        this.timeout(60_000);
        let child: ChildProcess | undefined;
        after(() => killGroup(child));

        it("a process that exits without calling stop() leaves no server running and no config directory", async () => {
            const script = `require("./scripts/local/harness").startLocalObservability().then((l) => {
                console.log(JSON.stringify({ appUrl: l.appUrl, prometheusUrl: l.prometheusUrl, alertmanagerUrl: l.alertmanagerUrl, nodeExporterUrl: l.nodeExporterUrl, configDir: l.configDir }));
                process.exit(0);
            }, (e) => { console.error(e.message); process.exit(1); });`;
            child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            child.stdout!.on("data", (d) => (out += d));
            child.stderr!.on("data", (d) => (out += d));
            const code = await within("the harness process", new Promise<number | null>((resolve) => child!.on("exit", resolve)), 45_000);
            expect(code, out).to.equal(0);
            const urls = JSON.parse(out.trim().split("\n").pop()!);
            expect(fs.existsSync(urls.configDir), `${urls.configDir} removed`).to.equal(false);
            for (const key of ["appUrl", "prometheusUrl", "alertmanagerUrl", "nodeExporterUrl"]) {
                const stillUp = await httpRequest(`${urls[key]}/`).then(
                    () => true,
                    () => false,
                );
                expect(stillUp, `${key} ${urls[key]} still answers`).to.equal(false);
            }
        });
    });

    describe("the whole rehearsal (live)", function () {
        this.timeout(90_000);
        let cli: ReturnType<typeof startCli> | undefined;
        after(() => killGroup(cli?.child));

        it("--errors 10 drives 10 % 5xx into Prometheus; Ctrl-C stops every process and removes the configs", async () => {
            cli = startCli(["--errors", "10", "--rps", "20"]);
            const started = () => cli!.output().includes("Ctrl-C stops everything");
            await within(
                "start-up",
                (async () => {
                    while (!started()) {
                        if (cli!.child.exitCode !== null) throw new Error(`npm run local exited early:\n${cli!.output()}`);
                        await new Promise((r) => setTimeout(r, 200));
                    }
                })(),
                60_000,
            );
            const url = (name: string) => new RegExp(`^${name} +(\\S+)`, "m").exec(cli!.output())![1];
            const [appUrl, prometheusUrl, configDir] = [url("app"), url("prometheus"), url("configs")];
            const token = fs.readFileSync(path.join(configDir, FAULT_TOKEN_FILE), "utf8");
            expect(JSON.parse((await httpRequest(`${appUrl}/fault`, "GET", undefined, { authorization: `Bearer ${token}` })).body)).to.deep.equal({ errorRatio: 0.1 });

            const ratio = await within(
                "a recorded error ratio",
                (async () => {
                    for (;;) {
                        const r = JSON.parse((await httpRequest(`${prometheusUrl}/api/v1/query?query=instance:http_request_error_ratio:rate5m`)).body);
                        const v = r.data.result[0]?.value[1];
                        // The first evaluations see the readiness probes' 200s too; wait for the traffic to dominate.
                        if (v !== undefined && Number(v) > 0.08) return Number(v);
                        await new Promise((res) => setTimeout(res, 500));
                    }
                })(),
                30_000,
            );
            expect(ratio).to.be.within(0.08, 0.12);

            process.kill(cli.child.pid!, "SIGINT");
            expect(await within("shutdown after Ctrl-C", cli.exited, 20_000), cli.output()).to.equal(0);
            expect(fs.existsSync(configDir), `${configDir} removed`).to.equal(false);
            const appGone = await httpRequest(`${appUrl}/health`).then(
                () => false,
                () => true,
            );
            const prometheusGone = await httpRequest(`${prometheusUrl}/-/ready`).then(
                () => false,
                () => true,
            );
            expect({ appGone, prometheusGone }).to.deep.equal({ appGone: true, prometheusGone: true });
        });
    });
});
