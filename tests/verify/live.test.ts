import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { DASHBOARD_UID, loadDashboardJson } from "../../dashboards";
import { freePort, httpRequest, LocalObservability, startLocalObservability } from "../../scripts/local/harness";
import { runAlertDrill } from "../../scripts/verify/alertDrill";
import { CheckOutcome } from "../../scripts/verify/checkResult";
import { MONITORING_REACH_HINT } from "../../scripts/verify/failureHints";
import { checkGrafanaDashboard, checkGrafanaHealth } from "../../scripts/verify/grafanaChecks";
import { checkDocumentQueries, checkPrometheusTargets, evaluateTargets, TargetsResponse } from "../../scripts/verify/prometheusChecks";
import { GrafanaStub, startGrafanaStub } from "./grafanaStub";

const ROOT = path.resolve(__dirname, "..", "..");
const TOKEN = "glsa_stub-token-never-printed-4f1c";

/** Polls a check until it passes or the bound runs out; returns the last outcome either way. */
async function untilOk(probe: () => Promise<CheckOutcome>, timeoutMs: number): Promise<CheckOutcome> {
    const deadline = Date.now() + timeoutMs;
    let last = await probe();
    while (!last.ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        last = await probe();
    }
    return last;
}

async function closedPortUrl(): Promise<string> {
    return `http://127.0.0.1:${await freePort()}`;
}

interface CliRun {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** The real CLI in its own process, as `npm run verify` starts it; async so this process keeps serving the stubs. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "scripts/verify/main.ts"), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const kill = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(kill);
            resolve({ code, stdout, stderr });
        });
    });
}

describe("verify: Prometheus, Grafana, drill and CLI against the live local stack", function () {
    this.timeout(180_000);
    let local: LocalObservability;
    let grafana: GrafanaStub;
    let stopTraffic: () => void = () => undefined;
    let workDir: string;
    /** Without AWS credentials or instance metadata: the AWS checks take their no-credentials path. */
    let cliEnv: NodeJS.ProcessEnv;
    const writeOutputs = (name: string, outputs: Record<string, unknown>) => {
        const file = path.join(workDir, name);
        fs.writeFileSync(file, JSON.stringify(outputs, null, 2));
        return file;
    };

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "verify-test-"));
        cliEnv = {
            PATH: process.env.PATH,
            HOME: workDir,
            AWS_CONFIG_FILE: path.join(workDir, "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE: path.join(workDir, "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED: "true",
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        };
        local = await startLocalObservability();
        cliEnv.FAULT_INJECTION_TOKEN = local.faultToken;
        stopTraffic = local.startTraffic(20);
        grafana = await startGrafanaStub({ prometheusUrl: local.prometheusUrl, token: TOKEN, dashboards: { [DASHBOARD_UID]: JSON.parse(loadDashboardJson()) } });
    });
    after(async () => {
        stopTraffic();
        await grafana?.stop();
        await local?.stop();
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    describe("Prometheus (live)", () => {
        it("targets: every target up, counted per job", async () => {
            const r = await untilOk(() => checkPrometheusTargets(local.prometheusUrl), 40_000);
            expect(r.ok, r.evidence).to.equal(true);
            expect(r.evidence).to.match(/^4\/4 targets up \(/);
            for (const job of ["app 1/1", "node 1/1", "prometheus 1/1", "alertmanager 1/1"]) expect(r.evidence).to.contain(job);
        });

        it("targets: the verdict on the live answer with the app target marked down names it and its error", async () => {
            const live = JSON.parse((await httpRequest(`${local.prometheusUrl}/api/v1/targets?state=active`)).body) as TargetsResponse;
            const app = live.data.activeTargets.find((t) => t.labels.job === "app")!;
            app.health = "down";
            app.lastError = "context deadline exceeded";
            const r = evaluateTargets(live);
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.contain(`3/4 targets up`);
            expect(r.evidence).to.contain(`app ${app.labels.instance} down (context deadline exceeded)`);
            expect(r.hint).to.contain("app-sg");

            live.data.activeTargets = live.data.activeTargets.filter((t) => t.labels.job !== "node");
            expect(evaluateTargets(live).evidence).to.contain("no target for job node");
        });

        it("queries: the document's PromQL returns data once traffic flows", async () => {
            const r = await untilOk(() => checkDocumentQueries(local.prometheusUrl), 40_000);
            expect(r.ok, r.evidence).to.equal(true);
            expect(r.evidence).to.match(/^request rate \d\S* req\/s, latency p95 \S+ s$/);
        });

        it("unreachable Prometheus: names the URL and the security group / operatorCidrs setting", async () => {
            const url = await closedPortUrl();
            const r = await checkPrometheusTargets(url);
            expect(r).to.deep.equal({ ok: false, evidence: `Prometheus unreachable at ${url} (ECONNREFUSED)`, hint: MONITORING_REACH_HINT });
            expect(r.hint).to.contain("operatorCidrs").and.to.contain("monitoring-sg");
        });
    });

    describe("Grafana (stub backed by the live Prometheus)", () => {
        it("health", async () => {
            expect(await checkGrafanaHealth(grafana.url)).to.deep.equal({ ok: true, evidence: "Grafana 13.2.3 healthy" });
        });

        it("the dashboard's panels return data through /api/ds/query, with $instance as all and the default Prometheus datasource", async () => {
            const dash = JSON.parse(loadDashboardJson());
            const panelCount = dash.panels.filter((p: { targets?: unknown[] }) => (p.targets ?? []).length > 0).length;
            // Recorded series take a few rule evaluations to appear.
            const r = await untilOk(() => checkGrafanaDashboard(grafana.url, DASHBOARD_UID, { GRAFANA_TOKEN: TOKEN }), 60_000);
            expect(r.ok, r.evidence).to.equal(true);
            // Error-ratio panels are legitimately empty before any 5xx; they are named, not failed.
            expect(r.evidence).to.match(new RegExp(`^dashboard "${dash.title}": \\d+/${panelCount} panels with data`));
            const withData = Number(/: (\d+)\//.exec(r.evidence)![1]);
            expect(withData).to.be.greaterThan(panelCount / 2);
            const queries = grafana.requests.filter((q) => q.path === "/api/ds/query");
            expect(queries.every((q) => q.authorized)).to.equal(true);
            const exprs = queries.flatMap((q) => (q.body as { queries: { expr: string }[] }).queries.map((x) => x.expr));
            expect(exprs.some((e) => e.includes('instance=~".*"'))).to.equal(true);
            expect(exprs.some((e) => e.includes("$instance"))).to.equal(false);
        });

        it("wrong token: 401 with how to get credentials, and the token is nowhere in the result", async () => {
            const wrong = "glsa_wrong-token-1234";
            const r = await checkGrafanaDashboard(grafana.url, DASHBOARD_UID, { GRAFANA_TOKEN: wrong });
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.contain("HTTP 401");
            expect(r.hint).to.contain("GRAFANA_TOKEN").and.to.contain("grafanaAdminSecretArn");
            expect(JSON.stringify(r)).not.to.contain(wrong);
        });

        it("no credentials, unknown dashboard uid, unreachable Grafana", async () => {
            expect((await checkGrafanaDashboard(grafana.url, DASHBOARD_UID, {})).evidence).to.equal("no Grafana credentials (GRAFANA_TOKEN, or GRAFANA_USER and GRAFANA_PASSWORD)");
            const missing = await checkGrafanaDashboard(grafana.url, "no-such-dashboard", { GRAFANA_TOKEN: TOKEN });
            expect(missing).to.include({ ok: false, evidence: "dashboard uid no-such-dashboard not found" });
            const url = await closedPortUrl();
            expect((await checkGrafanaHealth(url)).evidence).to.equal(`Grafana unreachable at ${url} (ECONNREFUSED)`);
        });

        it("fails when most panels have no data (series Prometheus does not have), naming them", async () => {
            const dash = JSON.parse(loadDashboardJson());
            for (const panel of dash.panels) for (const t of panel.targets ?? []) t.expr = "sum(rate(series_nobody_exports_total[5m]))";
            const stub = await startGrafanaStub({ prometheusUrl: local.prometheusUrl, token: TOKEN, dashboards: { empty: dash } });
            try {
                const r = await checkGrafanaDashboard(stub.url, "empty", { GRAFANA_TOKEN: TOKEN });
                expect(r.ok).to.equal(false);
                expect(r.evidence.startsWith(`dashboard "${dash.title}": 0/${dash.panels.length} panels with data; no data: ${dash.panels[0].title}, `), r.evidence).to.equal(true);
                expect(r.hint).to.contain("Data sources");
            } finally {
                await stub.stop();
            }
        });

        it("a panel whose datasource Grafana does not know fails, naming the panel", async () => {
            const dash = JSON.parse(loadDashboardJson());
            dash.panels[0].datasource = { type: "prometheus", uid: "deleted-datasource" };
            for (const t of dash.panels[0].targets) delete t.datasource;
            const stub = await startGrafanaStub({ prometheusUrl: local.prometheusUrl, token: TOKEN, dashboards: { broken: dash } });
            try {
                const r = await checkGrafanaDashboard(stub.url, "broken", { GRAFANA_TOKEN: TOKEN });
                expect(r.ok).to.equal(false);
                expect(r.evidence).to.contain(`query errors: ${dash.panels[0].title} (data source with uid deleted-datasource not found)`);
            } finally {
                await stub.stop();
            }
        });
    });

    describe("alert drill (live app fault injection → HighErrorRate)", () => {
        let plainApp: ChildProcess | undefined;
        let plainAppUrl: string;

        before(async () => {
            // The real app with fault injection off, as the stack runs it by default.
            const port = await freePort();
            plainAppUrl = `http://127.0.0.1:${port}`;
            plainApp = spawn(process.execPath, [path.join(ROOT, "app", "dist", "main.js")], { env: { PATH: process.env.PATH, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" }, stdio: "ignore" });
            const deadline = Date.now() + 20_000;
            while (!(await httpRequest(`${plainAppUrl}/health`).then((r) => r.status === 200, () => false))) {
                if (Date.now() > deadline || plainApp.exitCode !== null) throw new Error(`app without fault injection did not start at ${plainAppUrl}`);
                await new Promise((r) => setTimeout(r, 200));
            }
        });
        after(() => {
            plainApp?.kill("SIGTERM");
        });

        const faultRatio = async () => JSON.parse((await httpRequest(`${local.appUrl}/fault`, "GET", undefined, local.faultAuth)).body).errorRatio as number;

        it("fault injection off (GET /fault → 404): says so and how to enable it", async () => {
            const r = await runAlertDrill({ appUrl: plainAppUrl, faultToken: local.faultToken, prometheusUrl: local.prometheusUrl, timeoutMs: 10_000 });
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.equal(`fault injection is off at ${plainAppUrl} (GET /fault → 404)`);
            expect(r.hint).to.contain("FAULT_INJECTION=true");
        });

        it("unreachable app: points at the SSM port-forward tunnel and --app-url", async () => {
            const url = await closedPortUrl();
            const r = await runAlertDrill({ appUrl: url, faultToken: local.faultToken, prometheusUrl: local.prometheusUrl, timeoutMs: 10_000 });
            expect(r.evidence).to.equal(`the app unreachable at ${url} (ECONNREFUSED)`);
            expect(r.hint).to.contain("AWS-StartPortForwardingSession").and.to.contain("--app-url");
        });

        it("interrupted (Ctrl-C) while waiting: stops and turns the fault off", async () => {
            const interrupt = new AbortController();
            const drill = runAlertDrill({ appUrl: local.appUrl, faultToken: local.faultToken, prometheusUrl: local.prometheusUrl, timeoutMs: 60_000, signal: interrupt.signal, pollMs: 200 });
            const deadline = Date.now() + 10_000;
            while ((await faultRatio()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            expect(await faultRatio()).to.equal(0.5);
            interrupt.abort();
            const r = await drill;
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.match(/^drill interrupted after \d+ s \(.*\); fault off again$/);
            expect(await faultRatio()).to.equal(0);
        });

        it("CLI: Ctrl-C (SIGINT) during the drill turns the fault off, then exits 130", async () => {
            const outputs = writeOutputs("sigint.json", { prometheusUrl: local.prometheusUrl, appUrl: local.appUrl });
            const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "scripts/verify/main.ts"), "--outputs", outputs, "--only", "drill", "--drill"], {
                cwd: ROOT,
                env: cliEnv,
                stdio: ["ignore", "pipe", "pipe"],
            });
            let stderr = "";
            child.stderr!.on("data", (d) => (stderr += d));
            const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
            try {
                const deadline = Date.now() + 30_000;
                while ((await faultRatio()) === 0 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
                expect(await faultRatio(), stderr).to.equal(0.5);
                child.kill("SIGINT");
                expect(await exited).to.equal(130);
                expect(await faultRatio()).to.equal(0);
                expect(stderr).to.contain("interrupted; stopping (the drill turns fault injection off first)");
                expect(stderr).to.contain("drill: fault injection off again");
            } finally {
                if (child.exitCode === null) child.kill("SIGKILL");
                await local.setFaultRatio(0);
            }
        });

        it("HighErrorRate goes pending then firing; the fault is off again afterwards", async () => {
            const progress: string[] = [];
            const r = await runAlertDrill({ appUrl: local.appUrl, faultToken: local.faultToken, prometheusUrl: local.prometheusUrl, timeoutMs: 90_000, pollMs: 500, progress: (m) => progress.push(m) });
            expect(r.ok, `${r.evidence} / ${r.hint}`).to.equal(true);
            expect(r.evidence).to.match(/^HighErrorRate pending after \d+ s, firing after \d+ s; fault off again$/);
            expect(await faultRatio()).to.equal(0);
            expect(progress[0]).to.contain("fault injection on (errorRatio 0.5)");
            expect(progress[progress.length - 1]).to.equal("fault injection off again");
        });

        it("refuses to prove anything while HighErrorRate is already active (right after the drill above), leaving the fault off", async () => {
            const r = await runAlertDrill({ appUrl: local.appUrl, faultToken: local.faultToken, prometheusUrl: local.prometheusUrl, timeoutMs: 10_000 });
            expect(r.ok).to.equal(false);
            expect(r.evidence).to.match(/^HighErrorRate already (pending|firing)/);
            expect(await faultRatio()).to.equal(0);
        });

        it("CLI --drill with --app-url to an app without fault injection: exit 1, the reason in the table", async () => {
            const outputs = writeOutputs("drill.json", { prometheusUrl: local.prometheusUrl, appUrl: "http://10.40.10.12:3000" });
            const run = await runCli(["--outputs", outputs, "--only", "drill", "--drill", "--app-url", plainAppUrl], cliEnv);
            expect(run.code, run.stderr).to.equal(1);
            expect(run.stdout).to.match(/✗ +Alert drill: HighErrorRate fires on synthetic 5xx +fault injection is off at/);
            expect(run.stdout).to.contain("fix: run the app container with FAULT_INJECTION=true");
        });
    });

    describe("CLI (the real command in its own process)", () => {
        it("exit 0 and --json when every selected required check passes; the Grafana token never appears", async () => {
            const outputs = writeOutputs("ok.json", { prometheusUrl: local.prometheusUrl, grafanaUrl: grafana.url, grafanaDashboardUid: DASHBOARD_UID });
            const run = await runCli(["--outputs", outputs, "--only", "prometheus,grafana", "--json"], { ...cliEnv, GRAFANA_TOKEN: TOKEN });
            expect(run.code, run.stdout + run.stderr).to.equal(0);
            const report = JSON.parse(run.stdout);
            expect(report.ok).to.equal(true);
            expect(report.source).to.equal(`outputs file ${outputs}`);
            expect(report.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).to.deep.equal([
                ["Prometheus targets up", true],
                ["Prometheus queries return data", true],
                ["Grafana healthy", true],
                ["Grafana dashboard panels have data", true],
            ]);
            expect(report.checks[0].evidence).to.match(/^4\/4 targets up/);
            // Progress goes to stderr as each check finishes.
            expect(run.stderr).to.contain("✓ Prometheus targets up (");
            expect(run.stdout + run.stderr).not.to.contain(TOKEN);
        });

        it("exit 1 with the whole checklist: AWS checks say 'no AWS credentials', a missing output is named, the drill is listed as not run", async () => {
            const outputs = writeOutputs("partial.json", {
                region: "eu-west-1",
                prometheusUrl: local.prometheusUrl,
                grafanaUrl: grafana.url,
                grafanaDashboardUid: DASHBOARD_UID,
                auditBucketName: "devsecops-audit-example",
                trailArn: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/devsecops-trail",
                trailName: "devsecops-trail",
                detectorId: "12abc34d567e8fa901bc2d34e56789f0",
                appLogGroupName: "/aws/ec2/prod/devsecops-app",
                platformLogGroupNames: ["/aws/ec2/prod/platform"],
                logRetentionDays: { "/aws/ec2/prod/devsecops-app": 30, "/aws/ec2/prod/platform": 90 },
            });
            const run = await runCli(["--outputs", outputs, "--json"], { ...cliEnv, GRAFANA_TOKEN: TOKEN });
            expect(run.code, run.stderr).to.equal(1);
            const report = JSON.parse(run.stdout);
            expect(report.ok).to.equal(false);
            const byName = Object.fromEntries(report.checks.map((c: { name: string }) => [c.name, c]));
            for (const name of ["CloudTrail logging and delivering", "CloudTrail objects in S3 (AWSLogs/)", "GuardDuty detector and findings", "Audit bucket encrypted, public access blocked", "CloudWatch Logs: app log group", "CloudWatch Logs: /aws/ec2/prod/platform"]) {
                expect(byName[name], name).to.include({ ok: false, required: true, evidence: "no AWS credentials" });
                expect(byName[name].hint).to.contain("AWS_PROFILE");
            }
            expect(byName["CloudWatch Logs: VPC flow log group"]).to.include({ ok: false, evidence: "output flowLogGroupName missing" });
            expect(byName["Prometheus targets up"].ok).to.equal(true);
            expect(byName["Alert drill: HighErrorRate fires on synthetic 5xx"]).to.include({ skipped: true, ok: true });
        });

        it("the human table: ✓/✗/– rows with evidence, fix hints under failures, a summary line", async () => {
            const outputs = writeOutputs("table.json", { prometheusUrl: local.prometheusUrl, grafanaUrl: grafana.url, grafanaDashboardUid: DASHBOARD_UID });
            const run = await runCli(["--outputs", outputs, "--only", "prometheus,grafana,drill"], cliEnv);
            expect(run.code).to.equal(1);
            expect(run.stdout).to.match(/✓ +Prometheus targets up +4\/4 targets up/);
            expect(run.stdout).to.match(/✗ +Grafana dashboard panels have data +no Grafana credentials/);
            expect(run.stdout).to.match(/ +fix: export GRAFANA_TOKEN=/);
            expect(run.stdout).to.match(/– +Alert drill: HighErrorRate fires on synthetic 5xx +not run: pass --drill/);
            expect(run.stdout).to.contain("1 required check failed: Grafana dashboard panels have data.");
        });

        it("exit 2 on bad usage, naming the flag, the value and what is allowed", async () => {
            const unknown = await runCli(["--outputs", "x.json", "--verbose"], cliEnv);
            expect(unknown.code).to.equal(2);
            expect(unknown.stderr).to.contain('unknown flag "--verbose"; allowed: --stack <value>, --outputs <value>');

            const missingFile = path.join(workDir, "absent.json");
            const absent = await runCli(["--outputs", missingFile], cliEnv);
            expect(absent.code).to.equal(2);
            expect(absent.stderr).to.contain(`--outputs ${missingFile}: no such file`);

            const group = await runCli(["--outputs", missingFile, "--only", "prometheus,kubernetes"], cliEnv);
            expect(group.code).to.equal(2);
            expect(group.stderr).to.contain('--only "prometheus,kubernetes": unknown group kubernetes; allowed: frontdoor, prometheus, grafana, drill, logs, cloudtrail, guardduty, s3');
        });

        it("--stack without the pulumi CLI: exit 2 and says to install it or use --outputs", async () => {
            const emptyBin = path.join(workDir, "empty-bin");
            fs.mkdirSync(emptyBin, { recursive: true });
            // node itself is started by absolute path; only pulumi must be unfindable.
            const run = await runCli(["--stack", "prod"], { ...cliEnv, PATH: emptyBin });
            expect(run.code).to.equal(2);
            expect(run.stderr).to.contain("--stack prod: the pulumi CLI is not on PATH");
            expect(run.stderr).to.contain("--outputs <file>");
        });

        it("--stack runs `pulumi stack output --json --show-secrets=false --stack <name>` and checks what it prints", async () => {
            // A stand-in for the Pulumi CLI (not installable here): records its arguments, prints outputs.
            const bin = path.join(workDir, "fake-pulumi-bin");
            fs.mkdirSync(bin, { recursive: true });
            const argsFile = path.join(workDir, "pulumi-args.txt");
            const outputsFile = writeOutputs("pulumi-prints.json", { prometheusUrl: local.prometheusUrl });
            fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\ncat '${outputsFile}'\n`, { mode: 0o755 });
            const run = await runCli(["--stack", "prod", "--only", "prometheus", "--json"], { ...cliEnv, PATH: `${bin}:${process.env.PATH}` });
            expect(fs.readFileSync(argsFile, "utf8").trim().split("\n")).to.deep.equal(["stack", "output", "--json", "--show-secrets=false", "--stack", "prod"]);
            expect(run.code, run.stderr).to.equal(0);
            expect(JSON.parse(run.stdout).source).to.equal("stack prod");

            fs.writeFileSync(path.join(bin, "pulumi"), "#!/bin/sh\necho 'error: no stack named prod found' >&2\nexit 255\n", { mode: 0o755 });
            const failing = await runCli(["--stack", "prod"], { ...cliEnv, PATH: `${bin}:${process.env.PATH}` });
            expect(failing.code).to.equal(2);
            expect(failing.stderr).to.contain("exited with 255: error: no stack named prod found");
        });
    });
});
