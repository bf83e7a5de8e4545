import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import {
    DEFAULT_ALERT_THRESHOLDS,
    APP_LATENCY_BUCKETS,
    DEFAULT_SLO_TARGETS,
    RECORDED,
    SLO_OBJECTIVE,
    SLO_WINDOWS,
    SNS_SUBJECT_MAX_CHARS,
    renderAlertmanagerConfig,
    renderAlertRules,
    renderPrometheusConfig,
    renderRecordingRules,
    sloRecord,
} from "../../prometheus";
import { LATENCY_BUCKETS } from "../../app/src/metrics";
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
        expect(r.out).to.contain("SUCCESS: 15 rules found").and.to.contain("SUCCESS: 25 rules found");
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

    it("amtool config routes test: critical and warning reach their SNS receivers, an unlabelled alert the warning one, and everything the null receiver locally", () => {
        fs.writeFileSync(path.join(dir, "am-route-sns.yml"), renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:devsecops-stack-prod-alerts", region: "eu-west-1" }));
        fs.writeFileSync(path.join(dir, "am-route-null.yml"), renderAlertmanagerConfig({}));
        fs.writeFileSync(
            path.join(dir, "am-route-dms.yml"),
            renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:devsecops-stack-prod-alerts", region: "eu-west-1", deadMansSwitch: { url: "https://hc-ping.example/0f3e" } }),
        );
        const cases: [string, string[], string][] = [
            ["am-route-sns.yml", ["alertname=HighErrorRate", "severity=critical"], "sns-critical"],
            ["am-route-sns.yml", ["alertname=HighCPUUsage", "severity=warning"], "sns-warning"],
            ["am-route-sns.yml", ["alertname=SomethingNew"], "sns-warning"],
            // The Watchdog never reaches SNS: the dead man's switch when set, else nowhere.
            ["am-route-sns.yml", ["alertname=Watchdog", "severity=none"], "null"],
            ["am-route-dms.yml", ["alertname=Watchdog", "severity=none"], "dead-mans-switch"],
            ["am-route-dms.yml", ["alertname=Watchdog", "severity=critical"], "dead-mans-switch"],
            ["am-route-dms.yml", ["alertname=AvailabilityBudgetBurn", "severity=critical"], "sns-critical"],
            ["am-route-dms.yml", ["alertname=LatencyBudgetBurn", "severity=warning"], "sns-warning"],
            ["am-route-null.yml", ["alertname=HighErrorRate", "severity=critical"], "null"],
            ["am-route-null.yml", ["alertname=HighCPUUsage", "severity=warning"], "null"],
        ];
        for (const [file, labels, receiver] of cases) {
            const r = tool("amtool", ["config", "routes", "test", `--config.file=${file}`, `--verify.receivers=${receiver}`, ...labels], dir);
            expect(r.status, `${file} ${labels.join(" ")} → ${receiver}: ${r.out}`).to.equal(0);
        }
        // The check can fail: a critical alert does not reach the warning receiver.
        const wrong = tool("amtool", ["config", "routes", "test", "--config.file=am-route-sns.yml", "--verify.receivers=sns-warning", "severity=critical"], dir);
        expect(wrong.status, wrong.out).to.equal(1);
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
    it("renders 15 s intervals, the four jobs, an explicit region and instance = the EC2 instance id (name = the Name tag)", () => {
        const cfg = YAML.parse(renderPrometheusConfig({ targets: { kind: "ec2", region: "eu-west-1", tagKey: "MonitoringTarget", tagValue: "s" } }));
        expect(cfg.global).to.include({ scrape_interval: "15s", evaluation_interval: "15s" });
        expect(cfg.scrape_configs.map((j: any) => j.job_name)).to.deep.equal(["app", "node", "prometheus", "alertmanager"]);
        const app = cfg.scrape_configs[0];
        expect(app.ec2_sd_configs[0]).to.include({ region: "eu-west-1", port: 3000 });
        expect(app.ec2_sd_configs[0].filters[0]).to.deep.equal({ name: "tag:MonitoringTarget", values: ["s"] });
        // Every member of an Auto Scaling group shares the Name tag; the instance id is unique per host.
        expect(app.relabel_configs).to.deep.include({ source_labels: ["__meta_ec2_instance_id"], regex: "(.+)", target_label: "instance" });
        expect(app.relabel_configs).to.deep.include({ source_labels: ["__meta_ec2_tag_Name"], regex: "(.+)", target_label: "name" });
        expect(app.relabel_configs.filter((r: any) => r.target_label === "instance")).to.have.length(1);
        expect(cfg.scrape_configs[1].ec2_sd_configs[0].port).to.equal(9100);
        // node_exporter on the same host gets the same instance, so dashboards join app and host series.
        expect(cfg.scrape_configs[1].relabel_configs).to.deep.include({ source_labels: ["__meta_ec2_instance_id"], regex: "(.+)", target_label: "instance" });
        expect(cfg.scrape_configs[1].ec2_sd_configs[0].filters).to.deep.include({ name: "instance-state-name", values: ["running"] });
        expect(cfg.remote_write).to.equal(undefined);
    });

    it("renders remote_write with SigV4 (region only: the instance role signs)", () => {
        const cfg = YAML.parse(renderPrometheusConfig({ targets: { kind: "ec2", region: "eu-west-1", tagKey: "k", tagValue: "v" }, remoteWrite: { url: "https://aps.example/api/v1/remote_write", region: "eu-west-1" } }));
        expect(cfg.remote_write).to.deep.equal([{ url: "https://aps.example/api/v1/remote_write", sigv4: { region: "eu-west-1" } }]);
    });

    it("static targets: instance is the host without the port, so a host's app and node series share it", () => {
        const cfg = YAML.parse(
            renderPrometheusConfig({ targets: { kind: "static", app: ["10.0.1.5:3000"], node: ["10.0.1.5:9100"], prometheus: ["127.0.0.1:9090"], alertmanager: ["127.0.0.1:9093"] } }),
        );
        const relabel = cfg.scrape_configs[0].relabel_configs[0];
        expect(relabel).to.include({ target_label: "instance", replacement: "$1" });
        // Prometheus anchors relabel regexes; the same anchored regex must strip the port.
        // The source is "<instance label>;<address>": empty for a plain target.
        const anchored = new RegExp(`^(?:${relabel.regex})$`);
        expect(relabel.source_labels).to.deep.equal(["instance", "__address__"]);
        expect(";10.0.1.5:3000".replace(anchored, relabel.replacement)).to.equal("10.0.1.5");
        expect(";ip-10-0-1-5.eu-west-1.compute.internal:9100".replace(anchored, relabel.replacement)).to.equal("ip-10-0-1-5.eu-west-1.compute.internal");
        // A target with its own instance label keeps it.
        expect(anchored.test("i-0abc;127.0.0.1:3000")).to.equal(false);
        expect(() =>
            renderPrometheusConfig({ targets: { kind: "static", app: ["10.0.1.5:3000", "10.0.1.5:3001"], node: [], prometheus: [], alertmanager: [] } }),
        ).to.throw(/targets.app = \["10.0.1.5:3000","10.0.1.5:3001"\]: one target per instance/);
        const two = YAML.parse(
            renderPrometheusConfig({
                targets: { kind: "static", app: [{ target: "127.0.0.1:3001", instance: "i-a", name: "app" }, { target: "127.0.0.1:3002", instance: "i-b", name: "app" }], node: [], prometheus: [], alertmanager: [] },
            }),
        );
        expect(two.scrape_configs[0].static_configs).to.deep.equal([
            { targets: ["127.0.0.1:3001"], labels: { instance: "i-a", name: "app" } },
            { targets: ["127.0.0.1:3002"], labels: { instance: "i-b", name: "app" } },
        ]);
    });

    it("rejects bad input naming the option, the value and what is allowed", () => {
        expect(() => renderPrometheusConfig({ targets: { kind: "ec2", region: "", tagKey: "k", tagValue: "v" } })).to.throw(/targets.region = "": an AWS region/);
        expect(() => renderAlertRules({ ...DEFAULT_ALERT_THRESHOLDS, cpuPercent: 120 })).to.throw("thresholds.cpuPercent = 120: a number from 1 to 100");
        expect(() => renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { durations: { cpu: "ten minutes" } })).to.throw(/durations.cpu = "ten minutes"/);
        expect(() => renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { durations: { errorRatio: "5m" } as never })).to.throw(/durations.errorRatio = "5m": one of errorRate, latency/);
        expect(() => renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { runbookBaseUrl: "https://x/runbooks.md#top" })).to.throw(/runbookBaseUrl = "https:\/\/x\/runbooks.md#top"/);
        expect(() => renderAlertRules({ ...DEFAULT_ALERT_THRESHOLDS, errorRatio: 0 })).to.throw("thresholds.errorRatio = 0: a number from 0 to 1 (not 0)");
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
        expect([...new Set(rules.map((r: any) => r.alert))]).to.have.members([
            "HighErrorRate",
            "HighLatencyP95",
            "HighCPUUsage",
            "HighMemoryUsage",
            "DiskSpaceLow",
            "TargetDown",
            "AvailabilityBudgetBurn",
            "LatencyBudgetBurn",
            "Watchdog",
        ]);
        for (const r of rules) {
            if (r.alert === "Watchdog") {
                expect(r.labels.severity).to.equal("none");
            } else if (/BudgetBurn$/.test(r.alert)) {
                // Per service: the job, not a host.
                expect(r.labels.severity, r.alert).to.be.oneOf(["critical", "warning"]);
                expect(r.annotations.summary, r.alert).to.contain("{{ $labels.job }}");
                expect(r.annotations.description, r.alert).to.contain("$value");
                expect(r.annotations.budget_consumed, r.alert).to.match(/^\d+(\.\d+)?% of the 30-day error budget spent in \d+[hd]; at this rate all of it in /);
            } else {
                expect(r.labels.severity, r.alert).to.be.oneOf(["critical", "warning"]);
                expect(r.annotations.summary, r.alert).to.contain("{{ $labels.instance }}");
                expect(r.annotations.description, r.alert).to.contain("{{ $labels.instance }}");
                if (r.alert !== "TargetDown") expect(r.annotations.description, r.alert).to.contain("$value");
            }
            const anchor = r.annotations.runbook_url.split("#")[1];
            expect(anchors.has(anchor), `docs/runbooks.md has a section for #${anchor}`).to.equal(true);
        }
    });

    it("Alertmanager publishes to SNS with SigV4 from the instance role (no keys in the file)", () => {
        const am = YAML.parse(renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts", region: "eu-west-1" }));
        const sns = am.receivers.flatMap((r: any) => r.sns_configs ?? []);
        expect(sns).to.have.length(2);
        for (const c of sns) {
            expect(c).to.include({ topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts", send_resolved: true });
            expect(c.sigv4).to.deep.equal({ region: "eu-west-1" });
        }
    });
});

describe("observability: SLO rendering, Watchdog routing and the SNS subject", function () {
    this.timeout(60_000);
    it("the SLO reads a bucket the app really has, and the dashboard's budget panels the same bound", () => {
        expect(APP_LATENCY_BUCKETS).to.deep.equal(LATENCY_BUCKETS);
        expect(APP_LATENCY_BUCKETS).to.include(DEFAULT_SLO_TARGETS.latencyThresholdSeconds);
        const dash = loadDashboardJson();
        expect(dash).to.contain(`le=\\"${DEFAULT_SLO_TARGETS.latencyThresholdSeconds}\\"`);
        expect(() => renderRecordingRules({ ...DEFAULT_SLO_TARGETS, latencyThresholdSeconds: 0.3 })).to.throw(/slo.latencyThresholdSeconds = 0.3: one of the app's histogram buckets/);
        expect(() => renderAlertRules(DEFAULT_ALERT_THRESHOLDS, { slo: { ...DEFAULT_SLO_TARGETS, availability: 0.9 } })).to.throw(/slo.availability = 0.9: a share from 0.95/);
    });

    it("recording rules cover every window for both SLIs with the targets as series; an integer bound matches 2.x and 3.x le", () => {
        const groups = YAML.parse(renderRecordingRules({ ...DEFAULT_SLO_TARGETS, availability: 0.995, latencyThresholdSeconds: 1 })).groups;
        const slo = groups.find((g: any) => g.name === "devsecops-slo").rules;
        for (const w of SLO_WINDOWS) for (const sli of ["error", "slow"] as const) expect(slo.map((r: any) => r.record)).to.include(sloRecord(sli, w));
        expect(slo.find((r: any) => r.record === SLO_OBJECTIVE && r.labels.slo === "availability").expr).to.equal("vector(0.995)");
        expect(slo.find((r: any) => r.record === sloRecord("slow", "1h")).expr).to.contain('le=~"1|1\\\\.0"');
    });

    it("Alertmanager's SNS subject renders to at most 99 characters (SNS: less than 100) for a long alert, with amtool template render", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-subject-"));
        try {
            const am = YAML.parse(renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:a", region: "eu-west-1" }));
            const subject: string = am.receivers.find((r: any) => r.name === "sns-critical").sns_configs[0].subject;
            const longInstance = "devsecops-stack-a-very-long-stack-name-for-a-feature-branch-preview-environment-app-i-0123456789abcdef0";
            const data = (alertname: string, labels: Record<string, string>) => ({
                receiver: "sns-critical",
                status: "firing",
                alerts: [{ status: "firing", labels: { alertname, ...labels }, annotations: {}, startsAt: "2026-12-02T00:00:00Z", endsAt: "0001-01-01T00:00:00Z", generatorURL: "", fingerprint: "1" }],
                groupLabels: { alertname },
                commonLabels: { alertname, ...labels },
                commonAnnotations: {},
                externalURL: "http://am",
            });
            fs.writeFileSync(path.join(dir, "empty.tmpl"), "");
            const render = (d: unknown) => {
                fs.writeFileSync(path.join(dir, "data.json"), JSON.stringify(d));
                const r = tool("amtool", ["template", "render", `--template.glob=${path.join(dir, "empty.tmpl")}`, `--template.text=${subject}`, `--template.data=${path.join(dir, "data.json")}`], dir);
                expect(r.status, r.out).to.equal(0);
                return r.out.replace(/\n$/, "");
            };
            const long = render(data("HighErrorRate", { instance: longInstance, severity: "critical" }));
            expect(long.length).to.equal(SNS_SUBJECT_MAX_CHARS);
            expect(long.startsWith("[CRITICAL] [FIRING] HighErrorRate on devsecops-stack-a-very-long")).to.equal(true);
            expect(render(data("HighErrorRate", { instance: "i-0abc", severity: "critical" }))).to.equal("[CRITICAL] [FIRING] HighErrorRate on i-0abc");
            // A per-service alert has no instance: the job names it.
            expect(render(data("AvailabilityBudgetBurn", { job: "app", severity: "critical" }))).to.equal("[CRITICAL] [FIRING] AvailabilityBudgetBurn on app");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the dead man's switch: a webhook (send_resolved false) or a url_file, only for the Watchdog; a bad URL is rejected without echoing it", () => {
        const am = YAML.parse(renderAlertmanagerConfig({ deadMansSwitch: { urlFile: "/etc/alertmanager/dead-mans-switch-url" } }));
        expect(am.receivers.find((r: any) => r.name === "dead-mans-switch").webhook_configs).to.deep.equal([{ url_file: "/etc/alertmanager/dead-mans-switch-url", send_resolved: false }]);
        expect(am.route.routes[0]).to.include({ receiver: "dead-mans-switch", repeat_interval: "1m" });
        expect(am.route.routes[0].matchers).to.deep.equal(['alertname="Watchdog"']);
        expect(am.route.routes[0].continue).to.equal(undefined);
        let message = "";
        try {
            renderAlertmanagerConfig({ deadMansSwitch: { url: "http://hc-ping.example/token-42" } });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).to.contain("deadMansSwitch.url: an https:// URL").and.not.contain("token-42");
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

    it("is well-formed for Grafana: unique panel ids, unique refIds per panel, panels inside 24 columns and not overlapping", () => {
        const ids = dash.panels.map((p: any) => p.id);
        expect(new Set(ids).size, "panel ids").to.equal(ids.length);
        const cells = new Set<string>();
        for (const p of dash.panels) {
            expect(["stat", "timeseries"], p.title).to.include(p.type);
            const refIds = p.targets.map((t: any) => t.refId);
            expect(new Set(refIds).size, `${p.title} refIds`).to.equal(refIds.length);
            const { x, y, w, h } = p.gridPos;
            expect(x + w, `${p.title} width`).to.be.at.most(24);
            for (let cx = x; cx < x + w; cx++) {
                for (let cy = y; cy < y + h; cy++) {
                    expect(cells.has(`${cx},${cy}`), `${p.title} overlaps another panel at ${cx},${cy}`).to.equal(false);
                    cells.add(`${cx},${cy}`);
                }
            }
        }
    });

    it("has the panels the architecture asks for", () => {
        const titles = dash.panels.map((p: any) => p.title.toLowerCase()).join(" | ");
        for (const want of ["requests per second", "error %", "p95", "p99", "cpu %", "memory %", "active alerts", "targets up"]) expect(titles).to.contain(want);
        expect(exprs).to.include('count(ALERTS{alertstate="firing"}) or vector(0)');
    });

    it("queries only recorded series or metrics the app and node_exporter expose", () => {
        const recorded = new Set<string>([...Object.values(RECORDED), ...SLO_WINDOWS.flatMap((w) => [sloRecord("error", w), sloRecord("slow", w)]), SLO_OBJECTIVE]);
        const raw = new Set(["http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_count", "up", "ALERTS"]);
        for (const e of exprs) {
            const bare = e.replace(/by \([^)]*\)/g, "").replace(/\{[^}]*\}/g, "").replace(/\[[^\]]*\]/g, "");
            const keywords = ["sum", "count", "rate", "increase", "scalar", "vector", "or", "and"];
            const names = (bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((n) => !keywords.includes(n));
            expect(names.length, e).to.be.greaterThan(0);
            for (const n of names) expect(recorded.has(n) || raw.has(n), `${n} in ${e}`).to.equal(true);
        }
    });
});
