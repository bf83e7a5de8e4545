import YAML from "yaml";

/**
 * Prometheus, its rules and Alertmanager as pure functions of the stack's settings:
 * the MonitoringHost ships their output, and the tests render the same text and run
 * promtool, amtool and a live Prometheus against it.
 */

/** Alert thresholds; field names match the stack's validated `alerts` settings. */
export interface AlertThresholds {
    /** Share of requests answering 5xx (0–1). */
    errorRatio: number;
    latencyP95Seconds: number;
    cpuPercent: number;
    memoryPercent: number;
    diskFreePercent: number;
}

/** The architecture document's values. */
export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
    errorRatio: 0.05,
    latencyP95Seconds: 0.5,
    cpuPercent: 80,
    memoryPercent: 90,
    diskFreePercent: 10,
};

/** How long a condition must hold before its alert fires (Prometheus durations). */
export interface AlertDurations {
    errorRate: string;
    latency: string;
    cpu: string;
    memory: string;
    disk: string;
    targetDown: string;
}

export const DEFAULT_ALERT_DURATIONS: AlertDurations = {
    errorRate: "5m",
    latency: "10m",
    cpu: "10m",
    memory: "10m",
    disk: "10m",
    targetDown: "2m",
};

/** The runbooks' path in this repository; pass `runbookBaseUrl` with the published (e.g. repository web) URL. */
export const DEFAULT_RUNBOOK_BASE_URL = "docs/runbooks.md";
export const DEFAULT_RULE_FILES = ["/etc/prometheus/rules/*.yml"];

/** Ports the stack's exporters listen on. */
export const APP_PORT = 3000;
export const NODE_EXPORTER_PORT = 9100;

export type ScrapeTargets =
    | {
          /** EC2 service discovery: every running instance carrying tagKey=tagValue. */
          kind: "ec2";
          region: string;
          tagKey: string;
          tagValue: string;
      }
    | { kind: "static"; app: StaticTarget[]; node: StaticTarget[]; prometheus: StaticTarget[]; alertmanager: StaticTarget[] };

/**
 * A static target: "host:port" (instance = the host), or an address with its own
 * `instance` (and optional `name`) label, as EC2 discovery gives each host its instance id —
 * so two processes on one machine can stand for two hosts.
 */
export type StaticTarget = string | { target: string; instance: string; name?: string };

export interface PrometheusConfigOptions {
    targets: ScrapeTargets;
    /** Amazon Managed Service for Prometheus (or any SigV4 endpoint): the instance role signs. */
    remoteWrite?: { url: string; region: string };
    ruleFiles?: string[];
    /** host:port of Alertmanager; default localhost:9093 (same host). */
    alertmanagers?: string[];
    scrapeInterval?: string;
    evaluationInterval?: string;
    /** Where EC2 SD finds Prometheus and Alertmanager; default the local host. */
    selfTargets?: { prometheus: string[]; alertmanager: string[] };
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

function invalid(option: string, value: unknown, allowed: string): Error {
    return new Error(`${option} = ${JSON.stringify(value)}: ${allowed}`);
}

function checkDuration(option: string, value: string): string {
    if (!DURATION.test(value)) throw invalid(option, value, "a Prometheus duration such as 15s, 5m or 1h");
    return value;
}

function ec2Job(jobName: string, region: string, tagKey: string, tagValue: string, port: number): Record<string, unknown> {
    return {
        job_name: jobName,
        ec2_sd_configs: [
            {
                region,
                port,
                refresh_interval: "60s",
                filters: [
                    { name: `tag:${tagKey}`, values: [tagValue] },
                    { name: "instance-state-name", values: ["running"] },
                ],
            },
        ],
        relabel_configs: [
            // Private address: the monitoring host reaches app hosts inside the VPC only.
            { source_labels: ["__meta_ec2_private_ip"], regex: "(.+)", target_label: "__address__", replacement: `$1:${port}` },
            // instance = the EC2 instance id: unique per host (every member of an Auto Scaling group
            // shares the Name tag, so Name as instance would merge their series). The Name tag
            // stays as `name` for humans.
            { source_labels: ["__meta_ec2_instance_id"], regex: "(.+)", target_label: "instance" },
            { source_labels: ["__meta_ec2_tag_Name"], regex: "(.+)", target_label: "name" },
            { source_labels: ["__meta_ec2_availability_zone"], target_label: "availability_zone" },
        ],
    };
}

function staticJob(jobName: string, targets: StaticTarget[]): Record<string, unknown> {
    const plain = targets.filter((t): t is string => typeof t === "string");
    const labelled = targets.filter((t): t is Exclude<StaticTarget, string> => typeof t !== "string");
    return {
        job_name: jobName,
        static_configs: [
            ...(plain.length > 0 || labelled.length === 0 ? [{ targets: plain }] : []),
            ...labelled.map((t) => ({ targets: [t.target], labels: { instance: t.instance, ...(t.name ? { name: t.name } : {}) } })),
        ],
        // A plain target: instance = the host without the port, as with EC2 discovery, so a host's
        // app and node_exporter series share one `instance` and the dashboard's variable selects
        // both. A target with its own instance label (the source is "<instance>;<address>") keeps it.
        relabel_configs: [{ source_labels: ["instance", "__address__"], regex: ";(.+):\\d+", target_label: "instance", replacement: "$1" }],
    };
}

function staticTargetAddress(t: StaticTarget): string {
    return typeof t === "string" ? t : t?.target;
}

function staticTargetInstance(t: StaticTarget): string {
    return typeof t === "string" ? t.replace(/:\d+$/, "") : t.instance;
}

export function renderPrometheusConfig(options: PrometheusConfigOptions): string {
    const t = options.targets;
    const scrapeInterval = checkDuration("scrapeInterval", options.scrapeInterval ?? "15s");
    const evaluationInterval = checkDuration("evaluationInterval", options.evaluationInterval ?? "15s");
    let scrapeConfigs: Record<string, unknown>[];
    if (t.kind === "ec2") {
        if (!REGION.test(t.region ?? "")) throw invalid("targets.region", t.region, "an AWS region such as eu-west-1 (always rendered: without it Prometheus asks the instance metadata service)");
        if (!t.tagKey || !t.tagValue) throw invalid("targets.tagKey/tagValue", `${t.tagKey}=${t.tagValue}`, "a non-empty tag key and value that select the stack's app hosts");
        const self = options.selfTargets ?? { prometheus: ["localhost:9090"], alertmanager: ["localhost:9093"] };
        scrapeConfigs = [
            ec2Job("app", t.region, t.tagKey, t.tagValue, APP_PORT),
            ec2Job("node", t.region, t.tagKey, t.tagValue, NODE_EXPORTER_PORT),
            staticJob("prometheus", self.prometheus),
            staticJob("alertmanager", self.alertmanager),
        ];
    } else if (t.kind === "static") {
        for (const key of ["app", "node", "prometheus", "alertmanager"] as const) {
            const list = t[key];
            if (!Array.isArray(list) || list.some((x) => !/^[^\s:/]+:\d+$/.test(staticTargetAddress(x) ?? "") || (typeof x !== "string" && !/^[A-Za-z0-9._-]+$/.test(x.instance ?? "")))) {
                throw invalid(`targets.${key}`, list, "a list of host:port targets, or { target: host:port, instance: <id> } objects");
            }
            const instances = list.map(staticTargetInstance);
            if (new Set(instances).size !== instances.length) {
                throw invalid(`targets.${key}`, list, "one target per instance (a plain target's instance is its host name; give each process its own instance label)");
            }
        }
        scrapeConfigs = [staticJob("app", t.app), staticJob("node", t.node), staticJob("prometheus", t.prometheus), staticJob("alertmanager", t.alertmanager)];
    } else {
        throw invalid("targets.kind", (t as { kind: unknown }).kind, "ec2 or static");
    }
    const config: Record<string, unknown> = {
        global: { scrape_interval: scrapeInterval, evaluation_interval: evaluationInterval, scrape_timeout: "10s" },
        rule_files: options.ruleFiles ?? DEFAULT_RULE_FILES,
        alerting: { alertmanagers: [{ static_configs: [{ targets: options.alertmanagers ?? ["localhost:9093"] }] }] },
        scrape_configs: scrapeConfigs,
    };
    if (scrapeIntervalSeconds(scrapeInterval) < 10) (config.global as Record<string, unknown>).scrape_timeout = scrapeInterval;
    if (options.remoteWrite) {
        const { url, region } = options.remoteWrite;
        if (!/^https:\/\//.test(url)) throw invalid("remoteWrite.url", url, "an https:// remote-write endpoint");
        if (!REGION.test(region)) throw invalid("remoteWrite.region", region, "an AWS region such as eu-west-1");
        config.remote_write = [{ url, sigv4: { region } }];
    }
    return YAML.stringify(config);
}

function scrapeIntervalSeconds(d: string): number {
    const m = /^(\d+)(ms|s|m|h)$/.exec(d);
    if (!m) return 15;
    const n = Number(m[1]);
    return m[2] === "ms" ? n / 1000 : m[2] === "s" ? n : m[2] === "m" ? n * 60 : n * 3600;
}

/** Recorded series the alerts and the dashboard read, named `level:metric:operations` (level = the labels kept). */
export const RECORDED = {
    // Per host (job, instance): HighErrorRate, HighLatencyP95 and the host panels.
    requestRate: "instance:http_requests:rate5m",
    errorRate: "instance:http_request_errors:rate5m",
    errorRatio: "instance:http_request_error_ratio:rate5m",
    latencyP50: "instance:http_request_duration_seconds:p50_5m",
    latencyP95: "instance:http_request_duration_seconds:p95_5m",
    latencyP99: "instance:http_request_duration_seconds:p99_5m",
    cpuPercent: "instance:node_cpu_utilisation:percent",
    memoryPercent: "instance:node_memory_utilisation:percent",
    // Keeps job, instance, device, fstype, mountpoint: one series per filesystem.
    diskFreePercent: "instance_mountpoint:node_filesystem_avail:percent",
} as const;

/** The SLOs: availability (no 5xx) and latency (within a histogram bucket's bound), over SLO_PERIOD_DAYS. */
export interface SloTargets {
    /** Share of requests that must not answer 5xx (e.g. 0.999). */
    availability: number;
    /** Share of requests that must finish within latencyThresholdSeconds (e.g. 0.99). */
    latency: number;
    /** Must be a bucket boundary of the app's histogram (APP_LATENCY_BUCKETS): the slow share is read from that bucket. */
    latencyThresholdSeconds: number;
}

export const DEFAULT_SLO_TARGETS: SloTargets = { availability: 0.999, latency: 0.99, latencyThresholdSeconds: 0.5 };
export const SLO_PERIOD_DAYS = 30;
/** The app's histogram buckets (app/src/metrics.ts LATENCY_BUCKETS; a test keeps them equal). */
export const APP_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Every window a burn-rate alert reads. */
export const SLO_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] as const;
export type SloWindow = (typeof SLO_WINDOWS)[number];

/**
 * Multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs", table 5-8):
 * a burn rate of 1 spends the budget in exactly the SLO period. Both windows must burn:
 * the long one proves the spend is significant, the short one that it is still happening
 * (so the alert resolves soon after recovery).
 * `resetWindow`: a third window that must burn too, so a page clears within ~5 min of
 * recovery (the 6 h page's 30 m short window alone keeps it firing up to 30 min after an
 * outage ends). It never makes the page fire later: while a burn goes on, the 5 m share is at
 * least the 30 m one; it only drops pages for a burn that has already stopped.
 */
export const BURN_RATE_ALERTS: readonly { severity: "critical" | "warning"; burnRate: number; longWindow: SloWindow; shortWindow: SloWindow; resetWindow?: SloWindow }[] = [
    { severity: "critical", burnRate: 14.4, longWindow: "1h", shortWindow: "5m" },
    { severity: "critical", burnRate: 6, longWindow: "6h", shortWindow: "30m", resetWindow: "5m" },
    { severity: "warning", burnRate: 3, longWindow: "1d", shortWindow: "2h" },
    { severity: "warning", burnRate: 1, longWindow: "3d", shortWindow: "6h" },
];

/** Recorded SLI ratios by service (job), one per window. */
export function sloRecord(sli: "error" | "slow", window: SloWindow): string {
    return `job:http_request_${sli}_ratio:rate${window}`;
}
/** The targets as series, so the dashboard's budget panels follow the settings. */
export const SLO_OBJECTIVE = "slo:objective:ratio";

const WINDOW_HOURS: Record<SloWindow, number> = { "5m": 5 / 60, "30m": 0.5, "1h": 1, "2h": 2, "6h": 6, "1d": 24, "3d": 72 };

/** Rounds away binary noise (1 - 0.999 = 0.0010000000000000009). */
function clean(n: number): number {
    return Number(n.toPrecision(12));
}

/** The share of the period's budget one alert's long window spends at its burn rate. */
export function budgetConsumed(burnRate: number, longWindow: SloWindow): number {
    return clean((burnRate * WINDOW_HOURS[longWindow]) / (SLO_PERIOD_DAYS * 24));
}

function checkSloTargets(slo: SloTargets): void {
    for (const key of ["availability", "latency"] as const) {
        const v = slo[key];
        // Below 0.95 the fastest page (14.4 × budget) would need more than 100 % bad requests.
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0.95 || v > 0.99999) {
            throw invalid(`slo.${key}`, v, "a share from 0.95 to 0.99999 (e.g. 0.999); below 0.95 a 14.4× burn needs more than 100 % bad requests, so the page could never fire");
        }
    }
    if (!APP_LATENCY_BUCKETS.includes(slo.latencyThresholdSeconds)) {
        throw invalid("slo.latencyThresholdSeconds", slo.latencyThresholdSeconds, `one of the app's histogram buckets: ${APP_LATENCY_BUCKETS.join(", ")}`);
    }
}

/**
 * The `le` matcher of a bucket: Prometheus 3 stores classic-histogram `le` values normalised
 * as floats ("1" becomes "1.0"), 2.x as exposed; match both.
 */
function leMatcher(bound: number): string {
    const text = String(bound);
    return Number.isInteger(bound) ? `le=~"${text}|${text}\\\\.0"` : `le="${text}"`;
}

// User-facing requests only: the load balancer's and the harness's health probes are not the service.
const SLI_REQUESTS = 'route!="/health"';

const REAL_FILESYSTEMS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|devtmpfs",mountpoint!~"/run.*|/boot.*"';

export function renderRecordingRules(slo: SloTargets = DEFAULT_SLO_TARGETS): string {
    checkSloTargets(slo);
    const quantile = (q: number, record: string) => ({
        record,
        expr: `histogram_quantile(${q}, sum by (job, instance, le) (rate(http_request_duration_seconds_bucket[5m])))`,
    });
    const sloRules = SLO_WINDOWS.flatMap((w) => {
        const all = `sum by (job) (rate(http_requests_total{${SLI_REQUESTS}}[${w}]))`;
        return [
            {
                record: sloRecord("error", w),
                // "or … * 0": no 5xx series yet means a ratio of 0, not absent (the budget panels need it);
                // no traffic at all stays 0/0 = NaN, which no comparison fires on.
                expr: `(sum by (job) (rate(http_requests_total{${SLI_REQUESTS},status_code=~"5.."}[${w}])) or ${all} * 0) / ${all}`,
            },
            {
                record: sloRecord("slow", w),
                expr:
                    `1 - sum by (job) (rate(http_request_duration_seconds_bucket{${SLI_REQUESTS},${leMatcher(slo.latencyThresholdSeconds)}}[${w}]))` +
                    ` / sum by (job) (rate(http_request_duration_seconds_count{${SLI_REQUESTS}}[${w}]))`,
            },
        ];
    });
    return YAML.stringify({
        groups: [
            {
                name: "devsecops-red",
                rules: [
                    { record: RECORDED.requestRate, expr: "sum by (job, instance) (rate(http_requests_total[5m]))" },
                    // "or … * 0": an app that never answered 5xx has no 5xx series; its error rate is 0, not absent.
                    {
                        record: RECORDED.errorRate,
                        expr: 'sum by (job, instance) (rate(http_requests_total{status_code=~"5.."}[5m])) or sum by (job, instance) (rate(http_requests_total[5m])) * 0',
                    },
                    { record: RECORDED.errorRatio, expr: `${RECORDED.errorRate} / ${RECORDED.requestRate}` },
                    quantile(0.5, RECORDED.latencyP50),
                    quantile(0.95, RECORDED.latencyP95),
                    quantile(0.99, RECORDED.latencyP99),
                ],
            },
            {
                name: "devsecops-slo",
                rules: [
                    ...sloRules,
                    { record: SLO_OBJECTIVE, expr: `vector(${slo.availability})`, labels: { slo: "availability" } },
                    { record: SLO_OBJECTIVE, expr: `vector(${slo.latency})`, labels: { slo: "latency" } },
                ],
            },
            {
                name: "devsecops-node",
                rules: [
                    { record: RECORDED.cpuPercent, expr: '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))' },
                    { record: RECORDED.memoryPercent, expr: "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)" },
                    {
                        record: RECORDED.diskFreePercent,
                        expr: `100 * node_filesystem_avail_bytes{${REAL_FILESYSTEMS}} / node_filesystem_size_bytes{${REAL_FILESYSTEMS}}`,
                    },
                ],
            },
        ],
    });
}

export interface AlertRuleOptions {
    durations?: Partial<AlertDurations>;
    runbookBaseUrl?: string;
    slo?: SloTargets;
}

function checkThresholds(t: AlertThresholds): void {
    const ranges: [keyof AlertThresholds, number, number][] = [
        ["errorRatio", 0, 1],
        ["latencyP95Seconds", 0.005, 10],
        ["cpuPercent", 1, 100],
        ["memoryPercent", 1, 100],
        ["diskFreePercent", 1, 99],
    ];
    for (const [key, min, max] of ranges) {
        const v = t[key];
        if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (key === "errorRatio" && v === 0)) {
            throw invalid(`thresholds.${key}`, v, `a number from ${min} to ${max}${key === "errorRatio" ? " (not 0)" : ""}`);
        }
    }
}

/** "2 %" / "0.1 %": percentages for annotations, without float noise. */
function pct(share: number): string {
    return `${clean(share * 100)}%`;
}

/** Hours as "50h" / "2d 2h" for annotations. */
function hoursText(h: number): string {
    const rounded = Math.round(h * 10) / 10;
    if (rounded < 48) return `${rounded}h`;
    const d = Math.floor(rounded / 24);
    const rest = Math.round(rounded - d * 24);
    return rest ? `${d}d ${rest}h` : `${d}d`;
}

/** The burn-rate alerts of one SLO. */
function burnRateRules(sli: "error" | "slow", target: number, runbookUrl: string, thresholdSeconds: number): Record<string, unknown>[] {
    const budget = clean(1 - target);
    const alert = sli === "error" ? "AvailabilityBudgetBurn" : "LatencyBudgetBurn";
    const what = sli === "error" ? "answered 5xx" : `took longer than ${thresholdSeconds}s`;
    const slo = sli === "error" ? "availability" : "latency";
    return BURN_RATE_ALERTS.map((b) => {
        // Written as a product, as Sloth and Pyrra do: Prometheus computes it in float64, so a
        // ratio of exactly burn rate × budget (e.g. 144/10000) does not count as above it.
        const threshold = `(${b.burnRate} * ${budget})`;
        const consumed = budgetConsumed(b.burnRate, b.longWindow);
        const exhaustedIn = (SLO_PERIOD_DAYS * 24) / b.burnRate;
        return {
            alert,
            expr: [b.longWindow, b.shortWindow, ...(b.resetWindow ? [b.resetWindow] : [])].map((w) => `${sloRecord(sli, w)} > ${threshold}`).join(" and "),
            labels: { severity: b.severity, slo, long_window: b.longWindow, short_window: b.shortWindow, burn_rate: String(b.burnRate) },
            annotations: {
                summary: `${slo === "availability" ? "Availability" : "Latency"} SLO of {{ $labels.job }}: error budget burning ${b.burnRate}x (${b.longWindow} and ${b.shortWindow})`,
                description:
                    `{{ $value | humanizePercentage }} of requests to {{ $labels.job }} ${what} over the last ${b.longWindow} (and still over ${b.shortWindow}): ` +
                    `${b.burnRate}x the ${pct(budget)} a ${pct(target)} SLO allows.`,
                budget_consumed: `${pct(consumed)} of the ${SLO_PERIOD_DAYS}-day error budget spent in ${b.longWindow}; at this rate all of it in ${hoursText(exhaustedIn)}.`,
                runbook_url: runbookUrl,
            },
        };
    });
}

export function renderAlertRules(thresholds: AlertThresholds, options: AlertRuleOptions = {}): string {
    checkThresholds(thresholds);
    for (const key of Object.keys(options.durations ?? {})) {
        if (!(key in DEFAULT_ALERT_DURATIONS)) throw invalid(`durations.${key}`, (options.durations as Record<string, unknown>)[key], `one of ${Object.keys(DEFAULT_ALERT_DURATIONS).join(", ")}`);
    }
    const d = { ...DEFAULT_ALERT_DURATIONS, ...options.durations };
    for (const [k, v] of Object.entries(d)) checkDuration(`durations.${k}`, v);
    const slo = options.slo ?? DEFAULT_SLO_TARGETS;
    checkSloTargets(slo);
    const runbookBase = options.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL;
    if (!runbookBase || /[#\s]/.test(runbookBase)) throw invalid("runbookBaseUrl", runbookBase, "a URL or path of runbooks.md without a #fragment or spaces");
    const runbook = (anchor: string) => `${runbookBase}#${anchor}`;
    const t = thresholds;
    const rules = [
        {
            alert: "HighErrorRate",
            // The request-rate guard: with no traffic the ratio is NaN/absent and must neither fire nor flap.
            expr: `${RECORDED.errorRatio} > ${t.errorRatio} and ${RECORDED.requestRate} > 0`,
            for: d.errorRate,
            labels: { severity: "critical" },
            annotations: {
                summary: "High 5xx error rate on {{ $labels.instance }}",
                description: `{{ $value | humanizePercentage }} of requests to {{ $labels.job }} on {{ $labels.instance }} answered 5xx over 5 minutes (threshold ${t.errorRatio * 100}%).`,
                runbook_url: runbook("higherrorrate"),
            },
        },
        {
            alert: "HighLatencyP95",
            expr: `${RECORDED.latencyP95} > ${t.latencyP95Seconds}`,
            for: d.latency,
            labels: { severity: "warning" },
            annotations: {
                summary: `p95 latency above ${t.latencyP95Seconds * 1000} ms on {{ $labels.instance }}`,
                description: `p95 request latency of {{ $labels.job }} on {{ $labels.instance }} is {{ $value | humanizeDuration }} (threshold ${t.latencyP95Seconds}s).`,
                runbook_url: runbook("highlatencyp95"),
            },
        },
        {
            alert: "HighCPUUsage",
            expr: `${RECORDED.cpuPercent} > ${t.cpuPercent}`,
            for: d.cpu,
            labels: { severity: "warning" },
            annotations: {
                summary: "CPU above " + t.cpuPercent + "% on {{ $labels.instance }}",
                description: `CPU utilisation on {{ $labels.instance }} is {{ $value | printf "%.1f" }}% (threshold ${t.cpuPercent}%).`,
                runbook_url: runbook("highcpuusage"),
            },
        },
        {
            alert: "HighMemoryUsage",
            expr: `${RECORDED.memoryPercent} > ${t.memoryPercent}`,
            for: d.memory,
            labels: { severity: "warning" },
            annotations: {
                summary: "Memory above " + t.memoryPercent + "% on {{ $labels.instance }}",
                description: `Memory utilisation on {{ $labels.instance }} is {{ $value | printf "%.1f" }}% (threshold ${t.memoryPercent}%).`,
                runbook_url: runbook("highmemoryusage"),
            },
        },
        {
            alert: "DiskSpaceLow",
            expr: `${RECORDED.diskFreePercent} < ${t.diskFreePercent}`,
            for: d.disk,
            labels: { severity: "warning" },
            annotations: {
                summary: "Disk {{ $labels.mountpoint }} below " + t.diskFreePercent + "% free on {{ $labels.instance }}",
                description: `{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | printf "%.1f" }}% free (threshold ${t.diskFreePercent}%).`,
                runbook_url: runbook("diskspacelow"),
            },
        },
        {
            alert: "TargetDown",
            expr: "up == 0",
            for: d.targetDown,
            labels: { severity: "critical" },
            annotations: {
                summary: "{{ $labels.job }} target {{ $labels.instance }} is down",
                description: "Prometheus has failed to scrape {{ $labels.job }} on {{ $labels.instance }} for " + d.targetDown + ".",
                runbook_url: runbook("targetdown"),
            },
        },
        ...burnRateRules("error", slo.availability, runbook("availabilitybudgetburn"), slo.latencyThresholdSeconds),
        ...burnRateRules("slow", slo.latency, runbook("latencybudgetburn"), slo.latencyThresholdSeconds),
        {
            // Always firing: proof that Prometheus evaluates rules and Alertmanager delivers. Routed
            // only to the dead man's switch, which raises the alarm when the heartbeats stop.
            alert: "Watchdog",
            expr: "vector(1)",
            labels: { severity: "none" },
            annotations: {
                summary: "Watchdog: the alerting pipeline is alive (always firing)",
                description: "Always firing. It goes only to the dead man's switch receiver, never to SNS; the switch alarms when it stops arriving.",
                runbook_url: runbook("watchdog"),
            },
        },
    ];
    return YAML.stringify({ groups: [{ name: "devsecops-alerts", rules }] });
}

/** Where the Watchdog's heartbeats go: a URL in the file (the file is the secret; Alertmanager ≥ 0.26 reads `url_file`), or a plain URL. */
export type DeadMansSwitch = { url: string } | { urlFile: string };

export interface AlertmanagerOptions {
    /** Publish to this SNS topic (SigV4 with the instance role); without it alerts go to a null receiver. */
    snsTopicArn?: string;
    region?: string;
    /** Send the Watchdog alert here (and only it); without it the Watchdog goes to the null receiver. */
    deadMansSwitch?: DeadMansSwitch;
}

/** Receiver names by severity; alerts without a known severity go the warning way. */
export const ALERTMANAGER_RECEIVERS = { critical: "sns-critical", warning: "sns-warning", none: "null", deadMansSwitch: "dead-mans-switch" } as const;

/**
 * SNS rejects a Publish whose Subject is 100 characters or more (Publish API, Subject:
 * "must be less than 100 characters long"; no line breaks or control characters). Go's
 * `%.99s` cuts the rendered subject to 99 characters.
 */
export const SNS_SUBJECT_MAX_CHARS = 99;

export function snsSubjectTemplate(prefix: string): string {
    // `or`: burn-rate alerts are per service and have no instance.
    const inner = `(printf "[${prefix}] [%s] %s on %s" (.Status | toUpper) .CommonLabels.alertname (or .CommonLabels.instance .CommonLabels.job "several"))`;
    return `{{ printf "%.${SNS_SUBJECT_MAX_CHARS}s" ${inner} }}`;
}

export function renderAlertmanagerConfig(options: AlertmanagerOptions = {}): string {
    let receivers: Record<string, unknown>[];
    let critical: string;
    let warning: string;
    if (options.snsTopicArn) {
        if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/.test(options.snsTopicArn)) {
            throw invalid("snsTopicArn", options.snsTopicArn, "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)");
        }
        if (!REGION.test(options.region ?? "")) throw invalid("region", options.region, "the topic's AWS region, such as eu-west-1");
        const sns = (prefix: string) => ({
            topic_arn: options.snsTopicArn,
            // No credentials in the file: Alertmanager signs with the instance role.
            sigv4: { region: options.region },
            subject: snsSubjectTemplate(prefix),
            send_resolved: true,
        });
        critical = ALERTMANAGER_RECEIVERS.critical;
        warning = ALERTMANAGER_RECEIVERS.warning;
        receivers = [
            { name: critical, sns_configs: [sns("CRITICAL")] },
            { name: warning, sns_configs: [sns("WARNING")] },
            { name: ALERTMANAGER_RECEIVERS.none },
        ];
    } else {
        // Local runs: alerts are visible in Alertmanager's UI and API, and go nowhere.
        critical = warning = ALERTMANAGER_RECEIVERS.none;
        receivers = [{ name: ALERTMANAGER_RECEIVERS.none }];
    }
    let watchdogReceiver: string = ALERTMANAGER_RECEIVERS.none;
    const dms = options.deadMansSwitch;
    if (dms) {
        let webhook: Record<string, unknown>;
        if ("urlFile" in dms) {
            if (!/^\/[^\s]+$/.test(dms.urlFile ?? "")) throw invalid("deadMansSwitch.urlFile", dms.urlFile, "an absolute path of the file holding the URL");
            webhook = { url_file: dms.urlFile };
        } else {
            // Never echo the URL itself: it may carry the switch's token.
            if (!/^https:\/\/[^\s/]+/.test(dms.url ?? "")) throw new Error("deadMansSwitch.url: an https:// URL (the value is not shown: it may hold a token)");
            webhook = { url: dms.url };
        }
        receivers.push({ name: ALERTMANAGER_RECEIVERS.deadMansSwitch, webhook_configs: [{ ...webhook, send_resolved: false }] });
        watchdogReceiver = ALERTMANAGER_RECEIVERS.deadMansSwitch;
    }
    return YAML.stringify({
        route: {
            receiver: warning,
            group_by: ["alertname", "instance"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "12h",
            routes: [
                // First, and not continued: the Watchdog reaches the dead man's switch (or nowhere), never SNS.
                // Re-sent every minute as the heartbeat the switch expects.
                { receiver: watchdogReceiver, matchers: ['alertname="Watchdog"'], group_wait: "0s", group_interval: "1m", repeat_interval: "1m" },
                // Critical pages quickly and repeats hourly; warnings batch and repeat twice a day.
                { receiver: critical, matchers: ['severity="critical"'], group_wait: "10s", repeat_interval: "1h" },
                { receiver: warning, matchers: ['severity="warning"'], group_wait: "1m", repeat_interval: "12h" },
            ],
        },
        // A critical alert silences the warnings of the same name and instance (for the per-service
        // burn-rate alerts: a page silences the ticket of the same SLO).
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "instance"] }],
        receivers,
    });
}
