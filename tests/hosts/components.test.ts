import { expect } from "chai";
import { spawn } from "node:child_process";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { HOST_IMAGES } from "../../components/cloudInit/hostImages";
import { unwrapSecrets } from "../../scripts/stackUnderMocks";

/**
 * The host components and the supply chain they run from (RegistryScanning, HostImageMirror),
 * composed with stand-ins for the foundation's outputs (no index.ts, no stack config), under mocks
 * of their own: proves the components on their own terms, and runs the local commands they
 * register for real.
 */

const PROJECT = "devsecops-stack";
const STACK = "hosts-test";
const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const ROOT = path.resolve(__dirname, "..", "..");
/** A recognisable stand-in for the vault's generated Grafana password. */
const GRAFANA_PASSWORD = "stand-in-grafana-password-Kx93!";
const ECR_TOKEN = "stand-in-ecr-token-77aa";
const DIGEST = "sha256:" + "ef".repeat(32);
const FOUNDATION = {
    vpcId: "vpc-0standin",
    publicSubnetId: "subnet-0public",
    privateSubnetId: "subnet-0private",
    alertTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:devsecops-stack-hosts-test-alerts`,
    alertTopicKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/alerts-key`,
    appSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:devsecops-stack/hosts-test/app-session-key-AbCdEf`,
    grafanaSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:devsecops-stack/hosts-test/grafana-admin-password-GhIjKl`,
};
/** Resource types AWS cannot tag. */
const UNTAGGABLE = new Set(["aws:iam/rolePolicy:RolePolicy", "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration", "aws:ec2/volumeAttachment:VolumeAttachment", "aws:autoscaling/policy:Policy"]);

interface Registered {
    type: string;
    name: string;
    urn: string;
    parent: string;
    custom: boolean;
    provider: string;
    dependencies: string[];
    rawInputs: Record<string, any>;
    inputs: Record<string, any>;
}

function mockState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
    const state: Record<string, any> = { name, ...inputs, arn: `arn:aws:${type.split(":")[1]?.split("/")[0]}:${REGION}:${ACCOUNT}:${name}` };
    switch (type) {
        case "aws:cloudwatch/logGroup:LogGroup":
            state.arn = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${inputs.name}`;
            break;
        case "aws:ecr/repository:Repository":
            state.registryId = ACCOUNT;
            state.repositoryUrl = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${inputs.name}`;
            state.arn = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${inputs.name}`;
            break;
        case "docker:index/image:Image":
            state.repoDigest = `${String(inputs.imageName).replace(/:[^/:]+$/, "")}@${DIGEST}`;
            break;
        case "aws:ec2/instance:Instance":
            state.privateIp = name.startsWith("app") ? "10.0.11.20" : "10.0.1.30";
            state.publicDns = name.startsWith("app") ? "" : `ec2-198-51-100-30.${REGION}.compute.amazonaws.com`;
            break;
        case "aws:ssm/document:Document":
            state.latestVersion = "1";
            break;
        case "aws:ssm/association:Association":
            state.associationId = `${name}-association`;
            break;
    }
    return state;
}

function mockCall(token: string, args: Record<string, any>): Record<string, any> {
    switch (token) {
        case "aws:index/getRegion:getRegion":
            return { region: REGION, name: REGION, id: REGION };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/standin`, userId: "AIDASTANDIN" };
        case "aws:ssm/getParameter:getParameter":
            return { ...args, value: "ami-0standin", type: "String" };
        case "aws:ec2/getSubnet:getSubnet":
            return { ...args, availabilityZone: `${REGION}a`, vpcId: FOUNDATION.vpcId };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return { userName: "AWS", password: ECR_TOKEN, authorizationToken: "c3RhbmRpbg==", proxyEndpoint: "https://standin", expiresAt: "2030-01-01T00:00:00Z", id: REGION };
        default:
            throw new Error(`unexpected call ${token}: add it to the stand-in mocks`);
    }
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

function waitForRegistrations(): Promise<void> {
    return (require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** Runs `sh -c <command>` as local.Command would, with the given environment. */
function runShell(commandLine: string, env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("sh", ["-c", commandLine], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env } });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, out });
        });
    });
}

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe("host components composed with stand-in foundation outputs", function () {
    this.timeout(90_000);
    const registered: Registered[] = [];
    let components: Record<string, any>;
    let hosts: { MonitoringHost: any; ObservedAppHost: any; GrafanaProvisioning: any; HostImageMirror: any; RegistryScanning: any };

    const byName = (type: string, name: string) => {
        const r = registered.find((x) => x.type === type && x.name === name);
        expect(r, `${type} ${name}`).to.not.equal(undefined);
        return r!;
    };
    const monitoringArgs = (overrides: Record<string, unknown> = {}) => ({
        vpcId: pulumi.output(FOUNDATION.vpcId),
        subnetId: pulumi.output(FOUNDATION.privateSubnetId),
        instanceType: "t3.medium",
        grafanaProvisioning: "file",
        alertTopicArn: pulumi.output(FOUNDATION.alertTopicArn),
        alertTopicKeyArn: pulumi.output(FOUNDATION.alertTopicKeyArn),
        grafanaAdminSecretArn: pulumi.output(FOUNDATION.grafanaSecretArn),
        grafanaReadPolicyJson: pulumi.output(JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: FOUNDATION.grafanaSecretArn }] })),
        thresholds: { errorRatio: 0.05, latencyP95Seconds: 0.5, cpuPercent: 80, memoryPercent: 85, diskFreePercent: 10 },
        prometheusRetentionDays: 15,
        prometheusVolumeGiB: 30,
        prometheusSnapshotsKept: 7,
        platformLogRetentionDays: 90,
        ...overrides,
    });
    const appArgs = (monitoringSecurityGroupId: pulumi.Input<string>, overrides: Record<string, unknown> = {}) => ({
        appName: "devsecops-app",
        appDirectory: path.join(ROOT, "app"),
        vpcId: pulumi.output(FOUNDATION.vpcId),
        subnetIds: [pulumi.output(FOUNDATION.privateSubnetId), pulumi.output("subnet-private-b")],
        instanceType: "t3.small",
        minHosts: 2,
        maxHosts: 4,
        targetCpuPercent: 60,
        monitoringSecurityGroupId,
        loadBalancerSecurityGroupId: pulumi.output("lb-sg-id"),
        targetGroupArn: pulumi.output(`arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/app/0123`),
        rollbackAlarmNames: [pulumi.output("front-door-unhealthy-hosts")],
        secretArns: { "app-session-key": pulumi.output(FOUNDATION.appSecretArn) },
        secretsReadPolicyJson: pulumi.output(JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: FOUNDATION.appSecretArn }] })),
        alertTopicArn: pulumi.output(FOUNDATION.alertTopicArn),
        appLogRetentionDays: 30,
        platformLogRetentionDays: 90,
        ecrKeepImages: 5,
        scanMaxCritical: 0,
        scanMaxHigh: 3,
        cpuAlarmPercent: 80,
        faultInjection: false,
        ...overrides,
    });

    before(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => ({ id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs) }),
                call: (args) => mockCall(args.token, args.inputs),
            },
            PROJECT,
            STACK,
            false,
        );
        // The mock API hides parents, providers and dependencies; the registration request carries them.
        const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): any }).getMonitor();
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) =>
            register(req, (err: unknown, resp: any) => {
                if (!err) {
                    registered.push({
                        type: req.getType(),
                        name: req.getName(),
                        urn: resp.getUrn(),
                        parent: req.getParent(),
                        custom: req.getCustom(),
                        provider: req.getProvider(),
                        dependencies: req.getDependenciesList(),
                        rawInputs: {},
                        inputs: {},
                    });
                }
                callback(err, resp);
            });
        const inputsByName = new Map<string, Record<string, any>>();
        const mocks = monitor.mocks;
        const newResource = mocks.newResource.bind(mocks);
        mocks.newResource = (args: pulumi.runtime.MockResourceArgs) => {
            const r = newResource(args);
            inputsByName.set(`${args.type}::${args.name}`, args.inputs);
            return r;
        };

        hosts = {
            MonitoringHost: require("../../components/monitoringHost").MonitoringHost,
            ObservedAppHost: require("../../components/observedAppHost").ObservedAppHost,
            GrafanaProvisioning: require("../../components/grafanaProvisioning").GrafanaProvisioning,
            HostImageMirror: require("../../components/hostImageMirror").HostImageMirror,
            RegistryScanning: require("../../components/registryScanning").RegistryScanning,
        };
        const scanning = new hosts.RegistryScanning("image-scanning", { mode: "enhanced", repositoryPrefix: `${PROJECT}-${STACK}` });
        const mirror = new hosts.HostImageMirror("host-images", { images: HOST_IMAGES, ecrKeepImages: 5, scanMaxCritical: 0, scanMaxHigh: 3, scanPrerequisites: scanning.ready });
        const monitoring = new hosts.MonitoringHost("monitoring", monitoringArgs({
            images: mirror.images,
            imageRepositoryArns: [mirror.repositoryArns.prometheus, mirror.repositoryArns.alertmanager, mirror.repositoryArns.grafana],
            imagesGate: mirror.scanGate,
        }));
        const app = new hosts.ObservedAppHost("app", appArgs(monitoring.securityGroupId, {
            nodeExporterImage: mirror.images.apply((i: Record<string, string>) => i.nodeExporter),
            nodeExporterRepositoryArn: mirror.repositoryArns.nodeExporter,
            nodeExporterGate: mirror.scanGate,
            scanPrerequisites: scanning.ready,
        }));
        const grafana = new hosts.GrafanaProvisioning("grafana", {
            grafanaUrl: "https://grafana.test.example.com",
            adminPassword: pulumi.secret(GRAFANA_PASSWORD),
            healthTimeoutSeconds: 2,
        });
        components = { monitoring, app, grafana, mirror, scanning };
        await waitForRegistrations();
        for (const r of registered) {
            r.rawInputs = inputsByName.get(`${r.type}::${r.name}`) ?? {};
            r.inputs = unwrapSecrets(r.rawInputs);
        }
    });

    it("registers every resource inside one of the components, each with its type token", () => {
        const roots = registered.filter((r) => r.type.startsWith("devsecops:"));
        expect(roots.map((r) => r.type).sort()).to.deep.equal([
            "devsecops:grafana:GrafanaProvisioning",
            "devsecops:hosts:MonitoringHost",
            "devsecops:hosts:ObservedAppHost",
            "devsecops:supplychain:HostImageMirror",
            "devsecops:supplychain:RegistryScanning",
        ]);
        const rootUrns = new Set(roots.map((r) => r.urn));
        const custom = registered.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
        expect(custom.length).to.be.greaterThan(25);
        for (const r of custom) expect(rootUrns.has(r.parent), `${r.type} ${r.name} parent ${r.parent}`).to.equal(true);
    });

    it("tags every taggable AWS resource with the standard tags", () => {
        const aws = registered.filter((r) => r.custom && r.type.startsWith("aws:"));
        for (const r of aws.filter((x) => !UNTAGGABLE.has(x.type))) {
            // An Auto Scaling group's tags are a list of { key, value, propagateAtLaunch }.
            const tags = Array.isArray(r.inputs.tags) ? Object.fromEntries(r.inputs.tags.map((t: any) => [t.key, t.value])) : r.inputs.tags;
            expect(tags, `${r.type} ${r.name}`).to.include({ Project: PROJECT, Stack: STACK, ManagedBy: "pulumi" });
            expect(tags.Component, `${r.type} ${r.name}`).to.be.a("string").and.not.equal("");
        }
    });

    it("the shipped prometheus.yml discovers the app host and only it (Grafana's :3000 is not the app)", () => {
        const doc = JSON.parse(byName("aws:ssm/document:Document", "monitoring-config").inputs.content);
        const script = doc.mainSteps[0].inputs.runCommand.join("\n") as string;
        const prom = YAML.parse(Buffer.from(/stage prometheus\.yml '([^']+)'/.exec(script)![1], "base64").toString("utf8"));
        // What the group's hosts carry: the tags the group propagates at launch.
        const appTags = Object.fromEntries(
            (byName("aws:autoscaling/group:Group", "app-hosts").inputs.tags as { key: string; value: string; propagateAtLaunch: boolean }[])
                .filter((t) => t.propagateAtLaunch)
                .map((t) => [t.key, t.value]),
        );
        const monitoringTags = byName("aws:ec2/instance:Instance", "monitoring-instance").inputs.tags as Record<string, string>;
        const matches = (tags: Record<string, string>, filters: { name: string; values: string[] }[]) =>
            filters.filter((f) => f.name.startsWith("tag:")).every((f) => f.values.includes(tags[f.name.slice(4)]));
        // AWS caps a Command document's content at 64 KB.
        expect(byName("aws:ssm/document:Document", "monitoring-config").inputs.content.length).to.be.lessThan(64 * 1024);
        const ec2Jobs = prom.scrape_configs.filter((j: any) => j.ec2_sd_configs);
        expect(ec2Jobs.map((j: any) => [j.job_name, j.ec2_sd_configs[0].port])).to.deep.equal([["app", 3000], ["node", 9100]]);
        for (const job of ec2Jobs) {
            const sd = job.ec2_sd_configs[0];
            expect(sd.region).to.equal(REGION);
            expect(sd.filters.some((f: any) => f.name.startsWith("tag:")), `${job.job_name} filters by tag`).to.equal(true);
            expect(matches(appTags, sd.filters), `${job.job_name} finds the app host`).to.equal(true);
            expect(matches(monitoringTags, sd.filters), `${job.job_name} skips the monitoring host`).to.equal(false);
        }
    });

    it("keeps the Grafana password out of every input except the provider's secret auth", () => {
        const provider = registered.find((r) => r.type === "pulumi:providers:grafana")!;
        expect(provider.rawInputs.auth, "auth is wrapped as a secret").to.have.property(pulumi.runtime.specialSigKey, pulumi.runtime.specialSecretSig);
        expect(provider.inputs.auth).to.equal(`admin:${GRAFANA_PASSWORD}`);
        const others = registered.filter((r) => r !== provider);
        expect(others.length).to.be.greaterThan(25);
        for (const r of others) {
            const text = JSON.stringify(r.inputs);
            expect(text, `${r.type} ${r.name}`).to.not.contain(GRAFANA_PASSWORD);
            if (r.type !== "docker:index/image:Image") expect(text, `${r.type} ${r.name}`).to.not.contain(ECR_TOKEN);
        }
        const image = byName("docker:index/image:Image", "app-image");
        expect(image.rawInputs.registry, "registry credentials are a secret").to.have.property(pulumi.runtime.specialSigKey, pulumi.runtime.specialSecretSig);
    });

    it("gives the lead's outputs: the group, operator URLs on the monitoring host, repository, digest, ids", async () => {
        const { app, monitoring } = components;
        expect(await value(app.autoScalingGroupName)).to.equal("app-hosts");
        expect(await value(app.repositoryUrl)).to.equal(`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/devsecops-stack-hosts-test/devsecops-app`);
        expect(await value(app.imageDigest)).to.match(new RegExp(`devsecops-app@${DIGEST}$`));
        expect(await value(app.securityGroupId)).to.equal("app-sg-id");
        expect(await value(monitoring.instanceId)).to.equal("monitoring-instance-id");
        expect(await value(monitoring.securityGroupId)).to.equal("monitoring-sg-id");
        const provider = registered.find((r) => r.type === "pulumi:providers:grafana")!;
        expect(provider.inputs.url).to.equal("https://grafana.test.example.com");
    });

    it("gives the monitoring host no ingress of its own; the app's only from the load balancer's and the monitoring SG", () => {
        const sg = byName("aws:ec2/securityGroup:SecurityGroup", "monitoring-sg");
        expect(sg.inputs.ingress ?? []).to.deep.equal([]);
        expect(byName("aws:ec2/instance:Instance", "monitoring-instance").inputs.associatePublicIpAddress).to.equal(false);
        const appRules = registered.filter((r) => r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
        expect(appRules.map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId, r.inputs.cidrIpv4])).to.deep.equal([
            [3000, "lb-sg-id", undefined],
            [3000, "monitoring-sg-id", undefined],
            [9100, "monitoring-sg-id", undefined],
        ]);
        const egress = registered.filter((r) => r.type === "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule");
        expect(egress.map((r) => [r.inputs.securityGroupId, r.inputs.ipProtocol, r.inputs.fromPort, r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4])).to.have.deep.members([
            ["monitoring-sg-id", "-1", undefined, "0.0.0.0/0"],
            ["lb-sg-id", "tcp", 3000, "app-sg-id"],
        ]);
        // Only separate rule resources on the monitoring group: never in-line beside them (the provider's warning).
        expect(sg.inputs.egress ?? []).to.deep.equal([]);
    });

    describe("the supply chain: every host image copied into the stack's ECR and gated (issue 14)", () => {
        const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
        const mirrors = () => registered.filter((r) => r.type === "docker:index/image:Image" && r.name.startsWith("host-images-"));

        it("copies each pinned upstream image, by its digest, into its own immutable, scanned, KMS-encrypted repository", () => {
            const names = { nodeExporter: "node-exporter", prometheus: "prometheus", alertmanager: "alertmanager", grafana: "grafana" };
            for (const [key, repo] of Object.entries(names)) {
                const upstream = HOST_IMAGES[key as keyof typeof HOST_IMAGES];
                const [, tag, digest] = /:([^:@]+)@(sha256:[0-9a-f]+)$/.exec(upstream)!;
                const repository = byName("aws:ecr/repository:Repository", `host-images-${repo}`);
                expect(repository.inputs).to.deep.include({ name: `${PROJECT}-${STACK}/mirror/${repo}`, imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } });
                expect(repository.inputs.encryptionConfigurations).to.deep.equal([{ encryptionType: "KMS" }]);
                const image = byName("docker:index/image:Image", `host-images-${repo}`);
                expect(image.inputs.build.args).to.deep.equal({ SOURCE_IMAGE: upstream.replace(`:${tag}@`, "@") });
                expect(image.inputs.imageName).to.equal(`${REGISTRY}/${PROJECT}-${STACK}/mirror/${repo}:${tag}-${digest.slice(7, 19)}`);
            }
            expect(mirrors()).to.have.length(4);
        });

        it("under ecrScanning: enhanced, sets the registry to Inspector scanning for this stack's repositories before any push", () => {
            const config = byName("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration", "image-scanning-enhanced");
            expect(config.inputs).to.deep.equal({ scanType: "ENHANCED", rules: [{ scanFrequency: "CONTINUOUS_SCAN", repositoryFilters: [{ filter: `${PROJECT}-${STACK}/*`, filterType: "WILDCARD" }] }] });
            for (const image of [...mirrors(), byName("docker:index/image:Image", "app-image")]) expect(image.dependencies, image.name).to.include(config.urn);
        });

        it("one gate judges all four copies; each host waits for it and pulls only its copies, by digest, granted on exactly those repositories", async () => {
            const gate = byName("command:local:Command", "host-images-scan-gate");
            const judged = JSON.parse(gate.inputs.environment.IMAGES);
            expect(Object.keys(judged).sort()).to.deep.equal(["alertmanager", "grafana", "nodeExporter", "prometheus"]);
            const monitoring = byName("aws:ec2/instance:Instance", "monitoring-instance");
            const template = byName("aws:ec2/launchTemplate:LaunchTemplate", "app-hosts");
            expect(monitoring.dependencies).to.include(gate.urn);
            expect(template.dependencies).to.include(gate.urn);
            const monitoringScript = String(monitoring.inputs.userData);
            const appScript = Buffer.from(template.inputs.userData, "base64").toString("utf8");
            for (const name of ["prometheus", "alertmanager", "grafana"]) expect(monitoringScript).to.contain(`'${judged[name]}'`);
            expect(appScript).to.contain(`'${judged.nodeExporter}'`);
            for (const script of [monitoringScript, appScript]) {
                expect(script).to.not.match(/docker\.io|quay\.io/);
                expect(script).to.contain(`docker login --username AWS --password-stdin '${REGISTRY}'`);
            }
            const pulls = (policy: string) => JSON.parse(policy).Statement.find((s: any) => s.Sid === "PullOwnRepositories").Resource;
            const arn = (repo: string) => `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${PROJECT}-${STACK}/${repo}`;
            expect(pulls(byName("aws:iam/rolePolicy:RolePolicy", "monitoring-monitoring").inputs.policy)).to.deep.equal(["prometheus", "alertmanager", "grafana"].map((r) => arn(`mirror/${r}`)));
            expect(pulls(byName("aws:iam/rolePolicy:RolePolicy", "app-pull-and-log").inputs.policy)).to.deep.equal([arn("devsecops-app"), arn("mirror/node-exporter")]);
        });

        it("the mirror's gate, run as local.Command runs it, reports each image with its counts and refuses the one over the limit", async () => {
            const gate = byName("command:local:Command", "host-images-scan-gate");
            const counts: Record<string, Record<string, number>> = { [`${PROJECT}-${STACK}/mirror/grafana`]: { CRITICAL: 1 } };
            const ecr = await serve((req, res) => {
                let body = "";
                req.on("data", (d) => (body += d));
                req.on("end", () => {
                    res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
                    res.end(JSON.stringify({ imageScanStatus: { status: "ACTIVE" }, imageScanFindings: { findingSeverityCounts: counts[JSON.parse(body).repositoryName] ?? { LOW: 2 } } }));
                });
            });
            const env = { ...gate.inputs.environment, AWS_ENDPOINT_URL_ECR: ecr.url, AWS_ACCESS_KEY_ID: "AKIASTANDIN", AWS_SECRET_ACCESS_KEY: "stand-in", AWS_EC2_METADATA_DISABLED: "true" };
            try {
                const run = await runShell(gate.inputs.create, env);
                expect(run.code, run.out).to.equal(1);
                for (const name of ["alertmanager", "nodeExporter", "prometheus"]) expect(run.out).to.match(new RegExp(`${name} \\S+/mirror/\\S+: \\{"LOW":2\\} accepted`));
                expect(run.out).to.contain("3 of 4 images accepted; refused: grafana (1 CRITICAL findings exceed scanMaxCritical=0)");
                delete counts[`${PROJECT}-${STACK}/mirror/grafana`];
                const clean = await runShell(gate.inputs.create, env);
                expect(clean.code, clean.out).to.equal(0);
                expect(clean.out).to.contain("scan gate: all 4 images accepted");
            } finally {
                await ecr.close();
            }
        });

        it("each gate runs on the program's runtime dependencies only (nothing from devDependencies), with the gate resolved as a module", () => {
            const pkg = JSON.parse(require("node:fs").readFileSync(path.join(ROOT, "package.json"), "utf8"));
            for (const name of ["app-scan-gate", "host-images-scan-gate"]) {
                const create: string = byName("command:local:Command", name).inputs.create;
                const [, preload, script] = /^node -r (\S+) "(.+)"$/.exec(create)!;
                const gateSource = require("node:fs").readFileSync(script, "utf8") as string;
                const packages = [preload, ...[...gateSource.matchAll(/from "([^".][^"]*)"/g)].map((m) => m[1])].map((m) => (m.startsWith("@") ? m.split("/").slice(0, 2) : m.split("/").slice(0, 1)).join("/"));
                for (const p of new Set(packages)) {
                    if (p.startsWith("node:")) continue;
                    expect(pkg.dependencies, `${name} needs ${p} at deploy time`).to.have.property(p);
                }
            }
        });

        it("rejects a host image without a tag and digest, a bad name, and an unknown ecrScanning, before registering anything", () => {
            const before = registered.length;
            const mirror = (images: Record<string, string>) => () => new hosts.HostImageMirror("bad-mirror", { images, ecrKeepImages: 5, scanMaxCritical: 0, scanMaxHigh: -1 });
            expect(mirror({ grafana: "docker.io/grafana/grafana:13.2.3" })).to.throw('images.grafana = "docker.io/grafana/grafana:13.2.3": an image pinned by tag and digest');
            expect(mirror({ grafana: `docker.io/grafana/grafana@${DIGEST}` })).to.throw("an image pinned by tag and digest");
            expect(mirror({ "Bad Name": HOST_IMAGES.grafana })).to.throw('images key "Bad Name"');
            expect(() => new hosts.RegistryScanning("bad-scanning", { mode: "inspector", repositoryPrefix: "p" })).to.throw('ecrScanning = "inspector": one of enhanced, basic');
            expect(registered.length).to.equal(before);
        });
    });

    it("rejects bad arguments before registering anything, naming the setting, the value and what is allowed", () => {
        const before = registered.length;
        expect(() => new hosts.MonitoringHost("bad-monitoring", monitoringArgs({ grafanaProvisioning: "api" }))).to.throw('grafanaProvisioning = "api": provider or file');
        const { GrafanaRoute } = require("../../components/grafanaRoute");
        const route = (overrides: Record<string, unknown>) => () =>
            new GrafanaRoute("bad-route", { hostName: "grafana.test.example.com", sourceCidrs: ["203.0.113.0/24"], port: 3000, ...overrides });
        expect(route({ sourceCidrs: ["0.0.0.0/0"] })).to.throw("the whole internet is not an operator network");
        expect(route({ sourceCidrs: [] })).to.throw("sourceCidrs = []: from 1 to 60 operator CIDRs");
        expect(route({ hostName: "Grafana" })).to.throw('hostName = "Grafana": a DNS name');
        expect(() => new hosts.ObservedAppHost("bad-app", appArgs("sg-x", { scanMaxHigh: -2 }))).to.throw(
            "scanMaxHigh = -2: a whole number of HIGH findings allowed, or -1 for HIGH not gating",
        );
        expect(() => new hosts.ObservedAppHost("bad-app", appArgs("sg-x", { appName: "My App" }))).to.throw('appName = "My App"');
        expect(() => new hosts.ObservedAppHost("bad-app", appArgs("sg-x", { minHosts: 2, maxHosts: 2 }))).to.throw("maxHosts = 2: a whole number above minHosts (2)");
        expect(() => new hosts.GrafanaProvisioning("bad-grafana", { grafanaUrl: "http://x:3000", adminPassword: "p", healthTimeoutSeconds: 0 })).to.throw(
            "healthTimeoutSeconds = 0: a whole number of seconds, at least 1",
        );
        expect(registered.length).to.equal(before);
    });

    describe("the registered local commands, run as local.Command would run them", () => {
        it("scan gate: passes a scan under the limits and fails one over them, asking ECR about the pushed digest", async () => {
            const gate = byName("command:local:Command", "app-scan-gate");
            const requests: any[] = [];
            let counts: Record<string, number> = {};
            const ecr = await serve((req, res) => {
                let body = "";
                req.on("data", (d) => (body += d));
                req.on("end", () => {
                    requests.push({ target: req.headers["x-amz-target"], body: JSON.parse(body) });
                    res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
                    res.end(JSON.stringify({ imageScanStatus: { status: "COMPLETE" }, imageScanFindings: { findingSeverityCounts: counts } }));
                });
            });
            const env = { ...gate.inputs.environment, AWS_ENDPOINT_URL_ECR: ecr.url, AWS_ACCESS_KEY_ID: "AKIASTANDIN", AWS_SECRET_ACCESS_KEY: "stand-in", AWS_EC2_METADATA_DISABLED: "true" };
            try {
                counts = { HIGH: 3, MEDIUM: 9 };
                const pass = await runShell(gate.inputs.create, env);
                expect(pass.code, pass.out).to.equal(0);
                expect(pass.out).to.contain('"HIGH":3').and.contain("accepted");
                counts = { CRITICAL: 1 };
                const fail = await runShell(gate.inputs.create, env);
                expect(fail.code, fail.out).to.equal(1);
                expect(fail.out).to.contain("1 CRITICAL findings exceed scanMaxCritical=0");
                counts = { HIGH: 4 };
                const high = await runShell(gate.inputs.create, env);
                expect(high.code, high.out).to.equal(1);
                expect(high.out).to.contain("4 HIGH findings exceed scanMaxHigh=3");
            } finally {
                await ecr.close();
            }
            expect(requests[0].target).to.equal("AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings");
            expect(requests[0].body).to.deep.equal({ repositoryName: "devsecops-stack-hosts-test/devsecops-app", imageId: { imageDigest: DIGEST } });
        });

        it("Grafana health wait: exits 0 once /api/health answers, and non-zero within its bound when it never does", async () => {
            const wait = byName("command:local:Command", "grafana-health-wait");
            let healthy = true;
            const grafana = await serve((req, res) => {
                res.writeHead(req.url === "/api/health" && healthy ? 200 : 503);
                res.end("{}");
            });
            try {
                const env = (url: string) => ({ ...wait.inputs.environment, GRAFANA_URL: url });
                const ok = await runShell(wait.inputs.create, env(grafana.url + "/"));
                expect(ok.code, ok.out).to.equal(0);
                expect(ok.out).to.contain(`grafana healthy: ${grafana.url}/api/health`);
                healthy = false;
                const started = Date.now();
                const down = await runShell(wait.inputs.create, env(grafana.url), 30_000);
                expect(down.code, down.out).to.equal(1);
                expect(down.out).to.contain(`grafana not healthy at ${grafana.url}/api/health after 2 s`);
                expect(Date.now() - started).to.be.lessThan(20_000);
            } finally {
                await grafana.close();
            }
        });
    });
});
