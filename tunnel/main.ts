import { readOutputsFile, readStackOutputs, StackOutputs, UsageError } from "../scripts/verify/stackOutputs";
import { openTunnel, TunnelError } from "./portForward";
import { isTunnelTarget, TUNNEL_TARGETS, TunnelTarget } from "./targets";

const USAGE = `Usage: npm run tunnel -- <${Object.keys(TUNNEL_TARGETS).join("|")}> [--stack <name> | --outputs <file>] [--local-port <n>]

Opens a Session Manager port forward to the stack's monitoring host (grafana, prometheus,
alertmanager) or to one healthy app host (app), prints the local URL, and closes on Ctrl-C.
Needs the AWS CLI v2, its Session Manager plugin, and credentials allowed ssm:StartSession.

  --stack <name>       read outputs with \`pulumi stack output --json --stack <name>\` (default: the selected stack)
  --outputs <file>     read outputs from a file written by \`pulumi stack output --json\`
  --local-port <n>     the local port (default: ${Object.entries(TUNNEL_TARGETS).map(([k, v]) => `${k} ${v.localPort}`).join(", ")})

Exit codes: 0 the tunnel was closed or the session ended, 1 it could not open, 2 bad usage.`;

interface TunnelArgs {
    target: TunnelTarget;
    stack?: string;
    outputsFile?: string;
    localPort?: number;
}

export function parseTunnelArgs(argv: string[]): TunnelArgs | "help" {
    let target: string | undefined;
    const args: Partial<TunnelArgs> = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--help" || a === "-h") return "help";
        if (a === "--stack" || a === "--outputs" || a === "--local-port") {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
            if (a === "--stack") args.stack = v;
            else if (a === "--outputs") args.outputsFile = v;
            else {
                const n = Number(v);
                if (!Number.isInteger(n) || n < 1024 || n > 65535) throw new UsageError(`--local-port ${JSON.stringify(v)}: a port from 1024 to 65535`);
                args.localPort = n;
            }
        } else if (a.startsWith("-")) {
            throw new UsageError(`unknown flag ${JSON.stringify(a)}; allowed: --stack <name>, --outputs <file>, --local-port <n>, --help`);
        } else if (target === undefined) {
            target = a;
        } else {
            throw new UsageError(`one target only (got ${JSON.stringify(target)} and ${JSON.stringify(a)})`);
        }
    }
    if (target === undefined) throw new UsageError(`which tunnel? one of ${Object.keys(TUNNEL_TARGETS).join(", ")}`);
    if (!isTunnelTarget(target)) throw new UsageError(`target ${JSON.stringify(target)}: one of ${Object.keys(TUNNEL_TARGETS).join(", ")}`);
    if (args.stack !== undefined && args.outputsFile !== undefined) throw new UsageError("--stack or --outputs, not both");
    return { ...args, target };
}

async function main(): Promise<number> {
    let args: TunnelArgs | "help";
    let outputs: StackOutputs;
    try {
        args = parseTunnelArgs(process.argv.slice(2));
        if (args === "help") {
            console.log(USAGE);
            return 0;
        }
        outputs = args.outputsFile ? readOutputsFile(args.outputsFile) : readStackOutputs(args.stack);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        console.error(`tunnel: ${e.message}\n\n${USAGE}`);
        return 2;
    }
    const interrupt = new AbortController();
    process.on("SIGINT", () => interrupt.abort());
    process.on("SIGTERM", () => interrupt.abort());
    try {
        const how = await openTunnel({ target: args.target, outputs, localPort: args.localPort, signal: interrupt.signal, out: (line) => console.log(line) });
        console.log(how === "closed" ? "tunnel closed" : "session ended (Session Manager closed it, e.g. after its idle timeout)");
        return 0;
    } catch (e) {
        if (!(e instanceof TunnelError)) throw e;
        console.error(`tunnel: ${e.message}\n  ${e.hint}`);
        return 1;
    }
}

main().then((code) => process.exit(code), (e) => {
    console.error(`tunnel: ${(e as Error).stack ?? e}`);
    process.exit(1);
});
