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
    | { kind: "static"; app: string[]; node: string[]; prometheus: string[]; alertmanager: string[] };

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
            // instance = the Name tag, so dashboards and alerts say which host, not which IP.
            { source_labels: ["__meta_ec2_tag_Name"], regex: "(.+)", target_label: "instance" },
            { source_labels: ["__meta_ec2_instance_id"], target_label: "instance_id" },
            { source_labels: ["__meta_ec2_availability_zone"], target_label: "availability_zone" },
        ],
    };
}

function staticJob(jobName: string, targets: string[]): Record<string, unknown> {
    return {
        job_name: jobName,
        static_configs: [{ targets }],
        // instance = the host without the port, as with EC2 discovery, so a host's app and
        // node_exporter series share one `instance` and the dashboard's variable selects both.
        relabel_configs: [{ source_labels: ["__address__"], regex: "(.+):\\d+", target_label: "instance", replacement: "$1" }],
    };
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
            if (!Array.isArray(t[key]) || t[key].some((x) => !/^[^\s:/]+:\d+$/.test(x))) {
                throw invalid(`targets.${key}`, t[key], "a list of host:port targets");
            }
            const hosts = t[key].map((x) => x.replace(/:\d+$/, ""));
            if (new Set(hosts).size !== hosts.length) {
                throw invalid(`targets.${key}`, t[key], "at most one target per host (instance is the host name, so two would collide)");
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

/** Recorded series the alerts and the dashboard read. */
export const RECORDED = {
    requestRate: "job:http_requests:rate5m",
    errorRate: "job:http_request_errors:rate5m",
    errorRatio: "job:http_request_error_ratio:rate5m",
    latencyP50: "job:http_request_duration_seconds:p50_5m",
    latencyP95: "job:http_request_duration_seconds:p95_5m",
    latencyP99: "job:http_request_duration_seconds:p99_5m",
    cpuPercent: "instance:node_cpu_utilisation:percent",
    memoryPercent: "instance:node_memory_utilisation:percent",
    diskFreePercent: "instance:node_filesystem_avail:percent",
} as const;

const REAL_FILESYSTEMS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|devtmpfs",mountpoint!~"/run.*|/boot.*"';

export function renderRecordingRules(): string {
    const quantile = (q: number, record: string) => ({
        record,
        expr: `histogram_quantile(${q}, sum by (job, instance, le) (rate(http_request_duration_seconds_bucket[5m])))`,
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

export function renderAlertRules(thresholds: AlertThresholds, options: AlertRuleOptions = {}): string {
    checkThresholds(thresholds);
    for (const key of Object.keys(options.durations ?? {})) {
        if (!(key in DEFAULT_ALERT_DURATIONS)) throw invalid(`durations.${key}`, (options.durations as Record<string, unknown>)[key], `one of ${Object.keys(DEFAULT_ALERT_DURATIONS).join(", ")}`);
    }
    const d = { ...DEFAULT_ALERT_DURATIONS, ...options.durations };
    for (const [k, v] of Object.entries(d)) checkDuration(`durations.${k}`, v);
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
    ];
    return YAML.stringify({ groups: [{ name: "devsecops-alerts", rules }] });
}

export interface AlertmanagerOptions {
    /** Publish to this SNS topic (SigV4 with the instance role); without it alerts go to a null receiver. */
    snsTopicArn?: string;
    region?: string;
}

/** Receiver names by severity; alerts without a known severity go the warning way. */
export const ALERTMANAGER_RECEIVERS = { critical: "sns-critical", warning: "sns-warning", none: "null" } as const;

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
            subject: `[${prefix}] [{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ .CommonLabels.instance }}`,
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
    return YAML.stringify({
        route: {
            receiver: warning,
            group_by: ["alertname", "instance"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "12h",
            routes: [
                // Critical pages quickly and repeats hourly; warnings batch and repeat twice a day.
                { receiver: critical, matchers: ['severity="critical"'], group_wait: "10s", repeat_interval: "1h" },
                { receiver: warning, matchers: ['severity="warning"'], group_wait: "1m", repeat_interval: "12h" },
            ],
        },
        // A critical alert on a host silences its warnings of the same name.
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "instance"] }],
        receivers,
    });
}
