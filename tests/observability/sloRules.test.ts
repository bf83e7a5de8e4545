import { expect } from "chai";
import * as fs from "node:fs";
import { BURN_RATE_ALERTS, sloRecord } from "../../prometheus";
import { makeRuleTestDir, RuleTestDir, runRuleTest } from "../support/promtoolRules";

/**
 * `promtool test rules` for the SLO burn-rate alerts and the Watchdog with the default
 * targets (99.9 % availability, 99 % of requests within 0.5 s), 15 s samples and evaluation.
 * A constant bad share from t = 0 makes every window show the same ratio, so each burn
 * rate's threshold can be tested exactly.
 */

interface Series {
    series: string;
    values: string;
}

const RUNBOOK_BASE = "https://runbooks.example/docs/runbooks.md";

/** Requests on "/" per 15 s step: `ok` 200s and `errors` 503s (a 503 series even when 0, like the app after its first 5xx). */
function traffic(ok: number, errors: number, steps = 80, instance = "app-1"): Series[] {
    const l = `job="app",instance="${instance}",method="GET",route="/"`;
    return [
        { series: `http_requests_total{${l},status_code="200"}`, values: `0+${ok}x${steps}` },
        { series: `http_requests_total{${l},status_code="503"}`, values: `0+${errors}x${steps}` },
    ];
}

/** Requests per 15 s step: `fast` within 0.5 s, `slow` above it (all 200). */
function latency(fast: number, slow: number, steps = 80): Series[] {
    const l = 'job="app",instance="app-1",method="GET",route="/",status_code="200"';
    return [
        { series: `http_request_duration_seconds_bucket{${l},le="0.25"}`, values: `0+${fast}x${steps}` },
        { series: `http_request_duration_seconds_bucket{${l},le="0.5"}`, values: `0+${fast}x${steps}` },
        { series: `http_request_duration_seconds_bucket{${l},le="1"}`, values: `0+${fast + slow}x${steps}` },
        { series: `http_request_duration_seconds_bucket{${l},le="+Inf"}`, values: `0+${fast + slow}x${steps}` },
        { series: `http_request_duration_seconds_count{${l}}`, values: `0+${fast + slow}x${steps}` },
        { series: `http_requests_total{${l}}`, values: `0+${fast + slow}x${steps}` },
    ];
}

type Burn = (typeof BURN_RATE_ALERTS)[number];
const labelsOf = (slo: "availability" | "latency", b: Burn) => ({
    job: "app",
    severity: b.severity,
    slo,
    long_window: b.longWindow,
    short_window: b.shortWindow,
    burn_rate: String(b.burnRate),
});
const byRate = (rates: number[]) => BURN_RATE_ALERTS.filter((b) => rates.includes(b.burnRate));

/** Exactly these burn rates firing (labels only; the 2 % case checks the annotations). */
function firingTest(alertname: string, slo: "availability" | "latency", eval_time: string, rates: number[]) {
    const sel = (l: Record<string, string>) =>
        `ALERTS{${Object.entries({ alertname, alertstate: "firing", ...l })
            .map(([k, v]) => `${k}="${v}"`)
            .join(",")}}`;
    return { expr: `ALERTS{alertname="${alertname}",alertstate="firing"}`, eval_time, exp_samples: byRate(rates).map((b) => ({ labels: sel(labelsOf(slo, b)), value: 1 })) };
}

describe("observability: SLO burn-rate alerts and the Watchdog under promtool test rules", function () {
    this.timeout(300_000);
    let fixture: RuleTestDir;
    before(() => {
        fixture = makeRuleTestDir("devsecops-slotest-", RUNBOOK_BASE);
    });
    after(() => fs.rmSync(fixture.dir, { recursive: true, force: true }));

    function run(name: string, input_series: Series[], tests: { alert_rule_test?: unknown[]; promql_expr_test?: unknown[] }) {
        return runRuleTest(fixture, { name, input_series, ...tests }, 300_000);
    }
    function pass(name: string, input_series: Series[], tests: { alert_rule_test?: unknown[]; promql_expr_test?: unknown[] }) {
        const r = run(name, input_series, tests);
        expect(r.status, r.out).to.equal(0);
        expect(r.out).to.contain("SUCCESS");
    }
    const quiet = (alertname: string, eval_time: string) => ({ expr: `ALERTS{alertname="${alertname}"}`, eval_time, exp_samples: [] });

    describe("AvailabilityBudgetBurn (99.9 %: thresholds 1.44 %, 0.6 %, 0.3 %, 0.1 %)", () => {
        it("2 % errors: both pages and both tickets fire, with the budget consumed and runbook", () => {
            pass("2 %", traffic(98, 2), {
                alert_rule_test: [
                    {
                        eval_time: "10m",
                        alertname: "AvailabilityBudgetBurn",
                        exp_alerts: BURN_RATE_ALERTS.map((b) => ({
                            exp_labels: labelsOf("availability", b),
                            exp_annotations: {
                                summary: `Availability SLO of app: error budget burning ${b.burnRate}x (${b.longWindow} and ${b.shortWindow})`,
                                description: `2% of requests to app answered 5xx over the last ${b.longWindow} (and still over ${b.shortWindow}): ${b.burnRate}x the 0.1% a 99.9% SLO allows.`,
                                budget_consumed: {
                                    14.4: "2% of the 30-day error budget spent in 1h; at this rate all of it in 2d 2h.",
                                    6: "5% of the 30-day error budget spent in 6h; at this rate all of it in 5d.",
                                    3: "10% of the 30-day error budget spent in 1d; at this rate all of it in 10d.",
                                    1: "10% of the 30-day error budget spent in 3d; at this rate all of it in 30d.",
                                }[b.burnRate],
                                runbook_url: `${RUNBOOK_BASE}#availabilitybudgetburn`,
                            },
                        })),
                    },
                ],
            });
        });
        // Exactly at a threshold: that burn rate stays quiet (strict >), the slower ones fire.
        const exact: [string, number, number, number[]][] = [
            ["1.44 %", 9856, 144, [6, 3, 1]],
            ["0.6 %", 9940, 60, [3, 1]],
            ["0.3 %", 9970, 30, [1]],
            ["0.1 %", 9990, 10, []],
        ];
        for (const [share, ok, errors, rates] of exact) {
            it(`exactly ${share} errors: ${rates.length ? `only burn rates ${rates.join(", ")} fire` : "nothing fires"}`, () => {
                pass(`exactly ${share}`, traffic(ok, errors), {
                    promql_expr_test: [firingTest("AvailabilityBudgetBurn", "availability", "5m", rates), firingTest("AvailabilityBudgetBurn", "availability", "20m", rates)],
                });
            });
        }
        it("just above 1.44 % (1.45 %) pages at 14.4", () => {
            pass("1.45 %", traffic(9855, 145), { promql_expr_test: [firingTest("AvailabilityBudgetBurn", "availability", "5m", [14.4, 6, 3, 1])] });
        });
        it("no traffic: idle counters, only /health requests, or no series at all never fire (no division by zero paging)", () => {
            pass(
                "no traffic",
                [
                    { series: 'http_requests_total{job="app",instance="idle-1",method="GET",route="/",status_code="200"}', values: "3x80" },
                    { series: 'http_requests_total{job="app",instance="idle-1",method="GET",route="/",status_code="503"}', values: "3x80" },
                    { series: 'http_requests_total{job="health",instance="lb-1",method="GET",route="/health",status_code="503"}', values: "0+10x80" },
                    { series: 'up{job="app",instance="silent-1"}', values: "1x80" },
                ],
                { promql_expr_test: [quiet("AvailabilityBudgetBurn", "1m"), quiet("AvailabilityBudgetBurn", "10m"), quiet("AvailabilityBudgetBurn", "20m")] },
            );
        });
        it("a total outage that ends: both pages resolve once the 5 m window is clean (the 6 h page's third, 5 m condition), the tickets later", () => {
            // 10 minutes of 100 % 503s after 10 clean minutes, then clean again for 50 minutes.
            const l = 'job="app",instance="app-1",method="GET",route="/"';
            pass(
                "outage then recovery",
                [
                    { series: `http_requests_total{${l},status_code="200"}`, values: "0+100x40 4000+0x40 4000+100x200" },
                    { series: `http_requests_total{${l},status_code="503"}`, values: "0x40 0+100x40 4000x200" },
                ],
                {
                    promql_expr_test: [
                        firingTest("AvailabilityBudgetBurn", "availability", "19m", [14.4, 6, 3, 1]),
                        // 8 minutes after recovery: the 5 m window is clean, the 30 m one is not; no page fires.
                        firingTest("AvailabilityBudgetBurn", "availability", "28m", [3, 1]),
                        // 35 minutes after: the 30 m window is clean too; the tickets' 2 h/6 h windows still see it.
                        firingTest("AvailabilityBudgetBurn", "availability", "55m", [3, 1]),
                    ],
                },
            );
        });
        it("a healthy day: 0.05 % errors with ten 30 s blips of 10 % errors fires nothing (24 h at 15 s, after 6 h of history)", () => {
            // After 6 h of the same base rate (a healthy day follows other days: without any history
            // the first blip would weigh on the 3 d window as if it were all there is).
            const history = 6 * 240;
            const day = 24 * 240;
            const steps = history + day;
            const blipAt = new Set(Array.from({ length: 10 }, (_, i) => history + Math.floor(((i + 0.5) * day) / 10)));
            // 2000 requests per step; 1 error per step base; a blip's two steps carry 200 errors each.
            let okValues = "";
            let errValues = "";
            let ok = 0;
            let err = 0;
            const okList: number[] = [];
            const errList: number[] = [];
            for (let s = 0; s <= steps; s++) {
                okList.push(ok);
                errList.push(err);
                const blip = blipAt.has(s) || blipAt.has(s - 1);
                const e = blip ? 200 : 1;
                err += e;
                ok += 2000 - e;
            }
            okValues = okList.join(" ");
            errValues = errList.join(" ");
            const l = 'job="app",instance="app-1",method="GET",route="/"';
            pass(
                "healthy day",
                [
                    { series: `http_requests_total{${l},status_code="200"}`, values: okValues },
                    { series: `http_requests_total{${l},status_code="503"}`, values: errValues },
                ],
                {
                    promql_expr_test: [
                        { expr: 'count_over_time(ALERTS{alertname=~"AvailabilityBudgetBurn|HighErrorRate"}[30h])', eval_time: "30h", exp_samples: [] },
                        // The base rate really is 0.05 %: the 1 d ratio is 0.05 % plus the blips.
                        { expr: `round(100000 * ${sloRecord("error", "1d")})`, eval_time: "30h", exp_samples: [{ labels: '{job="app"}', value: 85 }] },
                    ],
                },
            );
        });
    });

    describe("LatencyBudgetBurn (99 % within 0.5 s: thresholds 14.4 %, 6 %, 3 %, 1 %)", () => {
        it("every request slow: both pages and both tickets fire", () => {
            pass("all slow", latency(0, 100), { promql_expr_test: [firingTest("LatencyBudgetBurn", "latency", "5m", [14.4, 6, 3, 1])] });
        });
        it("5 % slow: both tickets fire, no page (5 % is under the 6x page's 6 %)", () => {
            pass("5 % slow", latency(95, 5), { promql_expr_test: [firingTest("LatencyBudgetBurn", "latency", "5m", [3, 1])] });
        });
        const exact: [string, number, number, number[]][] = [
            ["14.4 %", 856, 144, [6, 3, 1]],
            ["6 %", 940, 60, [3, 1]],
            ["3 %", 970, 30, [1]],
            ["1 %", 990, 10, []],
        ];
        for (const [share, fast, slow, rates] of exact) {
            it(`exactly ${share} slow: ${rates.length ? `only burn rates ${rates.join(", ")} fire` : "nothing fires"}`, () => {
                pass(`exactly ${share} slow`, latency(fast, slow), { promql_expr_test: [firingTest("LatencyBudgetBurn", "latency", "5m", rates)] });
            });
        }
        it("no traffic: idle histograms never fire", () => {
            pass("idle", latency(0, 0), { promql_expr_test: [quiet("LatencyBudgetBurn", "1m"), quiet("LatencyBudgetBurn", "20m")] });
        });
        it("all fast: nothing fires", () => {
            pass("all fast", latency(100, 0), { promql_expr_test: [quiet("LatencyBudgetBurn", "20m")] });
        });
    });

    describe("Watchdog", () => {
        it("fires from the first evaluation with no input at all, severity none", () => {
            pass("watchdog", [{ series: 'up{job="app",instance="app-1"}', values: "1x4" }], {
                alert_rule_test: [
                    {
                        eval_time: "0m",
                        alertname: "Watchdog",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "none" },
                                exp_annotations: {
                                    summary: "Watchdog: the alerting pipeline is alive (always firing)",
                                    description: "Always firing. It goes only to the dead man's switch receiver, never to SNS; the switch alarms when it stops arriving.",
                                    runbook_url: `${RUNBOOK_BASE}#watchdog`,
                                },
                            },
                        ],
                    },
                ],
            });
        });
    });

    it("the harness can fail: expecting the 14.4x page at exactly 1.44 % makes promtool exit non-zero", () => {
        const r = run("deliberately wrong", traffic(9856, 144), { promql_expr_test: [firingTest("AvailabilityBudgetBurn", "availability", "5m", [14.4, 6, 3, 1])] });
        expect(r.status, r.out).to.equal(1);
        expect(r.out).to.contain("FAILED");
    });
});
