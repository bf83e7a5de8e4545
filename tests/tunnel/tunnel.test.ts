import { expect } from "chai";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../../scripts/local/harness";

const ROOT = path.join(__dirname, "..", "..");
const MONITORING_ID = "i-0monitoring000001";
const APP_ID = "i-0app00000000healthy";

/**
 * A stand-in for the AWS CLI: logs each call's arguments, answers the calls the tunnel makes, and
 * behaves like the Session Manager plugin for start-session (says it waits, stops on SIGINT).
 */
const AWS_STANDIN = `#!/usr/bin/env node
const fs = require("node:fs");
const argv = process.argv.slice(2);
fs.appendFileSync(process.env.STANDIN_LOG, JSON.stringify(argv) + "\\n");
const say = (o) => process.stdout.write(JSON.stringify(o));
const [service, op] = argv;
if (service === "--version") { console.log("aws-cli/2.31.0 Python/3.13 Linux"); process.exit(0); }
if (service === "sts") {
  if (process.env.STANDIN_CREDENTIALS === "none") { console.error("Unable to locate credentials. You can configure credentials by running \\"aws configure\\"."); process.exit(253); }
  say({ Account: "123456789012", Arn: "arn:aws:sts::123456789012:assumed-role/operator/me" }); process.exit(0);
}
if (service === "autoscaling") {
  say({ AutoScalingGroups: [{ Instances: [
    { InstanceId: "i-0app0000000pending", LifecycleState: "Pending", HealthStatus: "Healthy" },
    { InstanceId: "i-0app000000unhealthy", LifecycleState: "InService", HealthStatus: "Unhealthy" },
    { InstanceId: "${APP_ID}", LifecycleState: "InService", HealthStatus: "Healthy" } ] }] });
  process.exit(0);
}
if (service === "ssm" && op === "describe-instance-information") {
  const ping = process.env.STANDIN_PING ?? "Online";
  say({ InstanceInformationList: ping === "none" ? [] : [{ PingStatus: ping }] }); process.exit(0);
}
if (service === "ssm" && op === "start-session") {
  const how = process.env.STANDIN_START ?? "ok";
  if (how === "denied") { console.error("An error occurred (AccessDeniedException) when calling the StartSession operation: User is not authorized to perform: ssm:StartSession"); process.exit(254); }
  if (how === "notconnected") { console.error("An error occurred (TargetNotConnected) when calling the StartSession operation: ${MONITORING_ID} is not connected."); process.exit(254); }
  console.log("Starting session with SessionId: operator-0123456789abcdef");
  const port = JSON.parse(argv[argv.indexOf("--parameters") + 1]).localPortNumber[0];
  console.log("Port " + port + " opened for sessionId operator-0123456789abcdef.");
  console.log("Waiting for connections...");
  process.on("SIGINT", () => { fs.appendFileSync(process.env.STANDIN_LOG, JSON.stringify(["SIGINT"]) + "\\n"); console.log("Exiting session"); process.exit(0); });
  setInterval(() => {}, 1000);
} else { console.error("stand-in: unexpected call " + argv.join(" ")); process.exit(64); }
`;

interface Tunnel {
    child: ChildProcess;
    stdout: () => string;
    stderr: () => string;
    exit: Promise<number | null>;
}

describe("npm run tunnel (SSM port forwarding), with a stand-in AWS CLI", function () {
    this.timeout(60_000);
    let dir: string;
    let bin: string;
    let log: string;
    let outputsFile: string;
    const running: ChildProcess[] = [];

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "tunnel-"));
        bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "aws"), AWS_STANDIN, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "session-manager-plugin"), "#!/bin/sh\necho 1.2.707.0\n", { mode: 0o755 });
        outputsFile = path.join(dir, "outputs.json");
        fs.writeFileSync(outputsFile, JSON.stringify({ region: "eu-west-1", monitoringInstanceId: MONITORING_ID, autoScalingGroupName: "app-hosts-0123" }));
    });
    beforeEach(() => {
        log = path.join(dir, `calls-${Date.now()}-${Math.random()}.log`);
        fs.writeFileSync(log, "");
    });
    afterEach(() => {
        for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const calls = (): string[][] => fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));

    function tunnel(args: string[], env: Record<string, string> = {}, pathDirs: string[] = [bin]): Tunnel {
        // Only the stand-ins and this Node on PATH: no real aws CLI or plugin can answer.
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "tunnel", "main.ts"), ...args], {
            cwd: ROOT,
            env: { PATH: [...pathDirs, path.dirname(process.execPath)].join(path.delimiter), HOME: dir, STANDIN_LOG: log, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        running.push(child);
        let out = "";
        let err = "";
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
        const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        return { child, stdout: () => out, stderr: () => err, exit };
    }

    async function until(what: string, test: () => boolean, ms = 20_000): Promise<void> {
        const deadline = Date.now() + ms;
        while (!test()) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 50));
        }
    }

    it("grafana: forwards the monitoring host's 3000 with AWS-StartPortForwardingSession, prints the local URL, and closes on Ctrl-C", async () => {
        const port = await freePort();
        const t = tunnel(["grafana", "--outputs", outputsFile, "--local-port", String(port)]);
        await until("the local URL", () => t.stdout().includes("http://127.0.0.1:"));
        expect(t.stdout()).to.contain(`Grafana: http://127.0.0.1:${port}/`).and.contain(MONITORING_ID).and.contain("Ctrl-C closes the tunnel");
        const start = calls().find((c) => c[0] === "ssm" && c[1] === "start-session")!;
        const flag = (name: string) => start[start.indexOf(name) + 1];
        expect(flag("--target")).to.equal(MONITORING_ID);
        expect(flag("--document-name")).to.equal("AWS-StartPortForwardingSession");
        expect(JSON.parse(flag("--parameters"))).to.deep.equal({ portNumber: ["3000"], localPortNumber: [String(port)] });
        expect(flag("--region")).to.equal("eu-west-1");
        // Checked before the session: credentials, then the host's registration.
        expect(calls().map((c) => c.slice(0, 2).join(" "))).to.include.members(["sts get-caller-identity", "ssm describe-instance-information"]);
        t.child.kill("SIGINT");
        expect(await t.exit).to.equal(0);
        expect(t.stdout()).to.contain("tunnel closed");
        expect(calls().some((c) => c[0] === "SIGINT"), "the session was told to stop").to.equal(true);
    });

    it("prometheus and alertmanager: their own ports on the same host; app: one healthy in-service host of the group", async () => {
        for (const [target, remote, id] of [["prometheus", "9090", MONITORING_ID], ["alertmanager", "9093", MONITORING_ID], ["app", "3000", APP_ID]] as const) {
            fs.writeFileSync(log, "");
            const port = await freePort();
            const t = tunnel([target, "--outputs", outputsFile, "--local-port", String(port)]);
            await until(`${target}'s URL`, () => t.stdout().includes("http://127.0.0.1:"));
            const start = calls().find((c) => c[1] === "start-session")!;
            expect(start[start.indexOf("--target") + 1], target).to.equal(id);
            expect(JSON.parse(start[start.indexOf("--parameters") + 1]).portNumber, target).to.deep.equal([remote]);
            t.child.kill("SIGINT");
            expect(await t.exit, target).to.equal(0);
        }
        expect(calls().find((c) => c[0] === "autoscaling")).to.include("app-hosts-0123");
    });

    const failures: { what: string; args?: string[]; env?: Record<string, string>; noPlugin?: boolean; outputs?: object; message: string; hint: string; code?: number }[] = [
        { what: "no credentials", env: { STANDIN_CREDENTIALS: "none" }, message: "no usable AWS credentials: Unable to locate credentials", hint: "aws sso login" },
        { what: "the Session Manager plugin missing", noPlugin: true, message: "the Session Manager plugin is not installed", hint: "session-manager-working-with-install-plugin.html" },
        { what: "the instance not registered with SSM yet", env: { STANDIN_PING: "none" }, message: `instance ${MONITORING_ID} is not registered with Systems Manager (not registered)`, hint: "registers a few minutes after boot" },
        { what: "the instance offline in SSM", env: { STANDIN_PING: "ConnectionLost" }, message: "(PingStatus ConnectionLost)", hint: "AmazonSSMManagedInstanceCore" },
        { what: "no such stack output", outputs: { region: "eu-west-1" }, message: "stack output monitoringInstanceId missing", hint: "pulumi up" },
        { what: "start-session refused by IAM", env: { STANDIN_START: "denied" }, message: "not allowed to start a session", hint: "ssm:StartSession on arn:aws:ec2:eu-west-1:<account>:instance/" + MONITORING_ID },
        { what: "the agent disconnected at start", env: { STANDIN_START: "notconnected" }, message: "not registered with Systems Manager (TargetNotConnected)", hint: "ssmmessages" },
        { what: "an unknown target", args: ["grafna"], message: 'target "grafna": one of grafana, prometheus, alertmanager, app', hint: "Usage: npm run tunnel", code: 2 },
    ];
    for (const f of failures) {
        it(`says what is wrong and what to do: ${f.what}`, async () => {
            let file = outputsFile;
            if (f.outputs) {
                file = path.join(dir, "partial.json");
                fs.writeFileSync(file, JSON.stringify(f.outputs));
            }
            const pluginless = path.join(dir, "bin-no-plugin");
            if (f.noPlugin && !fs.existsSync(pluginless)) {
                fs.mkdirSync(pluginless);
                fs.copyFileSync(path.join(bin, "aws"), path.join(pluginless, "aws"));
                fs.chmodSync(path.join(pluginless, "aws"), 0o755);
            }
            const t = tunnel([...(f.args ?? ["grafana"]), "--outputs", file, "--local-port", String(await freePort())], f.env, [f.noPlugin ? pluginless : bin]);
            expect(await t.exit, t.stderr()).to.equal(f.code ?? 1);
            expect(t.stderr()).to.contain(f.message).and.contain(f.hint);
            if (f.what !== "start-session refused by IAM" && f.what !== "the agent disconnected at start") {
                expect(calls().some((c) => c[1] === "start-session"), "no session started").to.equal(false);
            }
        });
    }

    it("refuses a local port that is already taken, before starting a session", async () => {
        const taken = net.createServer();
        await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
        const port = (taken.address() as net.AddressInfo).port;
        try {
            const t = tunnel(["grafana", "--outputs", outputsFile, "--local-port", String(port)]);
            expect(await t.exit).to.equal(1);
            expect(t.stderr()).to.contain(`local port ${port} is in use`).and.contain("--local-port");
            expect(calls().some((c) => c[1] === "start-session")).to.equal(false);
        } finally {
            taken.close();
        }
    });
});
