import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import {
    DEFAULT_ALERT_THRESHOLDS,
    RECORDED,
    renderAlertmanagerConfig,
    renderAlertRules,
    renderPrometheusConfig,
    renderRecordingRules,
} from "../../prometheus";
import { DASHBOARD_UID, loadDashboardJson } from "../../dashboards";

const RUNBOOKS = path.resolve(__dirname, "..", "..", "docs", "runbooks.md");
const RUNBOOK_BASE = "https://runbooks.example/docs/runbooks.md";

function tool(name: string, args: string[], cwd: string): { status: number | null; out: string } {
    const r = spawnSync(name, args, { cwd, encoding: "utf8", timeout: 60_000 });
    if (r.error) throw new Error(`${name} could not run (${r.error.message}): install Debian's prometheus / prometheus-alertmanager packages`);
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("observability: rendered configs pass promtool and amtool", function () {
    this.timeout(60_000);
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-rules-"));
        fs.writeFileSync(path.join(dir, "alert_rules.yml"), renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { runbookBaseUrl: RUNBOOK_BASE }));
        fs.writeFileSync(path.join(dir, "recording_rules.yml"), renderRecordingRules());
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("promtool check rules accepts the alert and recording rules", () => {
        const r = tool("promtool", ["check", "rules", "alert_rules.yml", "recording_rules.yml"], dir);
        expect(r.status, r.out).to.equal(0);
        expect(r.out).to.contain("SUCCESS: 6 rules found").and.to.contain("SUCCESS: 9 rules found");
    });

    it("promtool check config accepts the EC2 service-discovery config with remote_write", () => {
        fs.writeFileSync(
            path.join(dir, "prometheus.yml"),
            renderPrometheusConfig({
                targets: { kind: "ec2", region: "eu-west-1", tagKey: "MonitoringTarget", tagValue: "devsecops-stack-prod" },
                remoteWrite: { url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/api/v1/remote_write", region: "eu-west-1" },
                ruleFiles: [path.join(dir, "*_rules.yml")],
            }),
        );
        const r = tool("promtool", ["check", "config", "prometheus.yml"], dir);
        expect(r.status, r.out).to.equal(0);
    });

    it("promtool check config accepts the static config", () => {
        fs.writeFileSync(
            path.join(dir, "static.yml"),
            renderPrometheusConfig({
                targets: { kind: "static", app: ["127.0.0.1:3000"], node: ["127.0.0.1:9100"], prometheus: ["127.0.0.1:9090"], alertmanager: ["127.0.0.1:9093"] },
                ruleFiles: [path.join(dir, "*_rules.yml")],
            }),
        );
        expect(tool("promtool", ["check", "config", "static.yml"], dir).status).to.equal(0);
    });

    it("amtool check-config accepts Alertmanager with the SNS receiver and with the null receiver", () => {
        fs.writeFileSync(path.join(dir, "am-sns.yml"), renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:devsecops-stack-prod-alerts", region: "eu-west-1" }));
        fs.writeFileSync(path.join(dir, "am-null.yml"), renderAlertmanagerConfig({}));
        for (const f of ["am-sns.yml", "am-null.yml"]) {
            const r = tool("amtool", ["check-config", f], dir);
            expect(r.status, r.out).to.equal(0);
        }
    });
});

describe("observability: rendering", () => {
    it("renders 15 s intervals, the four jobs, an explicit region and instance = Name tag for EC2 discovery", () => {
        const cfg = YAML.parse(renderPrometheusConfig({ targets: { kind: "ec2", region: "eu-west-1", tagKey: "MonitoringTarget", tagValue: "s" } }));
        expect(cfg.global).to.include({ scrape_interval: "15s", evaluation_interval: "15s" });
        expect(cfg.scrape_configs.map((j: any) => j.job_name)).to.deep.equal(["app", "node", "prometheus", "alertmanager"]);
        const app = cfg.scrape_configs[0];
        expect(app.ec2_sd_configs[0]).to.include({ region: "eu-west-1", port: 3000 });
        expect(app.ec2_sd_configs[0].filters[0]).to.deep.equal({ name: "tag:MonitoringTarget", values: ["s"] });
        expect(app.relabel_configs).to.deep.include({ source_labels: ["__meta_ec2_tag_Name"], regex: "(.+)", target_label: "instance" });
        expect(cfg.scrape_configs[1].ec2_sd_configs[0].port).to.equal(9100);
        expect(cfg.remote_write).to.equal(undefined);
    });

    it("renders remote_write with SigV4 (region only: the instance role signs)", () => {
        const cfg = YAML.parse(renderPrometheusConfig({ targets: { kind: "ec2", region: "eu-west-1", tagKey: "k", tagValue: "v" }, remoteWrite: { url: "https://aps.example/api/v1/remote_write", region: "eu-west-1" } }));
        expect(cfg.remote_write).to.deep.equal([{ url: "https://aps.example/api/v1/remote_write", sigv4: { region: "eu-west-1" } }]);
    });

    it("rejects bad input naming the option, the value and what is allowed", () => {
        expect(() => renderPrometheusConfig({ targets: { kind: "ec2", region: "", tagKey: "k", tagValue: "v" } })).to.throw(/targets.region = "": an AWS region/);
        expect(() => renderAlertRules({ ...DEFAULT_ALERT_THRESHOLDS, cpuPercent: 120 })).to.throw("thresholds.cpuPercent = 120: a number from 1 to 100");
        expect(() => renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { durations: { cpu: "ten minutes" } })).to.throw(/durations.cpu = "ten minutes"/);
        expect(() => renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:t" })).to.throw(/region = undefined/);
    });

    it("takes thresholds from the stack's settings", () => {
        const rules = YAML.parse(renderAlertRules({ ...DEFAULT_ALERT_THRESHOLDS, errorRatio: 0.02, cpuPercent: 70 })).groups[0].rules;
        const expr = (name: string) => rules.find((r: any) => r.alert === name).expr;
        expect(expr("HighErrorRate")).to.equal(`${RECORDED.errorRatio} > 0.02 and ${RECORDED.requestRate} > 0`);
        expect(expr("HighCPUUsage")).to.equal(`${RECORDED.cpuPercent} > 70`);
    });

    it("gives every alert a severity, summary, description with value and instance, and a runbook section that exists", () => {
        const runbooks = fs.readFileSync(RUNBOOKS, "utf8");
        const anchors = new Set([...runbooks.matchAll(/^## (.+)$/gm)].map((m) => m[1].toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")));
        const rules = YAML.parse(renderAlertRules(DEFAULT_ALERT_THRESHOLDS)).groups[0].rules;
        expect(rules.map((r: any) => r.alert)).to.have.members(["HighErrorRate", "HighLatencyP95", "HighCPUUsage", "HighMemoryUsage", "DiskSpaceLow", "TargetDown"]);
        for (const r of rules) {
            expect(r.labels.severity, r.alert).to.be.oneOf(["critical", "warning"]);
            expect(r.annotations.summary, r.alert).to.contain("{{ $labels.instance }}");
            expect(r.annotations.description, r.alert).to.contain("{{ $labels.instance }}");
            if (r.alert !== "TargetDown") expect(r.annotations.description, r.alert).to.contain("$value");
            const anchor = r.annotations.runbook_url.split("#")[1];
            expect(anchors.has(anchor), `docs/runbooks.md has a section for #${anchor}`).to.equal(true);
        }
    });

    it("routes Alertmanager by severity to SNS, with a null receiver locally", () => {
        const sns = YAML.parse(renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts", region: "eu-west-1" }));
        expect(sns.route.routes.map((r: any) => r.matchers[0])).to.deep.equal(['severity="critical"', 'severity="warning"']);
        expect(sns.receivers[0].sns_configs[0]).to.include({ topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts" });
        expect(sns.receivers[0].sns_configs[0].sigv4).to.deep.equal({ region: "eu-west-1" });
        expect(YAML.parse(renderAlertmanagerConfig()).route.receiver).to.equal("null");
    });
});

describe("observability: the dashboard", () => {
    const dash = JSON.parse(loadDashboardJson());
    const exprs: string[] = dash.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));

    it("uses a datasource-type variable (no __inputs / ${DS_…}), an instance variable, a stable uid and 30 s refresh", () => {
        expect(dash.__inputs).to.equal(undefined);
        expect(JSON.stringify(dash)).to.not.contain("DS_PROMETHEUS");
        const vars = dash.templating.list;
        expect(vars.find((v: any) => v.name === "datasource")).to.include({ type: "datasource", query: "prometheus" });
        expect(vars.find((v: any) => v.name === "instance")).to.include({ type: "query", includeAll: true });
        expect(dash.uid).to.equal(DASHBOARD_UID);
        expect(dash.refresh).to.equal("30s");
        expect(dash.schemaVersion).to.be.at.least(36);
        for (const p of dash.panels) expect(p.datasource.uid, p.title).to.equal("${datasource}");
    });

    it("has the panels the architecture asks for", () => {
        const titles = dash.panels.map((p: any) => p.title.toLowerCase()).join(" | ");
        for (const want of ["requests per second", "error %", "p95", "p99", "cpu %", "memory %", "active alerts", "targets up"]) expect(titles).to.contain(want);
        expect(exprs).to.include('count(ALERTS{alertstate="firing"}) or vector(0)');
    });

    it("queries only recorded series or metrics the app and node_exporter expose", () => {
        const recorded = new Set<string>(Object.values(RECORDED));
        const raw = new Set(["http_requests_total", "up", "ALERTS"]);
        for (const e of exprs) {
            const bare = e.replace(/by \([^)]*\)/g, "").replace(/\{[^}]*\}/g, "").replace(/\[[^\]]*\]/g, "");
            const keywords = ["sum", "count", "rate", "vector", "or", "and"];
            const names = (bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((n) => !keywords.includes(n));
            expect(names.length, e).to.be.greaterThan(0);
            for (const n of names) expect(recorded.has(n) || raw.has(n), `${n} in ${e}`).to.equal(true);
        }
    });
});

/** promtool unit tests: each alert with its real durations and thresholds. */
describe("observability: alert rules under promtool test rules", function () {
    this.timeout(60_000);
    const app = 'job="app",instance="app-1",method="GET",route="/"';
    const runbook = (a: string) => `${RUNBOOK_BASE}#${a}`;
    const ruleTests = {
        rule_files: ["alert_rules.yml", "recording_rules.yml"],
        evaluation_interval: "15s",
        tests: [
            {
                name: "HighErrorRate: 10 % errors fire after 5 m, not before",
                interval: "15s",
                input_series: [
                    { series: `http_requests_total{${app},status_code="200"}`, values: "0+90x60" },
                    { series: `http_requests_total{${app},status_code="503"}`, values: "0+10x60" },
                ],
                alert_rule_test: [
                    { eval_time: "4m", alertname: "HighErrorRate", exp_alerts: [] },
                    {
                        eval_time: "6m",
                        alertname: "HighErrorRate",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "critical", job: "app", instance: "app-1" },
                                exp_annotations: {
                                    summary: "High 5xx error rate on app-1",
                                    description: "10% of requests to app on app-1 answered 5xx over 5 minutes (threshold 5%).",
                                    runbook_url: runbook("higherrorrate"),
                                },
                            },
                        ],
                    },
                ],
            },
            {
                name: "HighErrorRate: 3 % errors and no traffic stay quiet",
                interval: "15s",
                input_series: [
                    { series: `http_requests_total{${app},status_code="200"}`, values: "0+97x60" },
                    { series: `http_requests_total{${app},status_code="503"}`, values: "0+3x60" },
                    { series: 'http_requests_total{job="app",instance="idle-1",method="GET",route="/",status_code="200"}', values: "5x60" },
                    { series: 'http_requests_total{job="app",instance="idle-1",method="GET",route="/",status_code="503"}', values: "5x60" },
                ],
                alert_rule_test: [{ eval_time: "10m", alertname: "HighErrorRate", exp_alerts: [] }],
            },
            {
                name: "HighLatencyP95: p95 972 ms fires after 10 m",
                interval: "15s",
                input_series: [
                    { series: 'http_request_duration_seconds_bucket{job="app",instance="app-1",le="0.5"}', values: "0+10x60" },
                    { series: 'http_request_duration_seconds_bucket{job="app",instance="app-1",le="1"}', values: "0+100x60" },
                    { series: 'http_request_duration_seconds_bucket{job="app",instance="app-1",le="+Inf"}', values: "0+100x60" },
                ],
                alert_rule_test: [
                    { eval_time: "9m", alertname: "HighLatencyP95", exp_alerts: [] },
                    {
                        eval_time: "11m",
                        alertname: "HighLatencyP95",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "warning", job: "app", instance: "app-1" },
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
                name: "HighCPUUsage: 90 % busy fires after 10 m",
                interval: "15s",
                input_series: [{ series: 'node_cpu_seconds_total{instance="app-1",cpu="0",mode="idle"}', values: "0+1.5x80" }],
                alert_rule_test: [
                    { eval_time: "9m", alertname: "HighCPUUsage", exp_alerts: [] },
                    {
                        eval_time: "12m",
                        alertname: "HighCPUUsage",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "warning", instance: "app-1" },
                                exp_annotations: {
                                    summary: "CPU above 80% on app-1",
                                    description: "CPU utilisation on app-1 is 90.0% (threshold 80%).",
                                    runbook_url: runbook("highcpuusage"),
                                },
                            },
                        ],
                    },
                ],
            },
            {
                name: "HighMemoryUsage: 95 % used fires after 10 m",
                interval: "15s",
                input_series: [
                    { series: 'node_memory_MemAvailable_bytes{instance="app-1",job="node"}', values: "500000000x80" },
                    { series: 'node_memory_MemTotal_bytes{instance="app-1",job="node"}', values: "10000000000x80" },
                ],
                alert_rule_test: [
                    { eval_time: "9m", alertname: "HighMemoryUsage", exp_alerts: [] },
                    {
                        eval_time: "11m",
                        alertname: "HighMemoryUsage",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "warning", instance: "app-1", job: "node" },
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
                name: "DiskSpaceLow: 5 % free fires after 10 m; tmpfs ignored",
                interval: "15s",
                input_series: [
                    { series: 'node_filesystem_avail_bytes{instance="app-1",job="node",fstype="ext4",mountpoint="/"}', values: "5000000000x80" },
                    { series: 'node_filesystem_size_bytes{instance="app-1",job="node",fstype="ext4",mountpoint="/"}', values: "100000000000x80" },
                    { series: 'node_filesystem_avail_bytes{instance="app-1",job="node",fstype="tmpfs",mountpoint="/dev/shm"}', values: "0x80" },
                    { series: 'node_filesystem_size_bytes{instance="app-1",job="node",fstype="tmpfs",mountpoint="/dev/shm"}', values: "1000x80" },
                ],
                alert_rule_test: [
                    { eval_time: "9m", alertname: "DiskSpaceLow", exp_alerts: [] },
                    {
                        eval_time: "11m",
                        alertname: "DiskSpaceLow",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "warning", instance: "app-1", job: "node", fstype: "ext4", mountpoint: "/" },
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
                name: "TargetDown: fires after 2 m down, not after a blip",
                interval: "15s",
                input_series: [
                    { series: 'up{job="app",instance="app-1"}', values: "1 1 1 0x20" },
                    { series: 'up{job="node",instance="app-1"}', values: "1 0 0 1x20" },
                ],
                alert_rule_test: [
                    { eval_time: "2m", alertname: "TargetDown", exp_alerts: [] },
                    {
                        eval_time: "4m",
                        alertname: "TargetDown",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "critical", job: "app", instance: "app-1" },
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
        ],
    };

    it("every alert fires after its duration with the expected labels and annotations, and stays quiet otherwise", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-ruletest-"));
        try {
            fs.writeFileSync(path.join(dir, "alert_rules.yml"), renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { runbookBaseUrl: RUNBOOK_BASE }));
            fs.writeFileSync(path.join(dir, "recording_rules.yml"), renderRecordingRules());
            fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify(ruleTests));
            const r = tool("promtool", ["test", "rules", "tests.yml"], dir);
            expect(r.status, r.out).to.equal(0);
            expect(r.out).to.contain("SUCCESS");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
