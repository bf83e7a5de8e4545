import { CheckOutcome, fail, pass } from "./checkResult";
import { explainHttpError, MONITORING_REACH_HINT } from "./failureHints";
import { HttpStatusError, httpJson, joinUrl } from "./httpJson";

/**
 * §4.4: synthetic 5xx raise HighErrorRate. Turns the app's fault injection on, sends
 * traffic (the rule needs a request rate > 0), waits for pending then firing, and always
 * turns the fault off again — on success, failure, time-out and Ctrl-C (the abort signal).
 */

export const ALERT_NAME = "HighErrorRate";
const REQUEST_TIMEOUT_MS = 5_000;

export interface AlertDrillOptions {
    appUrl: string;
    /** The bearer token the app requires on /fault (FAULT_INJECTION_TOKEN; see drillToken.ts). */
    faultToken: string;
    prometheusUrl: string;
    /** How long to wait for firing; the deployed rule has `for: 5m`. */
    timeoutMs: number;
    errorRatio?: number;
    trafficPerSecond?: number;
    pollMs?: number;
    /** Aborted on Ctrl-C: the drill stops waiting and turns the fault off. */
    signal?: AbortSignal;
    progress?: (message: string) => void;
}

export function appReachHint(appUrl: string): string {
    return (
        `the app (${appUrl}) is in a private subnet: open a tunnel from your machine, e.g. ` +
        `aws ssm start-session --target <an instance of the autoScalingGroupName output> --document-name AWS-StartPortForwardingSession --parameters '{"portNumber":["3000"],"localPortNumber":["13000"]}', ` +
        "then rerun with --app-url http://127.0.0.1:13000"
    );
}

export function faultOffCommand(appUrl: string): string {
    return `curl -X PUT -H 'content-type: application/json' -H "Authorization: Bearer $FAULT_INJECTION_TOKEN" -d '{"errorRatio":0}' ${joinUrl(appUrl, "/fault")}`;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface AlertsResponse {
    data: { alerts: { labels: Record<string, string>; state: "pending" | "firing" | "inactive"; activeAt?: string }[] };
}

async function alertStates(prometheusUrl: string): Promise<string[]> {
    const r = await httpJson<AlertsResponse>(joinUrl(prometheusUrl, "/api/v1/alerts"), { timeoutMs: REQUEST_TIMEOUT_MS });
    return r.data.alerts.filter((a) => a.labels.alertname === ALERT_NAME).map((a) => a.state);
}

async function setFault(appUrl: string, token: string, errorRatio: number): Promise<void> {
    const r = await httpJson<{ errorRatio: number }>(joinUrl(appUrl, "/fault"), { method: "PUT", body: { errorRatio }, headers: bearer(token), timeoutMs: REQUEST_TIMEOUT_MS });
    if (r.errorRatio !== errorRatio) throw new Error(`PUT /fault answered errorRatio ${r.errorRatio}, not ${errorRatio}`);
}

/** Retries: leaving the fault on would keep paging people. */
async function turnFaultOff(appUrl: string, token: string): Promise<string | undefined> {
    let last = "";
    for (let attempt = 0; attempt < 3; attempt++) {
        try {
            await setFault(appUrl, token, 0);
            return undefined;
        } catch (e) {
            last = (e as Error).message;
            await new Promise((r) => setTimeout(r, 1000));
        }
    }
    return last;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const timer = setTimeout(done, ms);
        function done() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
    });
}

export async function runAlertDrill(options: AlertDrillOptions): Promise<CheckOutcome> {
    const { appUrl, prometheusUrl, signal } = options;
    const progress = options.progress ?? (() => undefined);
    const errorRatio = options.errorRatio ?? 0.5;
    const pollMs = options.pollMs ?? 2000;
    const faultUrl = joinUrl(appUrl, "/fault");

    // Before touching anything: is fault injection on, and is the alert quiet now?
    try {
        await httpJson(faultUrl, { headers: bearer(options.faultToken), timeoutMs: REQUEST_TIMEOUT_MS, signal });
    } catch (e) {
        if (e instanceof HttpStatusError && e.status === 404) {
            return fail(
                `fault injection is off at ${appUrl} (GET /fault → 404)`,
                "run the app container with FAULT_INJECTION=true (its environment on the app host), then rerun with --drill; turn it off again after the drill",
            );
        }
        if (e instanceof HttpStatusError && (e.status === 401 || e.status === 403)) {
            return fail(
                `the app refused the drill's token (GET /fault → ${e.status})`,
                "the token must be the stack's fault-injection-token secret (appSecretArns output), which the app host read at boot; set FAULT_INJECTION_TOKEN to override",
            );
        }
        return explainHttpError(e, { service: "the app", url: appUrl, reachHint: appReachHint(appUrl) }, REQUEST_TIMEOUT_MS);
    }
    let before: string[];
    try {
        before = await alertStates(prometheusUrl);
    } catch (e) {
        return explainHttpError(e, { service: "Prometheus", url: prometheusUrl, reachHint: MONITORING_REACH_HINT }, REQUEST_TIMEOUT_MS);
    }
    if (before.length > 0) {
        return fail(`${ALERT_NAME} already ${before.join("/")} before the drill: it cannot prove anything now`, "resolve the real errors (runbook: docs/runbooks.md#higherrorrate), then rerun the drill");
    }

    const started = Date.now();
    const deadline = started + options.timeoutMs;
    let pendingAfter: number | undefined;
    let firingAfter: number | undefined;
    let outcome: CheckOutcome | undefined;
    let trafficErrors = 0;
    const traffic = setInterval(() => {
        fetch(joinUrl(appUrl, "/"), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
            .then((r) => r.arrayBuffer())
            .catch(() => trafficErrors++);
    }, Math.max(50, Math.round(1000 / (options.trafficPerSecond ?? 5))));
    try {
        progress(`fault injection on (errorRatio ${errorRatio}) at ${appUrl}; sending traffic; waiting up to ${Math.round(options.timeoutMs / 1000)} s for ${ALERT_NAME}`);
        await setFault(appUrl, options.faultToken, errorRatio);
        while (!signal?.aborted && Date.now() < deadline) {
            const states = await alertStates(prometheusUrl).catch(() => [] as string[]);
            const seconds = (Date.now() - started) / 1000;
            if (pendingAfter === undefined && states.length > 0) {
                pendingAfter = seconds;
                progress(`${ALERT_NAME} ${states.join("/")} after ${seconds.toFixed(0)} s`);
            }
            if (states.includes("firing")) {
                firingAfter = seconds;
                break;
            }
            await sleep(pollMs, signal);
        }
        const pendingText = pendingAfter === undefined ? "never pending" : `pending after ${pendingAfter.toFixed(0)} s`;
        if (firingAfter !== undefined) outcome = pass(`${ALERT_NAME} ${pendingText}, firing after ${firingAfter.toFixed(0)} s`);
        else if (signal?.aborted) outcome = fail(`drill interrupted after ${((Date.now() - started) / 1000).toFixed(0)} s (${pendingText})`, "rerun with --drill to complete it");
        else {
            outcome = fail(
                `${ALERT_NAME} not firing within ${Math.round(options.timeoutMs / 1000)} s (${pendingText}${trafficErrors ? `, ${trafficErrors} drill requests failed` : ""})`,
                pendingAfter === undefined
                    ? "Prometheus never saw the error ratio: check the app target is up and the rules are loaded (/api/v1/rules lists HighErrorRate)"
                    : "the alert went pending but its `for:` (5m in the stack) outlasted the wait: rerun with a longer --drill-timeout",
            );
        }
    } catch (e) {
        outcome = explainHttpError(e, { service: "the app or Prometheus", url: `${appUrl} / ${prometheusUrl}`, reachHint: appReachHint(appUrl) }, REQUEST_TIMEOUT_MS);
    } finally {
        clearInterval(traffic);
        const offError = await turnFaultOff(appUrl, options.faultToken);
        if (offError !== undefined) {
            outcome = fail(`${outcome?.evidence ?? "drill failed"}; FAULT INJECTION STILL ON (${offError})`, `turn it off now: ${faultOffCommand(appUrl)}`);
        } else {
            progress("fault injection off again");
            if (outcome) outcome = { ...outcome, evidence: `${outcome.evidence}; fault off again` };
        }
    }
    return outcome!;
}
