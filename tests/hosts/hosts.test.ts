import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { SHUTDOWN_DRAIN_MS } from "../../app/src/server";
import { renderAppHostUserData } from "../../components/cloudInit/appHostUserData";
import { renderConfigShippingScript, renderMonitoringHostUserData, ShippedMonitoringConfig } from "../../components/cloudInit/monitoringHostUserData";
import { renderGrafanaProvisioningFiles } from "../../dashboards";
import { DEFAULT_ALERT_THRESHOLDS, renderAlertmanagerConfig, renderAlertRules, renderPrometheusConfig, renderRecordingRules } from "../../prometheus";
import { ofType, RecordedResource, ROOT, runStack, StackRun } from "../../scripts/stackUnderMocks";
import { findBinary, freePort, httpRequest } from "../../scripts/local/harness";

/** Actions AWS grants only on "*". */
const STAR_ONLY_ACTIONS = new Set(["ecr:GetAuthorizationToken", "ec2:DescribeInstances", "ec2:DescribeAvailabilityZones", "cloudwatch:PutMetricData"]);

interface IngressRule {
    where: string;
    fromPort: number;
    toPort: number;
    cidrs: string[];
    sourceGroups: string[];
}

function ingressRules(resources: RecordedResource[]): IngressRule[] {
    const rules: IngressRule[] = [];
    for (const sg of ofType(resources, "aws:ec2/securityGroup:SecurityGroup")) {
        for (const r of sg.inputs.ingress ?? []) {
            rules.push({ where: sg.name, fromPort: r.fromPort, toPort: r.toPort, cidrs: [...(r.cidrBlocks ?? []), ...(r.ipv6CidrBlocks ?? [])], sourceGroups: r.securityGroups ?? [] });
        }
    }
    for (const r of ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")) {
        rules.push({ where: r.name, fromPort: r.inputs.fromPort, toPort: r.inputs.toPort, cidrs: [r.inputs.cidrIpv4, r.inputs.cidrIpv6].filter(Boolean), sourceGroups: [r.inputs.referencedSecurityGroupId].filter(Boolean) });
    }
    for (const r of ofType(resources, "aws:ec2/securityGroupRule:SecurityGroupRule").filter((x) => x.inputs.type === "ingress")) {
        rules.push({ where: r.name, fromPort: r.inputs.fromPort, toPort: r.inputs.toPort, cidrs: [...(r.inputs.cidrBlocks ?? []), ...(r.inputs.ipv6CidrBlocks ?? [])], sourceGroups: [r.inputs.sourceSecurityGroupId].filter(Boolean) });
    }
    return rules;
}

function named(resources: RecordedResource[], type: string, name: string): RecordedResource {
    const r = ofType(resources, type).find((x) => x.name === name);
    expect(r, `${type} ${name}`).to.not.equal(undefined);
    return r!;
}

/** The app hosts' launch template, and the user data it boots with (decoded). */
function appTemplate(resources: RecordedResource[]): RecordedResource {
    return named(resources, "aws:ec2/launchTemplate:LaunchTemplate", "app-hosts");
}
function appUserData(resources: RecordedResource[]): string {
    return Buffer.from(String(appTemplate(resources).inputs.userData), "base64").toString("utf8");
}

/** Grafana's provisioning files the config document ships (grafanaProvisioning = file), decoded. */
function shippedGrafanaFiles(resources: RecordedResource[]): Record<string, string> {
    const script = (JSON.parse(named(resources, "aws:ssm/document:Document", "monitoring-config").inputs.content).mainSteps[0].inputs.runCommand as string[]).join("\n");
    const files: Record<string, string> = {};
    for (const m of script.matchAll(/^stage '?grafana\/([^' ]+)'? '([^']+)'$/gm)) files[m[1]] = Buffer.from(m[2], "base64").toString("utf8");
    return files;
}

async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
        return await fn();
    } finally {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    }
}

function run(tool: string, args: string[], input?: string): { status: number | null; out: string } {
    const r = spawnSync(tool, args, { input, encoding: "utf8", timeout: 60_000 });
    const pkg = ({ promtool: "prometheus", amtool: "prometheus-alertmanager" } as Record<string, string>)[tool] ?? tool;
    if (r.error) throw new Error(`${tool} could not run (${r.error.message}): install Debian's ${pkg} package`);
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("hosts under mocks (prod config)", function () {
    this.timeout(60_000);
    let stack: StackRun;
    let resources: RecordedResource[];
    before(async () => {
        stack = await runStack();
        resources = stack.resources;
    });

    it("requires IMDSv2 on every instance and launch template", () => {
        const hosts = [...ofType(resources, "aws:ec2/instance:Instance"), ...ofType(resources, "aws:ec2/launchTemplate:LaunchTemplate")];
        expect(hosts.map((h) => h.name)).to.have.members(["monitoring-instance", "app-hosts"]);
        for (const i of hosts) expect(i.inputs.metadataOptions, i.name).to.include({ httpTokens: "required", httpEndpoint: "enabled" });
    });

    it("encrypts every volume", () => {
        for (const i of ofType(resources, "aws:ec2/instance:Instance")) {
            expect(i.inputs.rootBlockDevice.encrypted, `${i.name} root`).to.equal(true);
            for (const d of i.inputs.ebsBlockDevices ?? []) expect(d.encrypted, `${i.name} ${d.deviceName}`).to.equal(true);
        }
        const mappings = appTemplate(resources).inputs.blockDeviceMappings;
        expect(mappings).to.have.length.greaterThan(0);
        // The launch template's EBS flags are strings in @pulumi/aws.
        for (const m of mappings) expect(m.ebs.encrypted, `app-hosts ${m.deviceName}`).to.equal("true");
        const volumes = ofType(resources, "aws:ebs/volume:Volume");
        expect(volumes).to.have.length(1);
        expect(volumes[0].inputs).to.include({ encrypted: true, size: 20, type: "gp3" });
    });

    it("admits the internet only to the load balancer on 80 and 443; elsewhere security groups only, never port 22", () => {
        const rules = ingressRules(resources).filter((r) => !r.where.startsWith("network-endpoints"));
        expect(rules.length).to.be.greaterThan(3);
        const internet = rules.filter((r) => r.cidrs.includes("0.0.0.0/0"));
        expect(internet.map((r) => [r.where, r.fromPort, r.toPort])).to.have.deep.members([
            ["front-door-80-from-internet", 80, 80],
            ["front-door-443-from-internet", 443, 443],
        ]);
        for (const r of rules.filter((x) => !internet.includes(x))) {
            expect(r.sourceGroups.length, `${r.where} admits a security group`).to.be.greaterThan(0);
            expect(r.cidrs, `${r.where} admits no CIDR`).to.deep.equal([]);
            expect(r.fromPort <= 22 && 22 <= r.toPort, `${r.where} opens 22`).to.equal(false);
        }
        const fromLb = rules.filter((r) => r.where === "app-app-from-lb");
        expect(fromLb.map((r) => [r.fromPort, r.sourceGroups])).to.deep.equal([[3000, ["front-door-sg-id"]]]);
        const app = ingressRules(resources).filter((r) => r.where.includes("from-monitoring"));
        expect(app.map((r) => r.fromPort).sort()).to.deep.equal([3000, 9100]);
        const monitoringSg = named(resources, "aws:ec2/securityGroup:SecurityGroup", "monitoring-sg");
        for (const r of app) expect(r.sourceGroups).to.deep.equal([`${monitoringSg.name}-id`]);
        // Issue 13: the monitoring host admits the front door to Grafana's port and nothing else; no CIDR reaches 9090, 9093 or 3000.
        const toMonitoring = ingressRules(resources).filter((r) => r.where === "monitoring-sg" || r.where.startsWith("grafana-route-"));
        expect(toMonitoring.map((r) => [r.where, r.fromPort, r.toPort, r.sourceGroups, r.cidrs])).to.deep.equal([["grafana-route-from-front-door", 3000, 3000, ["front-door-sg-id"], []]]);
        const grafanaRule = named(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "grafana-route-from-front-door");
        expect(grafanaRule.inputs.securityGroupId).to.equal(`${monitoringSg.name}-id`);
    });

    it("issue 13: no instance has a public IP; the monitoring host lives in a private subnet", () => {
        const monitoring = named(resources, "aws:ec2/instance:Instance", "monitoring-instance");
        expect(monitoring.inputs.associatePublicIpAddress).to.equal(false);
        expect(monitoring.inputs.subnetId).to.equal("network-private-0-id");
        expect(monitoring.inputs.tags).to.not.have.property("OperatorFacing");
        for (const i of ofType(resources, "aws:ec2/instance:Instance")) expect(i.inputs.associatePublicIpAddress, i.name).to.not.equal(true);
        for (const subnet of ofType(resources, "aws:ec2/subnet:Subnet")) expect(subnet.inputs.mapPublicIpOnLaunch, subnet.name).to.equal(false);
        // No unauthenticated admin API: Prometheus runs without its lifecycle endpoints (/-/quit, /-/reload).
        expect(String(monitoring.inputs.userData)).to.contain("docker run -d --name prometheus").and.not.contain("--web.enable-lifecycle");
        // The data volume stays in the instance's zone: the private subnet is in the first zone, as the public one was.
        const privateSubnet = named(resources, "aws:ec2/subnet:Subnet", "network-private-0");
        expect(privateSubnet.inputs.availabilityZone).to.equal(named(resources, "aws:ec2/subnet:Subnet", "network-public-0").inputs.availabilityZone);
    });

    it("issue 13: Grafana's only internet path is the HTTPS listener rule (its host name and operatorCidrs together); its name from elsewhere gets 403", () => {
        const https = named(resources, "aws:lb/listener:Listener", "front-door-https");
        const rules = ofType(resources, "aws:lb/listenerRule:ListenerRule").filter((r) => r.inputs.actions.some((a: any) => a.targetGroupArn === named(resources, "aws:lb/targetGroup:TargetGroup", "grafana-route-grafana").state.arn));
        expect(rules.map((r) => r.name)).to.deep.equal(["grafana-route-operators-0"]);
        for (const rule of rules) {
            expect(rule.inputs.listenerArn).to.equal(https.state.arn);
            expect(rule.inputs.conditions).to.deep.equal([{ hostHeader: { values: ["grafana.app.example.com"] } }, { sourceIp: { values: ["203.0.113.0/24"] } }]);
        }
        // Nothing else forwards to Grafana: no listener default, no plain-HTTP listener.
        for (const l of ofType(resources, "aws:lb/listener:Listener")) {
            expect(JSON.stringify(l.inputs.defaultActions), l.name).to.not.contain("grafana-route-grafana");
        }
        const refusal = named(resources, "aws:lb/listenerRule:ListenerRule", "grafana-route-others");
        expect(refusal.inputs.conditions).to.deep.equal([{ hostHeader: { values: ["grafana.app.example.com"] } }]);
        expect(refusal.inputs.actions[0].fixedResponse.statusCode).to.equal("403");
        expect(refusal.inputs.priority).to.be.greaterThan(rules[0].inputs.priority);
        // The target group holds the monitoring host's Grafana port, health-checked on /api/health.
        const attachment = named(resources, "aws:lb/targetGroupAttachment:TargetGroupAttachment", "grafana-route-grafana");
        expect(attachment.inputs).to.include({ targetId: "monitoring-instance-id", port: 3000 });
        expect(named(resources, "aws:lb/targetGroup:TargetGroup", "grafana-route-grafana").inputs.healthCheck).to.include({ path: "/api/health" });
        // Same certificate: the stack's certificate names Grafana too; the common rule set leaves its bodies alone.
        expect(named(resources, "aws:acm/certificate:Certificate", "front-door-cert").inputs.subjectAlternativeNames).to.deep.equal(["grafana.app.example.com"]);
        const crs = named(resources, "aws:wafv2/webAcl:WebAcl", "front-door-waf").inputs.rules.find((r: any) => r.name === "AWSManagedRulesCommonRuleSet");
        expect(crs.statement.managedRuleGroupStatement.scopeDownStatement.notStatement.statement.byteMatchStatement).to.include({ searchString: "grafana.app.example.com", positionalConstraint: "EXACTLY" });
        expect(stack.outputs.grafanaUrl).to.equal("https://grafana.app.example.com");
        expect(stack.outputs.prometheusUrl).to.equal("npm run tunnel -- prometheus");
        expect(stack.outputs.alertmanagerUrl).to.equal("npm run tunnel -- alertmanager");
    });

    it("the front door answers 404 for /metrics and /fault and everything below them, before any forward rule", () => {
        const internal = ofType(resources, "aws:lb/listenerRule:ListenerRule").filter((r) => r.inputs.actions[0].fixedResponse?.statusCode === "404");
        expect(internal.map((r) => r.inputs.conditions[0].pathPattern.values)).to.have.deep.members([["/metrics", "/metrics/*"], ["/fault", "/fault/*"]]);
        const forwards = ofType(resources, "aws:lb/listenerRule:ListenerRule").filter((r) => r.inputs.actions[0].type === "forward");
        for (const r of internal) for (const f of forwards) expect(r.inputs.priority, `${r.name} before ${f.name}`).to.be.lessThan(f.inputs.priority);
    });

    it("issue 13: more operator CIDRs than one rule holds take more rules; none, or no domain, leave Grafana to the tunnel", async () => {
        const many = await runStack({ config: { operatorCidrs: JSON.stringify(["198.51.100.0/24", "198.51.101.0/24", "198.51.102.0/24", "198.51.103.0/24"]) } });
        const operatorRules = ofType(many.resources, "aws:lb/listenerRule:ListenerRule").filter((r) => r.name.startsWith("grafana-route-operators-"));
        expect(operatorRules.sort((a, b) => a.inputs.priority - b.inputs.priority).map((r) => r.inputs.conditions[1].sourceIp.values.length)).to.deep.equal([3, 1]);
        for (const stackConfig of [{ operatorCidrs: "[]" }, {}] as Record<string, string>[]) {
            const run = await runStack({ config: stackConfig, unset: Object.keys(stackConfig).length ? [] : ["domainName", "hostedZoneId"] });
            expect(run.resources.filter((r) => r.name.startsWith("grafana-route")).map((r) => r.name), JSON.stringify(stackConfig)).to.deep.equal([]);
            expect(run.outputs.grafanaUrl).to.equal("npm run tunnel -- grafana");
        }
    });

    it("keeps the app hosts private, across both private subnets, and gives no host an SSH key", () => {
        const template = appTemplate(resources);
        expect(template.inputs.networkInterfaces.map((n: any) => n.associatePublicIpAddress)).to.deep.equal(["false"]);
        const group = named(resources, "aws:autoscaling/group:Group", "app-hosts");
        expect(group.inputs.vpcZoneIdentifiers).to.have.members(["network-private-0-id", "network-private-1-id"]);
        for (const i of [...ofType(resources, "aws:ec2/instance:Instance"), template]) expect(i.inputs.keyName, i.name).to.equal(undefined);
    });

    it("puts no secret value in user data, commands or SSM documents, only secret ARNs", () => {
        const carriers = [
            ...ofType(resources, "aws:ec2/instance:Instance").map((i) => i.inputs.userData as string),
            appUserData(resources),
            ...ofType(resources, "aws:ssm/document:Document").map((d) => d.inputs.content as string),
            ...ofType(resources, "command:local:Command").map((c) => JSON.stringify({ create: c.inputs.create, environment: c.inputs.environment })),
        ];
        expect(carriers.length).to.be.greaterThan(3);
        for (const text of carriers) for (const secret of stack.secretValues) expect(text).to.not.contain(secret);
        expect(appUserData(resources)).to.contain("arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/app-session-key");
    });

    it("names resources in every IAM statement; * only where AWS requires it", () => {
        const policies = ofType(resources, "aws:iam/rolePolicy:RolePolicy").filter((p) => ["app", "monitoring"].some((h) => p.name.startsWith(h)));
        expect(policies.length).to.be.greaterThanOrEqual(4);
        for (const p of policies) {
            for (const s of JSON.parse(p.inputs.policy).Statement) {
                const actions = [s.Action].flat() as string[];
                expect(actions.some((a) => a === "*" || a.endsWith(":*")), `${p.name} ${s.Sid} wildcard action`).to.equal(false);
                if ([s.Resource].flat().includes("*")) {
                    for (const a of actions) expect(STAR_ONLY_ACTIONS.has(a), `${p.name}: ${a} on *`).to.equal(true);
                    // PutMetricData on * only within the hosts' own namespace.
                    if (actions.includes("cloudwatch:PutMetricData")) expect(s.Condition, `${p.name} ${s.Sid}`).to.deep.equal({ StringEquals: { "cloudwatch:namespace": "DevSecOps/Hosts" } });
                }
            }
        }
        const monitoring = JSON.parse(named(resources, "aws:iam/rolePolicy:RolePolicy", "monitoring-monitoring").inputs.policy).Statement;
        expect(monitoring.find((s: any) => s.Action === "sns:Publish").Resource).to.equal(stack.outputs.alertTopicArn);
        expect(monitoring.some((s: any) => String(s.Action).startsWith("aps:"))).to.equal(false);
    });

    it("configures ECR: scan on push, immutable tags, KMS, keep the last N images", () => {
        const repo = named(resources, "aws:ecr/repository:Repository", "app-repo");
        expect(repo.inputs.imageScanningConfiguration).to.deep.equal({ scanOnPush: true });
        expect(repo.inputs.imageTagMutability).to.equal("IMMUTABLE");
        expect(repo.inputs.encryptionConfigurations[0].encryptionType).to.equal("KMS");
        const lifecycle = JSON.parse(named(resources, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "app-repo").inputs.policy);
        expect(lifecycle.rules[0].selection).to.include({ countType: "imageCountMoreThan", countNumber: 10 });
        const image = named(resources, "docker:index/image:Image", "app-image");
        expect(image.inputs.imageName).to.match(/devsecops-app:src-[0-9a-f]{16}$/);
        expect(image.inputs.build.platform).to.equal("linux/amd64");
    });

    it("gates the app hosts' launch template on the image scan", () => {
        const gate = named(resources, "command:local:Command", "app-scan-gate");
        expect(gate.inputs.create).to.contain("components/scanGate/ecrScanGate.ts");
        expect(gate.inputs.environment).to.include({ MAX_CRITICAL: "0", MAX_HIGH: "-1" });
        expect(JSON.parse(gate.inputs.environment.IMAGES)).to.have.all.keys("devsecops-app");
        expect(JSON.parse(gate.inputs.environment.IMAGES)["devsecops-app"]).to.match(/\/devsecops-app@sha256:[0-9a-f]{64}$/);
        expect(appTemplate(resources).dependencies).to.include(gate.urn);
    });

    it("sends CPU > 80 % for 10 minutes and status-check alarms to the alerts topic", () => {
        const cpu = named(resources, "aws:cloudwatch/metricAlarm:MetricAlarm", "app-cpu");
        expect(cpu.inputs).to.include({ metricName: "CPUUtilization", threshold: 80, period: 60, evaluationPeriods: 10, comparisonOperator: "GreaterThanThreshold" });
        const status = named(resources, "aws:cloudwatch/metricAlarm:MetricAlarm", "app-status");
        expect(status.inputs.metricName).to.equal("StatusCheckFailed");
        for (const a of [cpu, status]) {
            expect(a.inputs.alarmActions).to.deep.equal([stack.outputs.alertTopicArn]);
            // Per group, not per instance: the alarms outlive every replacement.
            expect(Object.keys(a.inputs.dimensions), a.name).to.deep.equal(["AutoScalingGroupName"]);
        }
    });

    it("creates the app and platform log groups with 30 and 90 days, and the app logs through awslogs without creating groups", () => {
        expect(named(resources, "aws:cloudwatch/logGroup:LogGroup", "app-app-logs").inputs).to.include({ name: "/aws/ec2/prod/devsecops-app", retentionInDays: 30 });
        for (const n of ["app-platform-logs", "monitoring-prometheus", "monitoring-grafana"]) {
            expect(named(resources, "aws:cloudwatch/logGroup:LogGroup", n).inputs.retentionInDays, n).to.equal(90);
        }
        expect(appUserData(resources)).to.contain("--log-driver awslogs").and.contain("awslogs-create-group=false").and.contain("--read-only").and.contain("--user 65532:65532");
        // A slow CloudWatch Logs drops lines rather than blocking the app's stdout (issue 17 item 6).
        expect(appUserData(resources).match(/--log-opt mode=non-blocking --log-opt max-buffer-size=\d+m/g)).to.have.length(2);
    });

    it("grafanaProvisioning = provider: through the explicit provider at Grafana's HTTPS name, after the health wait; no provisioning files shipped", async () => {
        const { resources } = await runStack({ config: { grafanaProvisioning: "provider" } });
        const wait = named(resources, "command:local:Command", "grafana-health-wait");
        expect(wait.inputs.environment.GRAFANA_URL).to.equal("https://grafana.app.example.com");
        const providerUrn = resources.find((r) => r.type === "pulumi:providers:grafana")?.urn;
        expect(providerUrn).to.be.a("string");
        for (const type of ["grafana:oss/folder:Folder", "grafana:oss/dataSource:DataSource", "grafana:oss/dashboard:Dashboard"]) {
            const r = ofType(resources, type)[0];
            expect(r, type).to.not.equal(undefined);
            expect(r.dependencies, `${type} waits for health`).to.include(wait.urn);
            expect(r.provider, `${type} provider`).to.contain(providerUrn!);
        }
        const ds = ofType(resources, "grafana:oss/dataSource:DataSource")[0];
        expect(ds.inputs).to.include({ type: "prometheus", uid: "devsecops-prometheus" });
        const provider = resources.find((r) => r.type === "pulumi:providers:grafana")!;
        expect(provider.rawInputs.auth, "auth is a secret").to.have.property("4dabf18193072939515e22adb298388d");
        expect(provider.inputs.url).to.match(/^https:\/\//);
        expect(Object.keys(shippedGrafanaFiles(resources))).to.deep.equal([]);
    });

    it("issue 13: file and provider give Grafana the same datasource uid, folder and dashboard", async () => {
        const { resources: viaProvider } = await runStack({ config: { grafanaProvisioning: "provider" } });
        const files = shippedGrafanaFiles(resources);
        const datasource = YAML.parse(files["datasources/devsecops.yaml"]).datasources[0];
        const apiDatasource = ofType(viaProvider, "grafana:oss/dataSource:DataSource")[0].inputs;
        expect(datasource).to.include({ uid: apiDatasource.uid, name: apiDatasource.name, type: apiDatasource.type, url: apiDatasource.url, isDefault: apiDatasource.isDefault });
        expect(datasource.jsonData).to.deep.equal(JSON.parse(apiDatasource.jsonDataEncoded));
        const provider = YAML.parse(files["dashboards/devsecops.yaml"]).providers[0];
        const folder = ofType(viaProvider, "grafana:oss/folder:Folder")[0].inputs;
        expect({ title: provider.folder, uid: provider.folderUid }).to.deep.equal({ title: folder.title, uid: folder.uid });
        const jsonFiles = Object.keys(files).filter((f) => f.endsWith(".json"));
        expect(jsonFiles).to.have.length(1);
        expect(`/etc/grafana/provisioning/${jsonFiles[0]}`.startsWith(provider.options.path + "/")).to.equal(true);
        expect(JSON.parse(files[jsonFiles[0]])).to.deep.equal(JSON.parse(ofType(viaProvider, "grafana:oss/dashboard:Dashboard")[0].inputs.configJson));
        // The host mounts the shipped directory where Grafana reads provisioning.
        expect(String(named(resources, "aws:ec2/instance:Instance", "monitoring-instance").inputs.userData)).to.contain(":/etc/grafana/provisioning:ro");
    });

    it("ecrScanning: enhanced (prod) sets one registry scanning configuration every push waits for; basic sets none", async () => {
        const configs = ofType(resources, "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration");
        expect(configs.map((c) => c.inputs.scanType)).to.deep.equal(["ENHANCED"]);
        const images = ofType(resources, "docker:index/image:Image");
        expect(images).to.have.length(5);
        for (const image of images) expect(image.dependencies, image.name).to.include(configs[0].urn);
        const basic = await runStack({ config: { ecrScanning: "basic" } });
        expect(ofType(basic.resources, "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")).to.deep.equal([]);
        for (const repository of ofType(basic.resources, "aws:ecr/repository:Repository")) expect(repository.inputs.imageScanningConfiguration, repository.name).to.deep.equal({ scanOnPush: true });
    });

    it("starts the app without fault injection unless appFaultInjection is set for a drill", async () => {
        expect(appUserData(resources)).to.contain("--env FAULT_INJECTION=false").and.not.contain("FAULT_INJECTION=true");
        const drill = await runStack({ config: { appFaultInjection: "true" } });
        expect(appUserData(drill.resources)).to.contain("--env FAULT_INJECTION=true");
        // The drill's bearer token: generated in the vault, fetched at boot into the env file like any app secret.
        expect(appUserData(resources)).to.not.contain("FAULT_INJECTION_TOKEN");
        expect(appUserData(drill.resources)).to.match(/fetch_secret '?FAULT_INJECTION_TOKEN'? '?arn:aws:secretsmanager:[^ ]*fault-injection-token/);
        const tokenSecret = named(drill.resources, "aws:secretsmanager/secret:Secret", "secrets-fault-injection-token");
        expect(tokenSecret.inputs.name).to.match(/\/fault-injection-token$/);
    });

    it("rolls a new image out without downtime: numbered template version, launch before terminate, rollback on the unhealthy-hosts alarm, drained targets", () => {
        const template = appTemplate(resources);
        const group = named(resources, "aws:autoscaling/group:Group", "app-hosts");
        // A numbered version (what rollback returns to), never $Latest/$Default.
        expect(group.inputs.launchTemplate).to.deep.equal({ id: template.id, version: String(template.state.latestVersion) });
        expect(template.inputs.updateDefaultVersion).to.equal(true);
        const refresh = group.inputs.instanceRefresh;
        expect(refresh.strategy).to.equal("Rolling");
        expect(refresh.preferences).to.include({ minHealthyPercentage: 100, maxHealthyPercentage: 200, autoRollback: true, skipMatching: true });
        const unhealthy = named(resources, "aws:cloudwatch/metricAlarm:MetricAlarm", "front-door-unhealthy-hosts");
        expect(refresh.preferences.alarmSpecification.alarms).to.deep.equal([unhealthy.state.name ?? unhealthy.inputs.name ?? unhealthy.name]);
        // Health from the load balancer; new hosts count only once /health answers there.
        const targetGroup = named(resources, "aws:lb/targetGroup:TargetGroup", "front-door-app");
        expect(group.inputs).to.include({ healthCheckType: "ELB", minElbCapacity: 2, minSize: 2, maxSize: 4 });
        expect(group.inputs.targetGroupArns).to.deep.equal([targetGroup.state.arn]);
        expect(targetGroup.inputs.healthCheck).to.include({ path: "/health" });
        // Drained longer than the app's own shutdown bound, so the app never sees traffic it must cut.
        expect(targetGroup.inputs.deregistrationDelay * 1000).to.be.greaterThan(SHUTDOWN_DRAIN_MS);
        // No desired capacity: an update must not reset what target tracking chose.
        expect(group.inputs.desiredCapacity).to.equal(undefined);
        expect(named(resources, "aws:autoscaling/policy:Policy", "app-cpu-target").inputs.targetTrackingConfiguration).to.include({ targetValue: 60 });
    });

    it("watches the monitoring host from outside: EC2 recovers it on a failed system check, and the alerts topic hears of it", () => {
        const instance = named(resources, "aws:ec2/instance:Instance", "monitoring-instance");
        const recover = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.metricName === "StatusCheckFailed_System");
        expect(recover, "a StatusCheckFailed_System alarm").to.not.equal(undefined);
        expect(recover!.inputs.dimensions).to.deep.equal({ InstanceId: instance.id });
        expect(recover!.inputs.alarmActions).to.deep.equal(["arn:aws:automate:eu-west-1:ec2:recover", stack.outputs.alertTopicArn]);
    });

    it("snapshots the Prometheus volume daily through Data Lifecycle Manager, keeping prometheusSnapshotsKept, selected by the volume's own tag", () => {
        const volume = ofType(resources, "aws:ebs/volume:Volume")[0];
        const policy = ofType(resources, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
        expect(policy).to.have.length(1);
        const details = policy[0].inputs.policyDetails;
        expect(details.resourceTypes).to.deep.equal(["VOLUME"]);
        // The target tags select this volume, and nothing else in the stack carries them.
        for (const [k, v] of Object.entries(details.targetTags)) expect(volume.inputs.tags[k], k).to.equal(v);
        const alsoTagged = resources.filter((r) => r !== volume && Object.entries(details.targetTags).every(([k, v]) => r.inputs.tags?.[k] === v));
        expect(alsoTagged.map((r) => r.name)).to.deep.equal([]);
        expect(details.schedules[0]).to.deep.include({ retainRule: { count: 7 } });
        expect(details.schedules[0].createRule).to.include({ interval: 24, intervalUnit: "HOURS" });
        const role = resources.find((r) => r.type === "aws:iam/role:Role" && r.state.arn === policy[0].inputs.executionRoleArn);
        expect(JSON.parse(role!.inputs.assumeRolePolicy).Statement[0].Principal).to.deep.equal({ Service: "dlm.amazonaws.com" });
    });

    it("caps Prometheus's blocks below the data volume (size retention beside time retention)", () => {
        const userData = String(named(resources, "aws:ec2/instance:Instance", "monitoring-instance").inputs.userData);
        const mb = Number(/--storage\.tsdb\.retention\.size=(\d+)MB/.exec(userData)?.[1]);
        const volumeMb = ofType(resources, "aws:ebs/volume:Volume")[0].inputs.size * 1024;
        expect(mb).to.be.greaterThan(volumeMb / 2).and.below(volumeMb * 0.9);
        expect(userData).to.match(/--storage\.tsdb\.retention\.time=\d+d/);
    });

    it("exports each log group's configured retention for verify", () => {
        expect(stack.outputs.logRetentionDays).to.deep.equal({
            "/aws/ec2/prod/devsecops-app": 30,
            "/aws/ec2/prod/devsecops-app-host": 90,
            "/aws/ec2/prod/prometheus": 90,
            "/aws/ec2/prod/grafana": 90,
            "/aws/ec2/prod/monitoring-host": 90,
            "/aws/vpc/prod/network-flow-logs": 90,
            "/aws/cloudtrail/devsecops-stack-prod": 90,
            "aws-waf-logs-devsecops-stack-prod": 90,
        });
    });

    it("issue 13: each hosted deploy path (deploy.yml, Pulumi Deployments) registers nothing that waits on Grafana, and still ships the dashboard", async () => {
        const deployEnv = YAML.parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", "deploy.yml"), "utf8"))
            .jobs.up.steps.find((st: any) => String(st.uses ?? "").startsWith("pulumi/actions@")).env;
        const deploymentsEnv = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.deploy.yaml"), "utf8")).settings.operationContext.environmentVariables;
        for (const [where, env] of [["deploy.yml", deployEnv], ["Pulumi.prod.deploy.yaml", deploymentsEnv]] as const) {
            expect(env.GRAFANA_PROVISIONING, `${where} says which mechanism it can run`).to.equal("file");
            const { resources: r } = await withEnv({ GRAFANA_PROVISIONING: env.GRAFANA_PROVISIONING }, () => runStack());
            expect(r.filter((x) => x.type.startsWith("grafana:") || x.type.startsWith("pulumi:providers:grafana") || (x.type.startsWith("command:") && x.name.startsWith("grafana"))).map((x) => x.name), where).to.deep.equal([]);
            expect(Object.keys(shippedGrafanaFiles(r)), where).to.include("datasources/devsecops.yaml");
        }
        // A stack set to provider on that path stops before any resource, instead of waiting on Grafana.
        const refused = await withEnv({ GRAFANA_PROVISIONING: "file" }, () => runStack({ config: { grafanaProvisioning: "provider" } }).then(() => undefined, (e: Error) => e));
        expect(refused?.message).to.contain("grafanaProvisioning").and.contain("GRAFANA_PROVISIONING=file");
    });

    it("ships a threshold change through SSM without touching the instance", async () => {
        const changed = await runStack({ config: { alertErrorRatio: "0.02" } });
        const before = named(resources, "aws:ec2/instance:Instance", "monitoring-instance").inputs;
        const after = named(changed.resources, "aws:ec2/instance:Instance", "monitoring-instance").inputs;
        expect(after).to.deep.equal(before);
        const doc = (rs: RecordedResource[]) => named(rs, "aws:ssm/document:Document", "monitoring-config").inputs.content as string;
        expect(doc(changed.resources)).to.not.equal(doc(resources));
        const script = JSON.parse(doc(changed.resources)).mainSteps[0].inputs.runCommand.join("\n") as string;
        const rules = Buffer.from(/stage rules\/alert_rules\.yml '([^']+)'/.exec(script)![1], "base64").toString("utf8");
        expect(rules).to.contain("instance:http_request_error_ratio:rate5m > 0.02");
        const association = named(changed.resources, "aws:ssm/association:Association", "monitoring-config");
        expect(association.inputs.targets).to.deep.equal([{ key: "InstanceIds", values: ["monitoring-instance-id"] }]);
    });

    it("grants aps:RemoteWrite on exactly the configured workspace and renders remote_write", async () => {
        const arn = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-0123abcd-4567";
        const { resources: r } = await runStack({ config: { ampWorkspaceArn: arn } });
        const statements = JSON.parse(named(r, "aws:iam/rolePolicy:RolePolicy", "monitoring-monitoring").inputs.policy).Statement;
        expect(statements.find((s: any) => s.Action === "aps:RemoteWrite").Resource).to.equal(arn);
        const script = JSON.parse(named(r, "aws:ssm/document:Document", "monitoring-config").inputs.content).mainSteps[0].inputs.runCommand.join("\n");
        const prom = YAML.parse(Buffer.from(/stage prometheus\.yml '([^']+)'/.exec(script)![1], "base64").toString("utf8"));
        expect(prom.remote_write[0]).to.deep.equal({ url: "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123abcd-4567/api/v1/remote_write", sigv4: { region: "eu-west-1" } });
    });
});

/** A monitoring host as the stack renders it, for the user-data tests. */
const monitoringInput = {
    region: "eu-west-1",
    hostName: "devsecops-stack-prod-monitoring",
    dataVolumeId: "vol-0123456789abcdef0",
    prometheusRetentionDays: 15,
    prometheusVolumeGiB: 20,
    grafanaAdminSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/grafana-admin-password-AbCdEf",
    prometheusLogGroup: "/aws/ec2/prod/prometheus",
    grafanaLogGroup: "/aws/ec2/prod/grafana",
    platformLogGroup: "/aws/ec2/prod/monitoring-host",
    images: { prometheus: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/mirror/prometheus@sha256:${"01".repeat(32)}`, alertmanager: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/mirror/alertmanager@sha256:${"02".repeat(32)}`, grafana: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/mirror/grafana@sha256:${"03".repeat(32)}` },
};

describe("host user data and scripts pass cloud-init schema and shellcheck", function () {
    this.timeout(60_000);
    const appInput = {
        region: "eu-west-1",
        hostName: "devsecops-stack-prod-app",
        imageRef: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/devsecops-app@sha256:" + "ab".repeat(32),
        appVersion: "src-0123456789abcdef",
        secretArns: { APP_SESSION_KEY: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:devsecops-stack/prod/app-session-key-AbCdEf" },
        appLogGroup: "/aws/ec2/prod/devsecops-app",
        platformLogGroup: "/aws/ec2/prod/devsecops-app-host",
        nodeExporterImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/mirror/node-exporter@sha256:${"04".repeat(32)}`,
    };
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-userdata-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    for (const [label, render] of [
        ["app host", () => renderAppHostUserData(appInput)],
        ["monitoring host", () => renderMonitoringHostUserData(monitoringInput)],
    ] as const) {
        it(`${label}: a valid cloud-config whose script passes shellcheck`, () => {
            const userData = render();
            const file = path.join(dir, `${label.replace(" ", "-")}.yml`);
            fs.writeFileSync(file, userData);
            const schema = run("cloud-init", ["schema", "--config-file", file]);
            expect(schema.status, schema.out).to.equal(0);
            expect(schema.out).to.contain("Valid cloud-config");
            const doc = YAML.parse(userData);
            expect(doc.write_files[0].permissions).to.equal("0700");
            const check = run("shellcheck", ["--shell=bash", "-"], doc.write_files[0].content);
            expect(check.status, check.out).to.equal(0);
        });
    }

    it("the config-shipping script passes shellcheck", () => {
        const script = renderConfigShippingScript({
            prometheusYml: renderPrometheusConfig({ targets: { kind: "ec2", region: "eu-west-1", tagKey: "MonitoringTarget", tagValue: "x" } }),
            alertRulesYml: renderAlertRules(DEFAULT_ALERT_THRESHOLDS),
            recordingRulesYml: renderRecordingRules(),
            alertmanagerYml: renderAlertmanagerConfig({}),
            grafanaProvisioning: renderGrafanaProvisioningFiles(),
        });
        const check = run("shellcheck", ["--shell=bash", "-"], script);
        expect(check.status, check.out).to.equal(0);
    });

    describe("the config-shipping script, run with docker and curl stand-ins and the real promtool and amtool", () => {
        const shipped = (overrides: Partial<ShippedMonitoringConfig> = {}): ShippedMonitoringConfig => ({
            prometheusYml: renderPrometheusConfig({ targets: { kind: "ec2", region: "eu-west-1", tagKey: "MonitoringTarget", tagValue: "x" } }),
            alertRulesYml: renderAlertRules(DEFAULT_ALERT_THRESHOLDS),
            recordingRulesYml: renderRecordingRules(),
            alertmanagerYml: renderAlertmanagerConfig({ snsTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts", region: "eu-west-1" }),
            ...overrides,
        });
        let configDir: string;
        let bin: string;
        let log: string;
        beforeEach(() => {
            for (const tool of ["promtool", "amtool"]) run(tool, ["--version"]);
            configDir = fs.mkdtempSync(path.join(dir, "config-"));
            bin = fs.mkdtempSync(path.join(dir, "bin-"));
            log = path.join(bin, "calls.log");
            // docker: every container runs; `exec` runs the tool here with container paths mapped to configDir.
            fs.writeFileSync(path.join(bin, "docker"), `#!/bin/bash
if [ "$1" = inspect ]; then echo true; exit 0; fi
if [ "$1" = kill ] || [ "$1" = restart ]; then echo "$1 $*" >> "$CALLS"; exit 0; fi
[ "$1" = exec ] || exit 64
shift 2
args=()
for a in "$@"; do a="\${a//\\/etc\\/prometheus/$CONFIG_DIR}"; args+=("\${a//\\/etc\\/alertmanager/$CONFIG_DIR}"); done
echo "exec \${args[*]}" >> "$CALLS"
exec "\${args[@]}"
`, { mode: 0o755 });
            fs.writeFileSync(path.join(bin, "curl"), `#!/bin/bash\necho "curl $*" >> "$CALLS"\n`, { mode: 0o755 });
        });
        const ship = (files: ShippedMonitoringConfig) =>
            spawnSync("bash", ["-c", renderConfigShippingScript(files, configDir)], {
                encoding: "utf8",
                timeout: 60_000,
                env: { PATH: `${bin}:${process.env.PATH}`, CONFIG_DIR: configDir, CALLS: log },
            });
        const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "");

        it("validates, swaps in every file and reloads Prometheus and Alertmanager", () => {
            const files = shipped();
            const r = ship(files);
            expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
            expect(fs.readFileSync(path.join(configDir, "prometheus.yml"), "utf8")).to.equal(files.prometheusYml);
            expect(fs.readFileSync(path.join(configDir, "rules/alert_rules.yml"), "utf8")).to.equal(files.alertRulesYml);
            expect(fs.readFileSync(path.join(configDir, "rules/recording_rules.yml"), "utf8")).to.equal(files.recordingRulesYml);
            expect(fs.readFileSync(path.join(configDir, "alertmanager.yml"), "utf8")).to.equal(files.alertmanagerYml);
            expect(calls()).to.contain("promtool check rules").and.contain("amtool check-config");
            expect(calls()).to.contain("kill kill --signal SIGHUP prometheus").and.contain("kill kill --signal SIGHUP alertmanager");
        });

        it("leaves the running config alone and reloads nothing when a new file is invalid", () => {
            expect(ship(shipped()).status).to.equal(0);
            const good = fs.readFileSync(path.join(configDir, "rules/alert_rules.yml"), "utf8");
            fs.rmSync(log);
            const r = ship(shipped({ alertRulesYml: 'groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: "sum(("\n' }));
            expect(r.status, "the SSM run fails").to.not.equal(0);
            expect(fs.readFileSync(path.join(configDir, "rules/alert_rules.yml"), "utf8")).to.equal(good);
            expect(calls()).to.not.contain("SIGHUP");
        });
        it("grafanaProvisioning = file: writes Grafana's provisioning files, restarts Grafana only when a datasource changes", () => {
            const grafana = renderGrafanaProvisioningFiles();
            const r = ship(shipped({ grafanaProvisioning: grafana }));
            expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
            for (const [f, content] of Object.entries(grafana)) expect(fs.readFileSync(path.join(configDir, "grafana", f), "utf8"), f).to.equal(content);
            expect(calls()).to.contain("restart restart grafana");
            // The same files again (the association re-runs every 30 minutes): nothing restarts.
            fs.rmSync(log);
            expect(ship(shipped({ grafanaProvisioning: grafana })).status).to.equal(0);
            expect(calls()).to.not.contain("restart");
            // A dashboard-only change is rescanned by Grafana itself: no restart either.
            const dashboardFile = Object.keys(grafana).find((f) => f.endsWith(".json"))!;
            const changed = { ...grafana, [dashboardFile]: JSON.stringify({ ...JSON.parse(grafana[dashboardFile]), title: "changed" }) };
            expect(ship(shipped({ grafanaProvisioning: changed })).status).to.equal(0);
            expect(fs.readFileSync(path.join(configDir, "grafana", dashboardFile), "utf8")).to.contain('"title":"changed"');
            expect(calls()).to.not.contain("restart");
        });

        it("grafanaProvisioning = provider: empties Grafana's provisioning directory, so only the provider gives it a dashboard", () => {
            expect(ship(shipped({ grafanaProvisioning: renderGrafanaProvisioningFiles() })).status).to.equal(0);
            fs.rmSync(log);
            const r = ship(shipped());
            expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
            const left = fs.readdirSync(path.join(configDir, "grafana"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
            expect(left.map((e) => e.name)).to.deep.equal([]);
            expect(fs.readdirSync(path.join(configDir, "grafana")).sort()).to.deep.equal(["alerting", "dashboards", "datasources", "plugins"]);
            expect(calls()).to.contain("restart restart grafana");
        });
    });

    it("refuses values that could break out of the script", () => {
        expect(() => renderAppHostUserData({ ...appInput, region: "eu-west-1; rm -rf /" })).to.throw(/region = "eu-west-1; rm -rf \/"/);
        expect(() => renderAppHostUserData({ ...appInput, secretArns: { "bad name": "arn" } })).to.throw(/secret env name/);
    });

    it("fetches secrets at boot into a root-only env file, and never echoes them", () => {
        const script = YAML.parse(renderAppHostUserData(appInput)).write_files[0].content as string;
        expect(script).to.contain("umask 077");
        expect(script).to.contain("aws secretsmanager get-secret-value");
        expect(script).to.not.match(/set -x|echo "\$value"/);
    });
});

describe("the monitoring host's Prometheus flags, run with the real prometheus", function () {
    this.timeout(60_000);
    it("starts with the rendered flags (size and time retention), has no lifecycle API, and reloads its config on SIGHUP", async () => {
        const userData = renderMonitoringHostUserData(monitoringInput);
        const script = YAML.parse(userData.replace(/^#cloud-config\n/, "")).write_files.map((f: any) => f.content).join("\n");
        // The arguments after the image in `docker run … --name prometheus …`.
        const runLine = /docker run -d --name prometheus [\s\S]*?\n(?=\n)/.exec(script)![0].replace(/\\\n\s*/g, " ");
        const flags = runLine.split(/\s+/).filter((a) => a.startsWith("--") && /^--(config|storage|web)\./.test(a));
        expect(flags.some((f) => f.startsWith("--storage.tsdb.retention.size="))).to.equal(true);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prom-flags-"));
        const port = await freePort();
        const config = path.join(dir, "prometheus.yml");
        fs.writeFileSync(config, "global:\n  scrape_interval: 15s\n");
        const args = flags.map((f) => f.replace("/etc/prometheus/prometheus.yml", config).replace("=/prometheus", `=${path.join(dir, "data")}`));
        const prometheus = findBinary("prometheus");
        const child = spawn(prometheus, [...args, `--web.listen-address=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        child.stderr!.on("data", (d) => (err += d));
        const url = `http://127.0.0.1:${port}`;
        try {
            for (let i = 0; i < 100 && (await httpRequest(`${url}/-/ready`).then((r) => r.status, () => 0)) !== 200; i++) {
                if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${err}`);
                await new Promise((r) => setTimeout(r, 100));
            }
            const flagsSeen = JSON.parse((await httpRequest(`${url}/api/v1/status/flags`)).body).data;
            expect(flagsSeen["storage.tsdb.retention.size"]).to.match(/^\d+(\.\d+)?GiB$|^\d+MiB$|^\d+MB$/);
            expect(flagsSeen["web.enable-lifecycle"]).to.equal("false");
            for (const endpoint of ["/-/reload", "/-/quit"]) expect((await httpRequest(`${url}${endpoint}`, "POST")).status, endpoint).to.equal(403);
            fs.writeFileSync(config, "global:\n  scrape_interval: 7s\n");
            child.kill("SIGHUP");
            let reloaded = "";
            for (let i = 0; i < 50 && !reloaded.includes("scrape_interval: 7s"); i++) {
                await new Promise((r) => setTimeout(r, 100));
                reloaded = JSON.parse((await httpRequest(`${url}/api/v1/status/config`)).body).data.yaml;
            }
            expect(reloaded).to.contain("scrape_interval: 7s");
        } finally {
            child.kill("SIGKILL");
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
