/** The shape every verification check shares, so the runner, the table and --json treat them alike. */

export type CheckGroup = "frontdoor" | "prometheus" | "grafana" | "drill" | "logs" | "cloudtrail" | "guardduty" | "s3";
export const CHECK_GROUPS: readonly CheckGroup[] = ["frontdoor", "prometheus", "grafana", "drill", "logs", "cloudtrail", "guardduty", "s3"];

/** What a check found: evidence always; a hint saying how to fix it when it failed. */
export interface CheckOutcome {
    ok: boolean;
    evidence: string;
    hint?: string;
}

export interface CheckResult extends CheckOutcome {
    group: CheckGroup;
    name: string;
    /** A failed required check makes the command exit non-zero. */
    required: boolean;
    /** Not run (e.g. the alert drill without --drill); never counts as a failure. */
    skipped?: boolean;
    seconds: number;
}

export interface Check {
    group: CheckGroup;
    name: string;
    required: boolean;
    /** Upper bound for the whole check; the runner aborts `signal` when it passes. */
    timeoutMs: number;
    run(signal: AbortSignal): Promise<CheckOutcome>;
}

/** A stack output a check needs is absent: the check fails with this, naming the output. */
export class MissingOutputError extends Error {
    constructor(readonly outputName: string, readonly expected: string) {
        super(`output ${outputName} missing`);
        this.name = "MissingOutputError";
    }
}

export function pass(evidence: string): CheckOutcome {
    return { ok: true, evidence };
}

export function fail(evidence: string, hint: string): CheckOutcome {
    return { ok: false, evidence, hint };
}
