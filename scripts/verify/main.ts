import { setMaxListeners } from "node:events";
import { ALERT_NAME, faultOffCommand, runAlertDrill } from "./alertDrill";
import { auditBucketChecks } from "./auditBucketChecks";
import { AwsClients, createAwsClients, destroyAwsClients } from "./awsClients";
import { Check, CheckResult, fail } from "./checkResult";
import { parseVerifyArgs, USAGE, VerifyArgs } from "./cliArgs";
import { cloudTrailChecks } from "./cloudTrailChecks";
import { cloudWatchLogsChecks } from "./cloudWatchLogsChecks";
import { drillToken } from "./drillToken";
import { frontDoorChecks } from "./frontDoorChecks";
import { grafanaChecks } from "./grafanaChecks";
import { guardDutyChecks } from "./guardDutyChecks";
import { monitoringEndpoint } from "./monitoringEndpoint";
import { prometheusChecks } from "./prometheusChecks";
import { formatJson, formatTable, progressLine, requiredFailures } from "./report";
import { runChecks, skipped } from "./runChecks";
import { readOutputsFile, readStackOutputs, StackOutputs, UsageError } from "./stackOutputs";

/**
 * `npm run verify -- --stack prod`: the architecture document's §4 checklist against a
 * deployed stack, with evidence per check. Exit 0 all required checks passed, 1 one failed,
 * 2 bad usage or unreadable outputs, 130 interrupted.
 */

const DRILL_NAME = `Alert drill: ${ALERT_NAME} fires on synthetic 5xx`;

export function buildChecks(args: VerifyArgs, outputs: StackOutputs, env: NodeJS.ProcessEnv, clients: () => AwsClients): Check[] {
    return [
        ...frontDoorChecks(outputs, clients),
        ...prometheusChecks(outputs, args.prometheusUrl),
        ...grafanaChecks(outputs, env, args.grafanaUrl),
        ...cloudWatchLogsChecks(outputs, clients, args.logWindowMinutes),
        ...cloudTrailChecks(outputs, clients),
        ...guardDutyChecks(outputs, clients),
        ...auditBucketChecks(outputs, clients),
    ].filter((c) => !args.only || args.only.includes(c.group));
}

export function drillCheck(args: VerifyArgs, outputs: StackOutputs, env: NodeJS.ProcessEnv, clients: () => AwsClients, progress: (message: string) => void): Check {
    const timeoutMs = args.drillTimeoutSeconds * 1000;
    return {
        group: "drill",
        name: DRILL_NAME,
        required: true,
        // Room after the drill's own deadline to turn the fault off.
        timeoutMs: timeoutMs + 60_000,
        run: async (signal) => {
            let faultToken: string;
            try {
                faultToken = await drillToken(env, outputs, () => clients().secrets);
            } catch (e) {
                return fail(`no drill token: ${(e as Error).message}`, "the drill must present the app's FAULT_INJECTION_TOKEN on /fault");
            }
            const prometheus = monitoringEndpoint("prometheus", outputs, args.prometheusUrl);
            if (!("url" in prometheus)) return prometheus;
            return runAlertDrill({ appUrl: args.appUrl ?? outputs.string("appUrl"), faultToken, prometheusUrl: prometheus.url, timeoutMs, signal, progress });
        },
    };
}

export interface MainIo {
    env: NodeJS.ProcessEnv;
    stdout: (text: string) => void;
    stderr: (text: string) => void;
    /** Aborted on Ctrl-C. */
    signal?: AbortSignal;
}

export async function main(argv: string[], io: MainIo): Promise<number> {
    let args: VerifyArgs;
    let outputs: StackOutputs;
    try {
        args = parseVerifyArgs(argv);
        if (args.help) {
            io.stdout(USAGE + "\n");
            return 0;
        }
        outputs = args.outputsFile !== undefined ? readOutputsFile(args.outputsFile) : readStackOutputs(args.stack!);
    } catch (e) {
        if (e instanceof UsageError) {
            io.stderr(`verify: ${e.message}\n\n${USAGE}\n`);
            return 2;
        }
        throw e;
    }
    const source = args.outputsFile !== undefined ? `outputs file ${args.outputsFile}` : `stack ${args.stack}`;
    let clients: AwsClients | undefined;
    const getClients = () => (clients ??= createAwsClients(outputs.string("region")));
    const progress = (r: CheckResult) => io.stderr(`${progressLine(r)}\n`);

    const checks = buildChecks(args, outputs, io.env, getClients);
    const wantDrill = !args.only || args.only.includes("drill");
    io.stderr(`verify: ${checks.length} checks against ${source}${wantDrill && args.drill ? ", then the alert drill" : ""}\n`);
    const results: CheckResult[] = [];
    try {
        results.push(...(await runChecks(checks, { signal: io.signal, onDone: progress })));
        if (wantDrill) {
            // After the others, alone: it changes the app's behaviour and needs Prometheus reachable.
            if (args.drill && !io.signal?.aborted) {
                results.push(...(await runChecks([drillCheck(args, outputs, io.env, getClients, (m) => io.stderr(`  drill: ${m}\n`))], { signal: io.signal, onDone: progress })));
            } else {
                results.push(skipped({ group: "drill", name: DRILL_NAME, required: true }, "not run: pass --drill (turns fault injection on for a few minutes)"));
            }
        }
    } finally {
        if (clients) destroyAwsClients(clients);
    }
    io.stdout(args.json ? formatJson(results, source) + "\n" : "\n" + formatTable(results) + "\n");
    if (io.signal?.aborted) return 130;
    return requiredFailures(results).length > 0 ? 1 : 0;
}

if (require.main === module) {
    const interrupt = new AbortController();
    // Every concurrent check listens on it.
    setMaxListeners(100, interrupt.signal);
    let drillAppUrl: string | undefined;
    process.on("SIGINT", () => {
        if (!interrupt.signal.aborted) {
            process.stderr.write("\nverify: interrupted; stopping (the drill turns fault injection off first). Ctrl-C again to quit at once.\n");
            interrupt.abort();
            return;
        }
        if (drillAppUrl) process.stderr.write(`verify: quit at once; if the drill was running, turn fault injection off: ${faultOffCommand(drillAppUrl)}\n`);
        process.exit(130);
    });
    const argv = process.argv.slice(2);
    const appUrlIndex = argv.findIndex((a) => a === "--app-url" || a.startsWith("--app-url="));
    if (argv.includes("--drill")) drillAppUrl = appUrlIndex < 0 ? "<appUrl>" : argv[appUrlIndex].includes("=") ? argv[appUrlIndex].split("=")[1] : argv[appUrlIndex + 1];
    let out = "";
    main(argv, { env: process.env, stdout: (t) => (out += t), stderr: (t) => process.stderr.write(t), signal: interrupt.signal }).then(
        (code) => process.stdout.write(out, () => process.exit(code)),
        (e) => {
            process.stderr.write(`verify: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
            process.exit(1);
        },
    );
}
