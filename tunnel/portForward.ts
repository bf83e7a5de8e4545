import { execFile, spawn } from "node:child_process";
import * as net from "node:net";
import { StackOutputs } from "../scripts/verify/stackOutputs";
import { TUNNEL_TARGETS, TunnelTarget } from "./targets";

/** A tunnel that cannot open: what went wrong, and what the operator does about it. */
export class TunnelError extends Error {
    constructor(message: string, readonly hint: string) {
        super(message);
        this.name = "TunnelError";
    }
}

export interface TunnelOptions {
    target: TunnelTarget;
    outputs: StackOutputs;
    localPort?: number;
    /** Aborted by Ctrl-C: the session is closed and the promise resolves. */
    signal?: AbortSignal;
    out: (line: string) => void;
    /** The AWS CLI and the Session Manager plugin it runs (stand-ins in tests). */
    awsCommand?: string;
    pluginCommand?: string;
    env?: NodeJS.ProcessEnv;
}

/** The Systems Manager document that forwards a port on the instance itself (Session Manager User Guide, "Port forwarding"). */
export const PORT_FORWARDING_DOCUMENT = "AWS-StartPortForwardingSession";

const INSTALL_CLI = "install the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html";
const INSTALL_PLUGIN =
    "install the Session Manager plugin for the AWS CLI: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html " +
    "(macOS: brew install --cask session-manager-plugin)";
const STOP_GRACE_MS = 5_000;
const cliMissing = () => new TunnelError("the AWS CLI is not on PATH", INSTALL_CLI);

interface Run {
    status: number;
    stdout: string;
    stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv | undefined, missing: TunnelError): Promise<Run> {
    return new Promise((resolve, reject) => {
        execFile(command, args, { env, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error && (error as NodeJS.ErrnoException).code === "ENOENT") return reject(missing);
            const status = error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 1) : 0;
            resolve({ status, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

const firstLine = (s: string) => s.trim().split("\n")[0] ?? "";

function output(outputs: StackOutputs, name: string): string {
    if (!outputs.has(name)) throw new TunnelError(`stack output ${name} missing`, "deploy the stack first (pulumi up), or name the right one with --stack");
    return outputs.string(name);
}

function localPortFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const probe = net.createServer();
        probe.once("error", () => resolve(false));
        probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
}

/** Why start-session failed, from the CLI's error text. */
function startFailure(stderr: string, p: { instanceId: string; region: string }): TunnelError {
    if (/TargetNotConnected/.test(stderr)) return notRegistered(p.instanceId, "TargetNotConnected");
    if (/AccessDenied|not authorized/i.test(stderr)) {
        return new TunnelError(
            `not allowed to start a session: ${firstLine(stderr)}`,
            `your role needs ssm:StartSession on arn:aws:ec2:${p.region}:<account>:instance/${p.instanceId} and on arn:aws:ssm:${p.region}::document/${PORT_FORWARDING_DOCUMENT}, and ssm:TerminateSession / ssmmessages:OpenDataChannel on its own sessions (README, "Operator access")`,
        );
    }
    if (/SessionManagerPlugin is not found|session-manager-plugin/i.test(stderr)) return new TunnelError("the Session Manager plugin is not installed", INSTALL_PLUGIN);
    return new TunnelError(`aws ssm start-session failed: ${firstLine(stderr) || "no error text"}`, "run it again with AWS_DEBUG or --debug on the aws command to see why");
}

function notRegistered(instanceId: string, status: string): TunnelError {
    return new TunnelError(
        `instance ${instanceId} is not registered with Systems Manager (${status})`,
        "a new host registers a few minutes after boot; if it stays so, check that it runs, that its role has AmazonSSMManagedInstanceCore, and that it reaches ssm, ssmmessages and ec2messages (NAT or VPC endpoints)",
    );
}

/**
 * Opens a Session Manager port forward to the target's host and port and keeps it open until the
 * session ends or `signal` aborts (Ctrl-C). Checks first, each with its own error: the CLI and its
 * plugin are installed, credentials work, the stack output names a host, the host is registered
 * with Systems Manager, and the local port is free.
 */
export async function openTunnel(options: TunnelOptions): Promise<"closed" | "ended"> {
    const aws = options.awsCommand ?? "aws";
    const plugin = options.pluginCommand ?? "session-manager-plugin";
    const t = TUNNEL_TARGETS[options.target];
    const localPort = options.localPort ?? t.localPort;
    const region = output(options.outputs, "region");
    const inRegionAsJson = (args: string[]) => [...args, "--region", region, "--output", "json"];
    const awsJson = async <T>(args: string[], what: string): Promise<T> => {
        const r = await run(aws, inRegionAsJson(args), options.env, cliMissing());
        if (r.status !== 0) throw new TunnelError(`${what} failed: ${firstLine(r.stderr) || `exit ${r.status}`}`, "check your AWS credentials and their permissions in the stack's account");
        return JSON.parse(r.stdout) as T;
    };

    const version = await run(aws, ["--version"], options.env, cliMissing());
    if (version.status !== 0) throw new TunnelError(`aws --version exited ${version.status}`, INSTALL_CLI);
    await run(plugin, ["--version"], options.env, new TunnelError("the Session Manager plugin is not installed", INSTALL_PLUGIN));

    const identity = await run(aws, inRegionAsJson(["sts", "get-caller-identity"]), options.env, cliMissing());
    if (identity.status !== 0) {
        throw new TunnelError(
            `no usable AWS credentials: ${firstLine(identity.stderr) || `aws sts get-caller-identity exited ${identity.status}`}`,
            "sign in for the stack's account (e.g. aws sso login --profile <name>, then AWS_PROFILE=<name>) and run the tunnel again",
        );
    }

    let instanceId: string;
    if (t.host === "monitoring") {
        instanceId = output(options.outputs, "monitoringInstanceId");
    } else {
        const group = output(options.outputs, "autoScalingGroupName");
        const groups = await awsJson<{ AutoScalingGroups?: { Instances?: { InstanceId: string; LifecycleState: string; HealthStatus: string }[] }[] }>(
            ["autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group],
            "aws autoscaling describe-auto-scaling-groups",
        );
        const healthy = (groups.AutoScalingGroups?.[0]?.Instances ?? []).filter((i) => i.LifecycleState === "InService" && i.HealthStatus === "Healthy");
        if (healthy.length === 0) throw new TunnelError(`no healthy app host in service in ${group}`, "wait for the group to launch one (aws autoscaling describe-auto-scaling-groups), then run the tunnel again");
        instanceId = healthy[0].InstanceId;
    }

    const info = await awsJson<{ InstanceInformationList?: { PingStatus?: string }[] }>(
        ["ssm", "describe-instance-information", "--filters", `Key=InstanceIds,Values=${instanceId}`],
        "aws ssm describe-instance-information",
    );
    const ping = info.InstanceInformationList?.[0]?.PingStatus;
    if (ping !== "Online") throw notRegistered(instanceId, ping ? `PingStatus ${ping}` : "not registered");

    if (!(await localPortFree(localPort))) throw new TunnelError(`local port ${localPort} is in use`, `close what holds it, or pass --local-port <another port>`);
    if (options.signal?.aborted) return "closed";

    const parameters = JSON.stringify({ portNumber: [String(t.remotePort)], localPortNumber: [String(localPort)] });
    const session = spawn(aws, ["ssm", "start-session", "--region", region, "--target", instanceId, "--document-name", PORT_FORWARDING_DOCUMENT, "--parameters", parameters], {
        env: options.env,
        stdio: ["ignore", "pipe", "pipe"],
    });
    return new Promise((resolve, reject) => {
        let stderr = "";
        let announced = false;
        let interrupted = false;
        let killTimer: NodeJS.Timeout | undefined;
        session.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            // The plugin says it listens once the local port is bound.
            if (!announced && /Waiting for connections/.test(chunk)) {
                announced = true;
                options.out(`${t.what}: http://127.0.0.1:${localPort}${t.path} (instance ${instanceId}, port ${t.remotePort}); Ctrl-C closes the tunnel`);
            }
        });
        session.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        const stop = () => {
            interrupted = true;
            session.kill("SIGINT");
            killTimer = setTimeout(() => session.kill("SIGKILL"), STOP_GRACE_MS);
        };
        options.signal?.addEventListener("abort", stop, { once: true });
        session.once("error", (e) => reject((e as NodeJS.ErrnoException).code === "ENOENT" ? cliMissing() : e));
        session.once("exit", (code) => {
            if (killTimer) clearTimeout(killTimer);
            options.signal?.removeEventListener("abort", stop);
            if (interrupted) return resolve("closed");
            if (code === 0) return resolve("ended");
            reject(startFailure(stderr, { instanceId, region }));
        });
    });
}
