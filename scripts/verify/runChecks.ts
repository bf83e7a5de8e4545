import { Check, CheckOutcome, CheckResult, fail, MissingOutputError } from "./checkResult";
import { MONITORING_REACH_HINT } from "./failureHints";

/** Runs checks concurrently, each bounded by its own time limit; a check never throws out of here. */

function timeoutHint(check: Check): string {
    if (check.group === "prometheus" || check.group === "grafana") return MONITORING_REACH_HINT;
    if (check.group === "drill") return "the drill's requests stopped answering: check the app tunnel (--app-url) and Prometheus reach";
    return "the AWS API did not answer in time: check this machine reaches the region's AWS endpoints (proxy, VPN, firewall)";
}

const CLEANUP_GRACE_MS = 30_000;

async function runOne(check: Check, outer?: AbortSignal): Promise<CheckOutcome> {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CheckOutcome>((resolve) => {
        timer = setTimeout(() => {
            controller.abort();
            resolve(fail(`no result within ${(check.timeoutMs / 1000).toFixed(check.timeoutMs < 10_000 ? 1 : 0)} s`, timeoutHint(check)));
        }, check.timeoutMs);
    });
    // A synchronous throw (e.g. a missing output) becomes a rejection handled below.
    const running = Promise.resolve().then(() => check.run(controller.signal));
    try {
        const outcome = await Promise.race([running, timedOut]);
        // On a time-out the check was aborted: let it finish its cleanup (the drill turns the fault off) before reporting.
        if (controller.signal.aborted) await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, CLEANUP_GRACE_MS))]);
        return outcome;
    } catch (e) {
        if (e instanceof MissingOutputError) {
            return fail(`output ${e.outputName} missing`, `the stack must export ${e.outputName} (${e.expected}): update the stack (pulumi up) and read its outputs again`);
        }
        if (outer?.aborted) return fail("interrupted", "rerun verify");
        return fail(`check failed unexpectedly: ${(e as Error)?.message ?? String(e)}`, "an answer verify did not expect: rerun, and report it with the --json output if it persists");
    } finally {
        clearTimeout(timer);
        outer?.removeEventListener("abort", onOuterAbort);
    }
}

export interface RunOptions {
    signal?: AbortSignal;
    onDone?: (result: CheckResult) => void;
}

export async function runChecks(checks: Check[], options: RunOptions = {}): Promise<CheckResult[]> {
    return Promise.all(
        checks.map(async (check) => {
            const started = Date.now();
            const outcome = await runOne(check, options.signal);
            const result: CheckResult = { group: check.group, name: check.name, required: check.required, ...outcome, seconds: Math.round((Date.now() - started) / 100) / 10 };
            options.onDone?.(result);
            return result;
        }),
    );
}

export function skipped(check: Pick<Check, "group" | "name" | "required">, why: string): CheckResult {
    return { group: check.group, name: check.name, required: check.required, ok: true, skipped: true, evidence: why, seconds: 0 };
}
