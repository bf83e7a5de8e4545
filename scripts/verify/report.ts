import { CheckResult } from "./checkResult";

/** The human table and the machine JSON. Neither ever contains credentials: checks never put them in evidence. */

export function symbol(r: CheckResult): string {
    return r.skipped ? "–" : r.ok ? "✓" : "✗";
}

export function requiredFailures(results: CheckResult[]): CheckResult[] {
    return results.filter((r) => r.required && !r.ok && !r.skipped);
}

export function progressLine(r: CheckResult): string {
    return `${symbol(r)} ${r.name} (${r.seconds.toFixed(1)} s)`;
}

export function formatTable(results: CheckResult[]): string {
    const width = Math.max(5, ...results.map((r) => r.name.length + (r.required ? 0 : 11)));
    const lines = [`   ${"Check".padEnd(width)}  Evidence`];
    for (const r of results) {
        const name = r.required ? r.name : `${r.name} (optional)`;
        lines.push(`${symbol(r)}  ${name.padEnd(width)}  ${r.evidence}`);
        if (!r.ok && r.hint) lines.push(`   ${"".padEnd(width)}  fix: ${r.hint}`);
    }
    const failed = requiredFailures(results);
    const run = results.filter((r) => !r.skipped);
    const skippedCount = results.length - run.length;
    lines.push("");
    lines.push(
        failed.length === 0
            ? `All ${run.filter((r) => r.required).length} required checks passed${skippedCount ? `; ${skippedCount} not run` : ""}.`
            : `${failed.length} required check${failed.length === 1 ? "" : "s"} failed: ${failed.map((r) => r.name).join(", ")}.`,
    );
    return lines.join("\n");
}

export function formatJson(results: CheckResult[], source: string): string {
    return JSON.stringify({ ok: requiredFailures(results).length === 0, source, checks: results }, null, 2);
}
