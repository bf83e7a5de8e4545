/**
 * npm run bench:alerts — time to detect and to resolve, per alert, for synthetic incidents.
 *
 * A measurement, not a test: each scenario is a `promtool test rules` run over the rules the
 * monitoring host ships (default settings), with synthetic series at 15 s and evaluation at
 * 15 s (deterministic, no waiting). At the end of the run one PromQL query per column asks for
 * the first (or last) evaluation at which the alert was firing; promtool prints what it got
 * against an expectation of nothing, and that is read back. Prints a table, the targets
 * met / not met, and the JSON (also written to benchmarks/alerts/last-run.json).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { DEFAULT_ALERT_THRESHOLDS, renderAlertRules, renderRecordingRules } from "../../prometheus";

const STEP_S = 15;
const PER_STEP = 2000; // requests per 15 s (~133 req/s)
const HISTORY_H = 6; // clean traffic before each incident

interface Phase {
    /** Length in steps. */
    steps: number;
    /** Bad share of requests in each step (errors, or slow requests for latency scenarios). */
    bad: (step: number) => number;
}
interface Scenario {
    name: string;
    kind: "errors" | "latency";
    phases: Phase[];
    /** Step at which the incident starts and at which it ends (recovery). */
    incidentStart: number;
    recoveryStart?: number;
}

const h = (hours: number) => Math.round((hours * 3600) / STEP_S);
const constant = (share: number) => () => share;

function incident(name: string, kind: Scenario["kind"], share: number, hours: number, recoveryHours = 1): Scenario {
    const history = h(HISTORY_H);
    return {
        name,
        kind,
        phases: [
            { steps: history, bad: constant(0) },
            { steps: h(hours), bad: constant(share) },
            { steps: h(recoveryHours), bad: constant(0) },
        ],
        incidentStart: history,
        recoveryStart: history + h(hours),
    };
}

function healthyDay(): Scenario {
    const history = h(HISTORY_H);
    const day = h(24);
    const blips = new Set<number>();
    for (let i = 0; i < 10; i++) {
        const at = Math.floor(((i + 0.5) * day) / 10);
        blips.add(at).add(at + 1); // two 15 s steps = 30 s
    }
    return {
        name: "healthy day: 0.05 % errors, ten 30 s blips of 10 %",
        kind: "errors",
        phases: [
            { steps: history, bad: constant(0.0005) },
            { steps: day, bad: (s) => (blips.has(s) ? 0.1 : 0.0005) },
        ],
        incidentStart: history,
    };
}

const SCENARIOS: Scenario[] = [
    incident("total outage (100 % errors)", "errors", 1, 1),
    incident("10 % errors sustained", "errors", 0.1, 2),
    incident("5 % errors sustained", "errors", 0.05, 2),
    incident("2 % errors sustained", "errors", 0.02, 2),
    incident("1 % errors sustained", "errors", 0.01, 8),
    incident("0.2 % errors sustained", "errors", 0.002, 12),
    { ...incident("30 s burst of 100 % errors", "errors", 1, 30 / 3600), name: "30 s burst of 100 % errors" },
    healthyDay(),
    incident("latency: every request slow", "latency", 1, 1),
    incident("latency: 5 % slow", "latency", 0.05, 12),
];

/** Cumulative counter values per step, as promtool's explicit value lists. */
function seriesFor(s: Scenario): { series: string; values: string }[] {
    const good: number[] = [0];
    const bad: number[] = [0];
    let step = 0;
    for (const p of s.phases) {
        for (let i = 0; i < p.steps; i++, step++) {
            const b = Math.round(PER_STEP * p.bad(i));
            bad.push(bad[bad.length - 1] + b);
            good.push(good[good.length - 1] + PER_STEP - b);
        }
    }
    const l = 'job="app",instance="app-1",method="GET",route="/"';
    const join = (a: number[]) => a.join(" ");
    if (s.kind === "errors") {
        return [
            { series: `http_requests_total{${l},status_code="200"}`, values: join(good) },
            { series: `http_requests_total{${l},status_code="503"}`, values: join(bad) },
        ];
    }
    const total = good.map((g, i) => g + bad[i]);
    const b = (le: string, v: number[]) => ({ series: `http_request_duration_seconds_bucket{${l},status_code="200",le="${le}"}`, values: join(v) });
    return [
        b("0.25", good),
        b("0.5", good),
        b("1", total),
        b("+Inf", total),
        { series: `http_request_duration_seconds_count{${l},status_code="200"}`, values: join(total) },
        { series: `http_requests_total{${l},status_code="200"}`, values: join(total) },
    ];
}

const COLUMNS = {
    firstPage: { fn: "min", sel: 'alertname=~"AvailabilityBudgetBurn|LatencyBudgetBurn",severity="critical"' },
    firstTicket: { fn: "min", sel: 'alertname=~"AvailabilityBudgetBurn|LatencyBudgetBurn",severity="warning"' },
    lastPage: { fn: "max", sel: 'alertname=~"AvailabilityBudgetBurn|LatencyBudgetBurn",severity="critical"' },
    firstHighErrorRate: { fn: "min", sel: 'alertname="HighErrorRate"' },
    firstHighLatencyP95: { fn: "min", sel: 'alertname="HighLatencyP95"' },
    lastHighErrorRate: { fn: "max", sel: 'alertname="HighErrorRate"' },
} as const;
type Column = keyof typeof COLUMNS;

function runPromtool(dir: string, file: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn("promtool", ["test", "rules", file], { cwd: dir });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("error", (e) => reject(new Error(`promtool could not run (${e.message}): install Debian's prometheus package`)));
        child.on("close", () => resolve(out));
    });
}

async function measure(s: Scenario, dir: string, groupEvalOrder: string[]): Promise<Record<Column, number | null>> {
    const steps = s.phases.reduce((n, p) => n + p.steps, 0);
    const end = `${steps * STEP_S}s`;
    const promql_expr_test = (Object.keys(COLUMNS) as Column[]).map((c) => ({
        // The timestamp of each firing sample over the whole run; label q names the column in promtool's output.
        expr: `label_replace(${COLUMNS[c].fn}(${COLUMNS[c].fn}_over_time(timestamp(ALERTS{${COLUMNS[c].sel},alertstate="firing"})[${end}:${STEP_S}s])), "q", "${c}", "", "")`,
        eval_time: end,
        exp_samples: [],
    }));
    const file = `bench-${Math.random().toString(36).slice(2)}.yml`;
    fs.writeFileSync(
        path.join(dir, file),
        YAML.stringify({
            rule_files: ["alert_rules.yml", "recording_rules.yml"],
            evaluation_interval: `${STEP_S}s`,
            group_eval_order: groupEvalOrder,
            tests: [{ name: s.name, interval: `${STEP_S}s`, input_series: seriesFor(s), promql_expr_test }],
        }),
    );
    const out = await runPromtool(dir, file);
    if (!/FAILED|SUCCESS/.test(out)) throw new Error(`promtool failed on "${s.name}":\n${out.slice(0, 2000)}`);
    const result = Object.fromEntries((Object.keys(COLUMNS) as Column[]).map((c) => [c, null])) as Record<Column, number | null>;
    for (const m of out.matchAll(/\{q="(\w+)"\} ([-+.\dE]+)/g)) result[m[1] as Column] = Number(m[2]);
    return result;
}

const fmt = (seconds: number | null | undefined) => {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 120) return `${Math.round(seconds)} s`;
    if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
};

async function main(): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-bench-alerts-"));
    try {
        const alertRules = renderAlertRules(DEFAULT_ALERT_THRESHOLDS);
        const recordingRules = renderRecordingRules();
        fs.writeFileSync(path.join(dir, "alert_rules.yml"), alertRules);
        fs.writeFileSync(path.join(dir, "recording_rules.yml"), recordingRules);
        const groupEvalOrder = [recordingRules, alertRules].flatMap((t) => YAML.parse(t).groups.map((g: { name: string }) => g.name));
        const started = Date.now();
        const rows: Record<string, unknown>[] = [];
        // Two promtool runs at a time.
        const queue = [...SCENARIOS.entries()];
        const results: Record<Column, number | null>[] = [];
        await Promise.all(
            [0, 1].map(async () => {
                for (let next = queue.shift(); next; next = queue.shift()) {
                    const [i, s] = next;
                    results[i] = await measure(s, dir, groupEvalOrder);
                    process.stderr.write(`  measured: ${s.name}\n`);
                }
            }),
        );
        SCENARIOS.forEach((s, i) => {
            const r = results[i];
            const t0 = s.incidentStart * STEP_S;
            const since = (v: number | null) => (v === null ? null : v - t0);
            const resolve = (last: number | null) => (last === null || s.recoveryStart === undefined ? null : last + STEP_S - s.recoveryStart * STEP_S);
            rows.push({
                scenario: s.name,
                firstPageS: since(r.firstPage),
                firstTicketS: since(r.firstTicket),
                highErrorRateS: since(r.firstHighErrorRate),
                highLatencyP95S: since(r.firstHighLatencyP95),
                pageResolvesAfterRecoveryS: resolve(r.lastPage),
                highErrorRateResolvesAfterRecoveryS: resolve(r.lastHighErrorRate),
            });
        });
        const by = (name: string) => rows.find((r) => r.scenario === name)!;
        const targets = [
            { target: "total outage pages within 2 min", met: by(SCENARIOS[0].name).firstPageS !== null && (by(SCENARIOS[0].name).firstPageS as number) <= 120 },
            { target: "2 % errors page within 1 h", met: by(SCENARIOS[3].name).firstPageS !== null && (by(SCENARIOS[3].name).firstPageS as number) <= 3600 },
            { target: "0.2 % sustained opens a ticket within 3 d", met: by(SCENARIOS[5].name).firstTicketS !== null && (by(SCENARIOS[5].name).firstTicketS as number) <= 3 * 86400 },
            { target: "healthy day: zero pages and zero tickets", met: by(SCENARIOS[7].name).firstPageS === null && by(SCENARIOS[7].name).firstTicketS === null },
            {
                target: "every page resolves within 10 min of recovery",
                met: rows.every((r) => r.firstPageS === null || (r.pageResolvesAfterRecoveryS !== null && (r.pageResolvesAfterRecoveryS as number) <= 600)),
            },
        ];
        const header = ["Scenario", "First page", "First ticket", "HighErrorRate", "HighLatencyP95", "Page resolves after recovery"];
        const lines = rows.map((r) => [
            r.scenario as string,
            fmt(r.firstPageS as number | null),
            fmt(r.firstTicketS as number | null),
            fmt(r.highErrorRateS as number | null),
            fmt(r.highLatencyP95S as number | null),
            r.firstPageS === null ? "–" : fmt(r.pageResolvesAfterRecoveryS as number | null),
        ]);
        console.log(`| ${header.join(" | ")} |\n|${header.map(() => "---").join("|")}|`);
        for (const l of lines) console.log(`| ${l.join(" | ")} |`);
        console.log("");
        for (const t of targets) console.log(`${t.met ? "MET    " : "NOT MET"}  ${t.target}`);
        const json = {
            promtool: "promtool test rules",
            stepSeconds: STEP_S,
            requestsPerStep: PER_STEP,
            historyHours: HISTORY_H,
            note: "times from the incident's start (first evaluation with the alert firing); resolve = first evaluation without it, after recovery",
            rows,
            targets,
            elapsedSeconds: Math.round((Date.now() - started) / 1000),
        };
        console.log("\n" + JSON.stringify(json, null, 2));
        fs.writeFileSync(path.join(__dirname, "last-run.json"), JSON.stringify(json, null, 2) + "\n");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
