import * as path from "node:path";
import { FAULT_TOKEN_FILE, startLocalObservability } from "./harness";

/**
 * `npm run local [-- --errors <percent>] [--rps <n>] [--verbose]`: the app, node_exporter,
 * Prometheus and Alertmanager on loopback with the repo's rendered configs, plus synthetic
 * traffic, so rule and dashboard changes can be tried before `pulumi up`.
 */

export interface LocalArgs {
    /** Share of GET / answering 503, in percent. */
    errorsPercent: number;
    /** Synthetic GET / requests per second. */
    rps: number;
    verbose: boolean;
    help: boolean;
}

export const LOCAL_USAGE = `usage: npm run local -- [--errors <0-100>] [--rps <1-500>] [--verbose]
  --errors   percent of requests the app answers 503 (fault injection); default 0
  --rps      synthetic GET / requests per second; default 20
  --verbose  copy the processes' output to stderr
Alerts use 5 s 'for:' durations and 1 s intervals so they move in seconds.`;

export class LocalUsageError extends Error {}

export function parseLocalArgs(argv: string[]): LocalArgs {
    const args: LocalArgs = { errorsPercent: 0, rps: 20, verbose: false, help: false };
    const numberFlag = (flag: string, raw: string | undefined, min: number, max: number): number => {
        const n = Number(raw);
        if (raw === undefined || raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
            throw new LocalUsageError(`${flag} ${raw === undefined ? "(no value)" : JSON.stringify(raw)}: a number from ${min} to ${max}`);
        }
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].split(/=(.*)/s, 2);
        const value = () => (inline !== undefined ? inline : argv[++i]);
        switch (flag) {
            case "--errors":
                args.errorsPercent = numberFlag("--errors", value(), 0, 100);
                break;
            case "--rps":
                args.rps = numberFlag("--rps", value(), 1, 500);
                break;
            case "--verbose":
                args.verbose = true;
                break;
            case "--help":
            case "-h":
                args.help = true;
                break;
            default:
                throw new LocalUsageError(`unknown argument ${JSON.stringify(argv[i])}: allowed are --errors, --rps, --verbose, --help`);
        }
    }
    return args;
}

async function main(): Promise<void> {
    let args: LocalArgs;
    try {
        args = parseLocalArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`${(e as Error).message}\n${LOCAL_USAGE}`);
        process.exit(2);
    }
    if (args.help) {
        console.log(LOCAL_USAGE);
        return;
    }
    // Signals are caught from the start: the children run in their own process groups and
    // would outlive a default Ctrl-C during start-up.
    let interrupted = false;
    let shutdown = () => {
        interrupted = true;
    };
    process.on("SIGINT", () => shutdown());
    process.on("SIGTERM", () => shutdown());
    const local = await startLocalObservability({ verbose: args.verbose });
    let stopTraffic = () => undefined as void;
    shutdown = () => {
        shutdown = () => undefined;
        stopTraffic();
        local.stop().then(
            () => process.exit(0),
            () => process.exit(1),
        );
    };
    if (interrupted) return shutdown();
    await local.setFaultRatio(args.errorsPercent / 100);
    stopTraffic = local.startTraffic(args.rps);
    const alertsQuery = encodeURIComponent("ALERTS");
    console.log(
        [
            `app            ${local.appUrl}  (GET /fault, PUT /fault {"errorRatio":0.1} with Authorization: Bearer $(cat ${path.join(local.configDir, FAULT_TOKEN_FILE)}))`,
            `prometheus     ${local.prometheusUrl}  (alerts: ${local.prometheusUrl}/alerts, ${local.prometheusUrl}/graph?g0.expr=${alertsQuery})`,
            `alertmanager   ${local.alertmanagerUrl}`,
            `node_exporter  ${local.nodeExporterUrl}`,
            `configs        ${local.configDir}`,
            `traffic        ${args.rps} req/s, ${args.errorsPercent} % answered 503`,
            "Ctrl-C stops everything and removes the configs.",
        ].join("\n"),
    );
}

if (require.main === module) {
    main().catch((e: Error) => {
        console.error(e.message);
        process.exit(1);
    });
}
