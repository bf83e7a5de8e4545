import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { DEFAULT_ALERT_THRESHOLDS, RECORDED, renderAlertRules } from "../../prometheus";
import { makeRuleTestDir, RuleTestDir, runRuleTest } from "../support/promtoolRules";

/**
 * `promtool test rules` on the rendered rules with the real thresholds and durations.
 * Each case is its own promtool run, so a failure names the alert and the case.
 * Series are sampled and rules evaluated every 15 s (2.42 does not default a group's
 * `interval` to `evaluation_interval`, so both are set).
 */

const RUNBOOK_BASE = "https://runbooks.example/docs/runbooks.md";
const runbook = (anchor: string) => `${RUNBOOK_BASE}#${anchor}`;

interface Series {
    series: string;
    values: string;
}
interface ExpectedAlert {
    exp_labels: Record<string, string>;
    exp_annotations?: Record<string, string>;
}
interface RuleTestCase {
    name: string;
    input_series: Series[];
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: ExpectedAlert[] }[];
    promql_expr_test?: { expr: string; eval_time: string; exp_samples: { labels: string; value: number }[] }[];
}

/** App request counters for one instance: `ok` 2xx and `errors` 503 answers added every 15 s, for `steps` steps. */
function appTraffic(instance: string, ok: number, errors: number, steps = 80): Series[] {
    const labels = `job="app",instance="${instance}",method="GET",route="/"`;
    return [
        { series: `http_requests_total{${labels},status_code="200"}`, values: `0+${ok}x${steps}` },
        { series: `http_requests_total{${labels},status_code="503"}`, values: `0+${errors}x${steps}` },
    ];
}

/** ALERTS in a given state for an alert: promtool's alert_rule_test sees only firing alerts. */
function alertsIn(state: "pending" | "firing", alertname: string, eval_time: string, labels: Record<string, string> | undefined) {
    const sel = (l: Record<string, string>) =>
        `ALERTS{${Object.entries(l)
            .map(([k, v]) => `${k}="${v}"`)
            .join(",")}}`;
    return {
        expr: `ALERTS{alertname="${alertname}",alertstate="${state}"}`,
        eval_time,
        exp_samples: labels ? [{ labels: sel({ alertname, alertstate: state, ...labels }), value: 1 }] : [],
    };
}

/** Nothing at all for the alert at that time: neither pending nor firing. */
function quiet(alertname: string, eval_time: string) {
    return { expr: `ALERTS{alertname="${alertname}"}`, eval_time, exp_samples: [] };
}

const errorLabels = { severity: "critical", job: "app", instance: "app-1" };
const latencyLabels = { severity: "warning", job: "app", instance: "app-1" };
const cpuLabels = { severity: "warning", instance: "app-1" };
const memoryLabels = { severity: "warning", job: "node", instance: "app-1" };
const diskLabels = { severity: "warning", job: "node", instance: "app-1", fstype: "ext4", mountpoint: "/" };
const downLabels = { severity: "critical", job: "app", instance: "app-1" };

function latencyBuckets(instance: string, perStep: { le: string; cumulative: number }[]): Series[] {
    return perStep.map(({ le, cumulative }) => ({
        series: `http_request_duration_seconds_bucket{job="app",instance="${instance}",method="GET",route="/",status_code="200",le="${le}"}`,
        values: `0+${cumulative}x80`,
    }));
}

function cpu(instance: string, idleSecondsPer15s: number[]): Series[] {
    return idleSecondsPer15s.map((idle, i) => ({ series: `node_cpu_seconds_total{job="node",instance="${instance}",cpu="${i}",mode="idle"}`, values: `0+${idle}x80` }));
}

function memory(instance: string, availableBytes: number, totalBytes: number): Series[] {
    return [
        { series: `node_memory_MemAvailable_bytes{job="node",instance="${instance}"}`, values: `${availableBytes}x80` },
        { series: `node_memory_MemTotal_bytes{job="node",instance="${instance}"}`, values: `${totalBytes}x80` },
    ];
}

function filesystem(instance: string, fstype: string, mountpoint: string, availBytes: number, sizeBytes: number): Series[] {
    const l = `job="node",instance="${instance}",fstype="${fstype}",mountpoint="${mountpoint}"`;
    return [
        { series: `node_filesystem_avail_bytes{${l}}`, values: `${availBytes}x80` },
        { series: `node_filesystem_size_bytes{${l}}`, values: `${sizeBytes}x80` },
    ];
}

// Timing: rate() needs two samples, so a rate-based alert with `for: D` goes pending at
// 15 s and fires at D + 15 s; memory and disk go pending at 0 s and fire at D; TargetDown
// goes pending at the first `up == 0`.
const alertCases: Record<string, RuleTestCase[]> = {
    HighErrorRate: [
        {
            name: "6 % errors: pending at 4 m and at 5 m, firing at 5 m 15 s with value, instance and runbook",
            input_series: appTraffic("app-1", 94, 6),
            promql_expr_test: [alertsIn("pending", "HighErrorRate", "4m", errorLabels), alertsIn("pending", "HighErrorRate", "5m", errorLabels), alertsIn("firing", "HighErrorRate", "4m", undefined)],
            alert_rule_test: [
                { eval_time: "5m", alertname: "HighErrorRate", exp_alerts: [] },
                {
                    eval_time: "5m15s",
                    alertname: "HighErrorRate",
                    exp_alerts: [
                        {
                            exp_labels: errorLabels,
                            exp_annotations: {
                                summary: "High 5xx error rate on app-1",
                                description: "6% of requests to app on app-1 answered 5xx over 5 minutes (threshold 5%).",
                                runbook_url: runbook("higherrorrate"),
                            },
                        },
                    ],
                },
            ],
        },
        {
            name: "exactly 5 % errors never goes pending",
            input_series: appTraffic("app-1", 95, 5),
            promql_expr_test: [quiet("HighErrorRate", "2m"), quiet("HighErrorRate", "10m")],
        },
        {
            name: "no traffic (idle counters, or no request series at all) never goes pending",
            input_series: [
                // An app that served 5 requests, 5 of them errors, then nothing: rate 0, ratio NaN.
                { series: 'http_requests_total{job="app",instance="idle-1",method="GET",route="/",status_code="200"}', values: "0x80" },
                { series: 'http_requests_total{job="app",instance="idle-1",method="GET",route="/",status_code="503"}', values: "5x80" },
                { series: 'up{job="app",instance="silent-1"}', values: "1x80" },
            ],
            promql_expr_test: [quiet("HighErrorRate", "1m"), quiet("HighErrorRate", "6m"), quiet("HighErrorRate", "15m")],
        },
        {
            name: "traffic that stops during an error burst resolves instead of staying active on a NaN ratio",
            input_series: [
                { series: 'http_requests_total{job="app",instance="app-1",method="GET",route="/",status_code="200"}', values: "0+50x12 600x60" },
                { series: 'http_requests_total{job="app",instance="app-1",method="GET",route="/",status_code="503"}', values: "0+50x12 600x60" },
            ],
            promql_expr_test: [alertsIn("pending", "HighErrorRate", "2m", errorLabels), quiet("HighErrorRate", "9m"), quiet("HighErrorRate", "15m")],
        },
        {
            name: "a 2-minute burst above 5 % stays pending and never fires",
            input_series: [
                { series: 'http_requests_total{job="app",instance="app-1",method="GET",route="/",status_code="200"}', values: "0+90x80" },
                // 10 errors per step for 2 minutes, then none.
                { series: 'http_requests_total{job="app",instance="app-1",method="GET",route="/",status_code="503"}', values: "0+10x8 80x72" },
            ],
            alert_rule_test: [
                { eval_time: "3m", alertname: "HighErrorRate", exp_alerts: [] },
                { eval_time: "6m", alertname: "HighErrorRate", exp_alerts: [] },
            ],
            promql_expr_test: [alertsIn("pending", "HighErrorRate", "1m", errorLabels)],
        },
    ],
    HighLatencyP95: [
        {
            name: "p95 972 ms: pending at 10 m, firing at 10 m 15 s",
            // 10 % at ≤ 0.5 s, the rest ≤ 1 s: p95 interpolates to 0.5 + 0.5 × 85/90 ≈ 0.972 s.
            input_series: latencyBuckets("app-1", [
                { le: "0.25", cumulative: 0 },
                { le: "0.5", cumulative: 10 },
                { le: "1", cumulative: 100 },
                { le: "+Inf", cumulative: 100 },
            ]),
            promql_expr_test: [alertsIn("pending", "HighLatencyP95", "10m", latencyLabels)],
            alert_rule_test: [
                { eval_time: "10m", alertname: "HighLatencyP95", exp_alerts: [] },
                {
                    eval_time: "10m15s",
                    alertname: "HighLatencyP95",
                    exp_alerts: [
                        {
                            exp_labels: latencyLabels,
                            exp_annotations: {
                                summary: "p95 latency above 500 ms on app-1",
                                description: "p95 request latency of app on app-1 is 972.2ms (threshold 0.5s).",
                                runbook_url: runbook("highlatencyp95"),
                            },
                        },
                    ],
                },
            ],
        },
        {
            name: "p95 exactly 500 ms never goes pending",
            // 95 % of requests in (0.25, 0.5]: the 95th percentile is the bucket's upper bound.
            input_series: latencyBuckets("app-1", [
                { le: "0.25", cumulative: 0 },
                { le: "0.5", cumulative: 95 },
                { le: "1", cumulative: 100 },
                { le: "+Inf", cumulative: 100 },
            ]),
            promql_expr_test: [quiet("HighLatencyP95", "5m"), quiet("HighLatencyP95", "15m")],
        },
    ],
    HighCPUUsage: [
        {
            name: "two CPUs at 100 % and 70 % busy (85 % average): pending at 10 m, firing at 10 m 15 s",
            input_series: cpu("app-1", [0, 4.5]),
            promql_expr_test: [alertsIn("pending", "HighCPUUsage", "10m", cpuLabels)],
            alert_rule_test: [
                { eval_time: "10m", alertname: "HighCPUUsage", exp_alerts: [] },
                {
                    eval_time: "10m15s",
                    alertname: "HighCPUUsage",
                    exp_alerts: [
                        {
                            exp_labels: cpuLabels,
                            exp_annotations: {
                                summary: "CPU above 80% on app-1",
                                description: "CPU utilisation on app-1 is 85.0% (threshold 80%).",
                                runbook_url: runbook("highcpuusage"),
                            },
                        },
                    ],
                },
            ],
        },
        {
            name: "exactly 80 % busy never goes pending",
            input_series: cpu("app-1", [3]),
            promql_expr_test: [quiet("HighCPUUsage", "5m"), quiet("HighCPUUsage", "15m")],
        },
    ],
    HighMemoryUsage: [
        {
            name: "95 % used: pending at 9 m 45 s, firing at 10 m",
            input_series: memory("app-1", 500_000_000, 10_000_000_000),
            promql_expr_test: [alertsIn("pending", "HighMemoryUsage", "9m45s", memoryLabels)],
            alert_rule_test: [
                { eval_time: "9m45s", alertname: "HighMemoryUsage", exp_alerts: [] },
                {
                    eval_time: "10m",
                    alertname: "HighMemoryUsage",
                    exp_alerts: [
                        {
                            exp_labels: memoryLabels,
                            exp_annotations: {
                                summary: "Memory above 90% on app-1",
                                description: "Memory utilisation on app-1 is 95.0% (threshold 90%).",
                                runbook_url: runbook("highmemoryusage"),
                            },
                        },
                    ],
                },
            ],
        },
        {
            name: "exactly 90 % used never goes pending",
            input_series: memory("app-1", 1_000_000_000, 10_000_000_000),
            promql_expr_test: [quiet("HighMemoryUsage", "5m"), quiet("HighMemoryUsage", "15m")],
        },
    ],
    DiskSpaceLow: [
        {
            name: "5 % free on /: pending at 9 m 45 s, firing at 10 m; a full tmpfs is ignored",
            input_series: [...filesystem("app-1", "ext4", "/", 5_000_000_000, 100_000_000_000), ...filesystem("app-1", "tmpfs", "/dev/shm", 0, 1000)],
            promql_expr_test: [alertsIn("pending", "DiskSpaceLow", "9m45s", diskLabels)],
            alert_rule_test: [
                { eval_time: "9m45s", alertname: "DiskSpaceLow", exp_alerts: [] },
                {
                    eval_time: "10m",
                    alertname: "DiskSpaceLow",
                    exp_alerts: [
                        {
                            exp_labels: diskLabels,
                            exp_annotations: {
                                summary: "Disk / below 10% free on app-1",
                                description: "/ on app-1 has 5.0% free (threshold 10%).",
                                runbook_url: runbook("diskspacelow"),
                            },
                        },
                    ],
                },
            ],
        },
        {
            name: "exactly 10 % free never goes pending",
            input_series: filesystem("app-1", "ext4", "/", 10_000_000_000, 100_000_000_000),
            promql_expr_test: [quiet("DiskSpaceLow", "5m"), quiet("DiskSpaceLow", "15m")],
        },
    ],
    TargetDown: [
        {
            name: "down from 45 s: pending at 2 m 30 s, firing at 2 m 45 s",
            input_series: [{ series: 'up{job="app",instance="app-1"}', values: "1 1 1 0x20" }],
            promql_expr_test: [alertsIn("pending", "TargetDown", "2m30s", { job: "app", instance: "app-1", severity: "critical" })],
            alert_rule_test: [
                { eval_time: "2m30s", alertname: "TargetDown", exp_alerts: [] },
                {
                    eval_time: "2m45s",
                    alertname: "TargetDown",
                    exp_alerts: [
                        {
                            exp_labels: downLabels,
                            exp_annotations: {
                                summary: "app target app-1 is down",
                                description: "Prometheus has failed to scrape app on app-1 for 2m.",
                                runbook_url: runbook("targetdown"),
                            },
                        },
                    ],
                },
            ],
        },
        {
            name: "a 1-minute outage (a restart) goes pending but never fires",
            input_series: [{ series: 'up{job="node",instance="app-1"}', values: "1 0 0 0 0 1x20" }],
            promql_expr_test: [alertsIn("pending", "TargetDown", "30s", { job: "node", instance: "app-1", severity: "critical" })],
            alert_rule_test: [
                { eval_time: "2m", alertname: "TargetDown", exp_alerts: [] },
                { eval_time: "4m", alertname: "TargetDown", exp_alerts: [] },
            ],
        },
    ],
};

/** Every recording rule against hand-computed values. */
const recordingCases: RuleTestCase[] = [
    {
        name: "RED: request rate, error rate and ratio per job and instance",
        // 150 requests per 15 s = 10/s, 15 of them 503 = 1/s.
        input_series: appTraffic("app-1", 135, 15),
        promql_expr_test: [
            { expr: RECORDED.requestRate, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.requestRate}{job="app",instance="app-1"}`, value: 10 }] },
            { expr: RECORDED.errorRate, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.errorRate}{job="app",instance="app-1"}`, value: 1 }] },
            { expr: RECORDED.errorRatio, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.errorRatio}{job="app",instance="app-1"}`, value: 0.1 }] },
        ],
    },
    {
        name: "RED: an app that never answered 5xx has error rate and ratio 0, not absent",
        input_series: [{ series: 'http_requests_total{job="app",instance="app-1",method="GET",route="/",status_code="200"}', values: "0+150x80" }],
        promql_expr_test: [
            { expr: RECORDED.errorRate, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.errorRate}{job="app",instance="app-1"}`, value: 0 }] },
            { expr: RECORDED.errorRatio, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.errorRatio}{job="app",instance="app-1"}`, value: 0 }] },
        ],
    },
    {
        name: "latency quantiles p50, p95, p99 from the histogram buckets (in whole milliseconds)",
        // Per 15 s: 50 requests ≤ 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1]. Interpolation over
        // extrapolated rates is off by an ulp, hence the rounding to milliseconds.
        input_series: latencyBuckets("app-1", [
            { le: "0.1", cumulative: 50 },
            { le: "0.5", cumulative: 90 },
            { le: "1", cumulative: 100 },
            { le: "+Inf", cumulative: 100 },
        ]),
        promql_expr_test: [
            // p50: rank 50 is the top of the first bucket.
            { expr: `round(1000 * ${RECORDED.latencyP50})`, eval_time: "10m", exp_samples: [{ labels: '{job="app",instance="app-1"}', value: 100 }] },
            // p95: rank 95 is half-way through (0.5, 1].
            { expr: `round(1000 * ${RECORDED.latencyP95})`, eval_time: "10m", exp_samples: [{ labels: '{job="app",instance="app-1"}', value: 750 }] },
            // p99: rank 99 is 9/10 through (0.5, 1].
            { expr: `round(1000 * ${RECORDED.latencyP99})`, eval_time: "10m", exp_samples: [{ labels: '{job="app",instance="app-1"}', value: 950 }] },
        ],
    },
    {
        name: "node: CPU % averaged over CPUs, memory % used, disk % free on real filesystems only",
        input_series: [...cpu("app-1", [0, 7.5]), ...memory("app-1", 2_500_000_000, 10_000_000_000), ...filesystem("app-1", "ext4", "/", 25_000_000_000, 100_000_000_000), ...filesystem("app-1", "tmpfs", "/run", 0, 1000)],
        promql_expr_test: [
            { expr: RECORDED.cpuPercent, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.cpuPercent}{instance="app-1"}`, value: 75 }] },
            { expr: RECORDED.memoryPercent, eval_time: "10m", exp_samples: [{ labels: `${RECORDED.memoryPercent}{job="node",instance="app-1"}`, value: 75 }] },
            {
                expr: RECORDED.diskFreePercent,
                eval_time: "10m",
                exp_samples: [{ labels: `${RECORDED.diskFreePercent}{job="node",instance="app-1",fstype="ext4",mountpoint="/"}`, value: 25 }],
            },
        ],
    },
];


describe("observability: alert and recording rules under promtool test rules (real thresholds and durations)", function () {
    this.timeout(60_000);
    let fixture: RuleTestDir;
    before(() => {
        fixture = makeRuleTestDir("devsecops-ruletest-", RUNBOOK_BASE);
    });
    after(() => fs.rmSync(fixture.dir, { recursive: true, force: true }));

    /** Runs one case; promtool only warns about a missing rule file, so their presence is checked first. */
    function runCase(c: RuleTestCase): { status: number | null; out: string } {
        for (const f of ["alert_rules.yml", "recording_rules.yml"]) expect(fs.existsSync(path.join(fixture.dir, f)), f).to.equal(true);
        return runRuleTest(fixture, c, 60_000);
    }

    for (const [alert, cases] of Object.entries(alertCases)) {
        describe(alert, () => {
            for (const c of cases) {
                it(c.name, () => {
                    const r = runCase(c);
                    expect(r.status, r.out).to.equal(0);
                    expect(r.out).to.contain("SUCCESS");
                });
            }
        });
    }

    describe("recording rules", () => {
        for (const c of recordingCases) {
            it(c.name, () => {
                const r = runCase(c);
                expect(r.status, r.out).to.equal(0);
            });
        }
    });

    it("every alert the renderer emits has a firing case and a quiet case here", () => {
        // The burn-rate alerts and the Watchdog have their cases in sloRules.test.ts.
        const elsewhere = ["AvailabilityBudgetBurn", "LatencyBudgetBurn", "Watchdog"];
        const rendered = YAML.parse(renderAlertRules(DEFAULT_ALERT_THRESHOLDS)).groups[0].rules.map((r: { alert: string }) => r.alert).filter((a: string) => !elsewhere.includes(a));
        expect(Object.keys(alertCases)).to.have.members(rendered);
        for (const [alert, cases] of Object.entries(alertCases)) {
            const fires = cases.some((c) => c.alert_rule_test?.some((t) => t.exp_alerts.length > 0));
            const staysQuiet = cases.some((c) => c.promql_expr_test?.some((t) => t.expr === `ALERTS{alertname="${alert}"}`) || c.alert_rule_test?.every((t) => t.exp_alerts.length === 0));
            expect(fires && staysQuiet, alert).to.equal(true);
        }
    });

    it("the harness can fail: a wrong expectation (HighErrorRate firing at exactly 5 %) makes promtool exit non-zero", () => {
        const r = runCase({
            name: "deliberately wrong",
            input_series: appTraffic("app-1", 95, 5),
            alert_rule_test: [{ eval_time: "10m", alertname: "HighErrorRate", exp_alerts: [{ exp_labels: errorLabels }] }],
        });
        expect(r.status, r.out).to.equal(1);
        expect(r.out).to.contain("FAILED").and.to.contain("HighErrorRate");
    });
});
