import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { DEFAULT_ALERT_THRESHOLDS, renderAlertRules, renderRecordingRules } from "../../prometheus";

/** Runs Debian's promtool; a missing binary is an error that says what to install. */
export function promtool(args: string[], cwd: string, timeoutMs: number): { status: number | null; out: string } {
    const r = spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: timeoutMs });
    if (r.error) throw new Error(`promtool could not run (${r.error.message}): install Debian's prometheus package (apt-get install prometheus)`);
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export interface RuleTestDir {
    dir: string;
    /**
     * Without an explicit order promtool evaluates groups in random order, which moves every
     * alert by one evaluation from run to run. Recording groups first: alerts see this
     * evaluation's recorded values (on a live Prometheus they may be up to one interval old).
     */
    groupEvalOrder: string[];
}

/** A temporary folder holding the rendered alert_rules.yml and recording_rules.yml (default thresholds). */
export function makeRuleTestDir(prefix: string, runbookBaseUrl: string): RuleTestDir {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const alertRules = renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { runbookBaseUrl });
    const recordingRules = renderRecordingRules();
    fs.writeFileSync(path.join(dir, "alert_rules.yml"), alertRules);
    fs.writeFileSync(path.join(dir, "recording_rules.yml"), recordingRules);
    const groupEvalOrder = [recordingRules, alertRules].flatMap((text) => YAML.parse(text).groups.map((g: { name: string }) => g.name));
    return { dir, groupEvalOrder };
}

/** One `promtool test rules` group: its name, input series and alert/PromQL expectations. */
export interface RuleTestGroup {
    name: string;
    input_series: unknown[];
    alert_rule_test?: unknown[];
    promql_expr_test?: unknown[];
}

/** Writes one test file over the folder's rule files (15 s samples and evaluation) and runs promtool on it. */
export function runRuleTest(fixture: RuleTestDir, group: RuleTestGroup, timeoutMs: number): { status: number | null; out: string } {
    const file = `case-${Math.random().toString(36).slice(2)}.yml`;
    const { name, ...expectations } = group;
    fs.writeFileSync(
        path.join(fixture.dir, file),
        YAML.stringify({
            rule_files: ["alert_rules.yml", "recording_rules.yml"],
            evaluation_interval: "15s",
            group_eval_order: fixture.groupEvalOrder,
            tests: [{ name, interval: "15s", ...expectations }],
        }),
    );
    return promtool(["test", "rules", file], fixture.dir, timeoutMs);
}
