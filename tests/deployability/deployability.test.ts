import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { checkDeployability, DeployabilityFinding, StackResource } from "../../deployability";
import { checkBootPermissions, requiredActions } from "../../deployability/bootPermissions";
import { checkBootPrerequisites } from "../../deployability/bootPrerequisites";
import { checkGatedImages } from "../../deployability/gatedImages";
import { checkListenerRules } from "../../deployability/listenerRules";
import { checkPrivateEndpoints } from "../../deployability/privateEndpoints";
import { checkReplacementSafety } from "../../deployability/replacementSafety";
import { checkSecurityGroupRules } from "../../deployability/securityGroupRules";
import { checkTrustConditions } from "../../deployability/trustConditions";
import { hostViews } from "../../deployability/hostRoles";
import { renderAppHostUserData } from "../../components/cloudInit/appHostUserData";
import { monitoringHostPolicy } from "../../components/iam/hostPolicies";
import { serviceTrustPolicy } from "../../components/policyDocument";
import { SECRET_RECOVERY_WINDOW_DAYS } from "../../components/secretsVault";
import { ofType, RecordedResource, runStack, StackRun } from "../../scripts/stackUnderMocks";

/** The engine's default resource options: replacements create first. */
const CREATE_FIRST: StackResource["options"] = { deleteBeforeReplace: false, ignoreChanges: [], replaceOnChanges: [], retainOnDelete: false, protect: false };

/** A registered resource as the recorder gives it, for the seeded cases. */
function resource(type: string, name: string, inputs: Record<string, any>, extra: Partial<StackResource> = {}): StackResource {
    return {
        type,
        name,
        urn: `urn:pulumi:prod::devsecops-stack::${type}::${name}`,
        id: `${name}-id`,
        inputs,
        dependencies: [],
        options: CREATE_FIRST,
        state: { name: inputs.name ?? name, arn: `arn:aws:mock:::${name}`, ...inputs },
        ...extra,
    };
}

function role(name: string, trust: string): StackResource {
    return resource("aws:iam/role:Role", name, { assumeRolePolicy: trust });
}

const messages = (findings: DeployabilityFinding[]) => findings.map((f) => `${f.resource}: ${f.message}`);

function clone(run: StackRun): RecordedResource[] {
    return JSON.parse(JSON.stringify(run.resources));
}

/** Every host (instance or launch template) with its user data decoded, as the checks read them. */
function hostsOf(resources: RecordedResource[]): { resource: StackResource; userData: string }[] {
    return hostViews(resources).map((v) => ({ resource: v.host, userData: v.bootTexts[0] ?? "" }));
}

function named(resources: RecordedResource[], type: string, name: string): RecordedResource {
    const found = resources.find((r) => r.type === type && r.name === name);
    if (!found) throw new Error(`no ${type} ${name}`);
    return found;
}

describe("deployability checks", function () {
    this.timeout(120_000);

    describe("trust conditions (the keys each service documents for role trust)", () => {
        it("rejects aws:SourceAccount on the EC2 instance role and the CloudTrail logs role (the shipped defects)", () => {
            const findings = checkTrustConditions([
                role("app-role", serviceTrustPolicy("ec2.amazonaws.com", "123456789012")),
                role("trail-logs", serviceTrustPolicy("cloudtrail.amazonaws.com", "123456789012")),
            ]);
            expect(findings.map((f) => f.resource)).to.have.members(["aws:iam/role:Role::app-role", "aws:iam/role:Role::trail-logs"]);
            expect(findings[0].message).to.match(/aws:SourceAccount/).and.match(/IAM User Guide/);
        });

        it("accepts the documented forms: no condition for EC2 and CloudTrail, aws:SourceAccount for Flow Logs and Config", () => {
            expect(
                checkTrustConditions([
                    role("ec2", serviceTrustPolicy("ec2.amazonaws.com")),
                    role("trail", serviceTrustPolicy("cloudtrail.amazonaws.com")),
                    role("flow", serviceTrustPolicy("vpc-flow-logs.amazonaws.com", "123456789012")),
                    role("config", serviceTrustPolicy("config.amazonaws.com", "123456789012")),
                ]),
            ).to.deep.equal([]);
        });

        it("asks for a documented entry before a new service principal ships", () => {
            const findings = checkTrustConditions([role("lambda", serviceTrustPolicy("lambda.amazonaws.com"))]);
            expect(messages(findings).join("\n")).to.match(/lambda\.amazonaws\.com has no entry/);
        });
    });

    describe("replacement safety (what cannot exist twice replaces delete-first)", () => {
        it("flags a fixed-name log group, repository and a volume attachment that replace create-first", () => {
            const findings = checkReplacementSafety([
                resource("aws:cloudwatch/logGroup:LogGroup", "logs", { name: "/aws/ec2/prod/prometheus" }),
                resource("aws:ecr/repository:Repository", "repo", { name: "devsecops-stack-prod/app" }),
                resource("aws:ec2/volumeAttachment:VolumeAttachment", "data", { volumeId: "v", instanceId: "i" }),
            ]);
            expect(findings).to.have.length(3);
            expect(messages(findings).join("\n")).to.match(/AlreadyExists/).and.match(/VolumeInUse/);
        });

        it("accepts delete-first replacement, Pulumi-generated names, and exempts secrets (recovery window)", () => {
            expect(
                checkReplacementSafety([
                    resource("aws:cloudwatch/logGroup:LogGroup", "a", { name: "/fixed" }, { options: { ...CREATE_FIRST, deleteBeforeReplace: true } }),
                    resource("aws:cloudwatch/logGroup:LogGroup", "b", {}),
                    resource("aws:s3/bucket:Bucket", "c", { bucketPrefix: "audit-" }),
                    resource("aws:secretsmanager/secret:Secret", "d", { name: "devsecops-stack/prod/x" }),
                ]),
            ).to.deep.equal([]);
        });
    });

    describe("boot prerequisites (an instance waits for its role's policies and the secret versions it reads)", () => {
        const secret = resource("aws:secretsmanager/secret:Secret", "s", { name: "x" });
        const version = resource("aws:secretsmanager/secretVersion:SecretVersion", "s", { secretId: secret.state.arn });
        const r = resource("aws:iam/role:Role", "host-role", { assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com") });
        const profile = resource("aws:iam/instanceProfile:InstanceProfile", "host-profile", { role: r.state.name });
        const policy = resource("aws:iam/rolePolicy:RolePolicy", "host-read", { role: r.id, policy: "{}" });
        const instance = (dependencies: string[]) =>
            resource("aws:ec2/instance:Instance", "host", {
                iamInstanceProfile: profile.state.name,
                userData: `aws secretsmanager get-secret-value --secret-id '${secret.state.arn}'`,
            }, { dependencies });

        it("flags an instance that depends on the secret but not on its version or its role policy (the shipped defect)", () => {
            const findings = checkBootPrerequisites([secret, version, r, profile, policy, instance([secret.urn, profile.urn])]);
            expect(messages(findings).join("\n")).to.match(/host-read/).and.match(/secret's version/);
        });

        it("accepts an instance that waits for both, directly or through what it depends on", () => {
            const gate = resource("command:local:Command", "gate", {}, { dependencies: [version.urn] });
            expect(checkBootPrerequisites([secret, version, r, profile, policy, gate, instance([policy.urn, gate.urn, profile.urn])])).to.deep.equal([]);
        });
    });

    describe("boot permissions (derived from the rendered scripts)", () => {
        it("reads AWS CLI calls and credentialed processes off the app host's real user data", () => {
            const script = renderAppHostUserData({
                region: "eu-west-1",
                hostName: "devsecops-stack-prod-app",
                imageRef: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:${"ab".repeat(32)}`,
                appVersion: "v1",
                secretArns: { APP_SESSION_KEY: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf" },
                appLogGroup: "/aws/ec2/prod/app",
                platformLogGroup: "/aws/ec2/prod/app-host",
                faultInjection: false,
                nodeExporterImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/devsecops-stack-prod/mirror/node-exporter@sha256:${"04".repeat(32)}`,
            });
            expect([...requiredActions([script]).keys()]).to.include.members([
                "ecr:GetAuthorizationToken",
                "secretsmanager:GetSecretValue",
                "logs:PutLogEvents",
                "ecr:BatchGetImage",
            ]);
        });

        it("flags Prometheus EC2 discovery without ec2:DescribeAvailabilityZones (the shipped defect)", () => {
            const policy = JSON.parse(monitoringHostPolicy({ logGroupArns: ["arn:l"], alertTopicArn: "arn:t", alertTopicKeyArn: "arn:k", imageRepositoryArns: ["arn:r"] }));
            for (const s of policy.Statement) if (Array.isArray(s.Action)) s.Action = s.Action.filter((a: string) => a !== "ec2:DescribeAvailabilityZones");
            const r = resource("aws:iam/role:Role", "mon-role", { assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com") });
            const findings = checkBootPermissions([
                r,
                resource("aws:iam/instanceProfile:InstanceProfile", "mon-profile", { role: r.state.name }),
                resource("aws:iam/rolePolicy:RolePolicy", "mon", { role: r.id, policy: JSON.stringify(policy) }),
                resource("aws:ec2/instance:Instance", "mon", {
                    iamInstanceProfile: "mon-profile",
                    userData: Buffer.from("scrape_configs:\n  - job_name: app\n    ec2_sd_configs:\n      - region: eu-west-1\n").toString("base64"),
                }),
            ]);
            expect(messages(findings)).to.have.length(1);
            expect(findings[0].message).to.match(/ec2:DescribeAvailabilityZones/).and.match(/Prometheus EC2 service discovery/);
        });
    });

    describe("listener rules (ELB's condition limits and one priority per rule)", () => {
        const rule = (name: string, priority: number, conditions: object[]) => ({
            type: "aws:lb/listenerRule:ListenerRule", name, urn: `urn:${name}`, id: `${name}-id`, dependencies: [], options: {}, state: {},
            inputs: { listenerArn: "arn:listener", priority, conditions },
        });
        it("flags four path patterns in one condition (the shipped front door's internal-paths rule), six values in a rule, two host conditions, a shared priority", () => {
            const findings = checkListenerRules([
                rule("paths", 10, [{ pathPattern: { values: ["/metrics", "/metrics/*", "/fault", "/fault/*"] } }]),
                rule("many", 11, [{ hostHeader: { values: ["a.example.com", "b.example.com", "c.example.com"] } }, { sourceIp: { values: ["198.51.100.0/24", "198.51.101.0/24", "198.51.102.0/24"] } }]),
                rule("hosts", 12, [{ hostHeader: { values: ["a.example.com"] } }, { hostHeader: { values: ["b.example.com"] } }]),
                rule("again", 12, [{ pathPattern: { values: ["/x"] } }]),
            ] as any);
            expect(findings.map((f) => `${f.resource.split("::")[1]}: ${f.message}`)).to.deep.equal([
                "paths: a pathPattern condition with 4 values: at most 3 per condition (split it into several rules)",
                "many: 6 match evaluations: at most 5 per rule",
                "hosts: 2 hostHeader conditions: at most one per rule",
                "again: priority 12 is also hosts's on the same listener (PriorityInUse)",
            ]);
        });
        it("accepts a host header with three source CIDRs (Grafana's operator rule)", () => {
            expect(checkListenerRules([rule("ok", 20, [{ hostHeader: { values: ["grafana.example.com"] } }, { sourceIp: { values: ["198.51.100.0/24", "198.51.101.0/24", "2001:db8::/48"] } }])] as any)).to.deep.equal([]);
        });
    });

    describe("security group rules (one style per direction: in-line rules revoke separate ones)", () => {
        const group = (name: string, inline: Record<string, unknown>) => resource("aws:ec2/securityGroup:SecurityGroup", name, { vpcId: "vpc-1", ...inline });
        const rule = (type: string, name: string, groupName: string, extra: Record<string, unknown> = {}) =>
            resource(type, name, { securityGroupId: `${groupName}-id`, ipProtocol: "tcp", fromPort: 443, toPort: 443, ...extra });
        it("flags a separate rule beside in-line rules of its direction, an explicit empty list included, and the legacy rule resource", () => {
            const findings = checkSecurityGroupRules([
                group("inline-egress", { egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] }),
                group("no-ingress", { ingress: [] }),
                rule("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "extra-egress", "inline-egress"),
                rule("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "extra-ingress", "no-ingress"),
                rule("aws:ec2/securityGroupRule:SecurityGroupRule", "legacy", "inline-egress", { type: "egress" }),
            ]);
            expect(findings.map((f) => `${f.resource.split("::")[1]}: ${f.message.split(":")[0]}`)).to.deep.equal([
                "extra-egress: a separate egress rule on inline-egress, whose egress rules are in-line",
                "extra-ingress: a separate ingress rule on no-ingress, whose ingress rules are in-line",
                "legacy: a separate egress rule on inline-egress, whose egress rules are in-line",
            ]);
        });
        it("accepts separate rules in the direction the group leaves to them (the app hosts: in-line egress, separate ingress)", () => {
            expect(checkSecurityGroupRules([
                group("app", { egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] }),
                rule("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "from-lb", "app"),
                rule("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "elsewhere", "other"),
            ])).to.deep.equal([]);
        });
    });

    describe("gated images (every image a host runs: the stack's ECR, by digest, judged by a gate it waits for)", () => {
        const REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        const MIRRORED = `${REGISTRY}/devsecops-stack-prod/mirror/prometheus@sha256:${"01".repeat(32)}`;
        const repository = resource("aws:ecr/repository:Repository", "mirror-prometheus", { name: "devsecops-stack-prod/mirror/prometheus" });
        const gate = resource("command:local:Command", "mirror-scan-gate", { environment: { IMAGES: JSON.stringify({ prometheus: MIRRORED }) } });
        const host = (script: string, dependencies: string[] = [gate.urn]) =>
            resource("aws:ec2/instance:Instance", "monitoring-instance", { userData: `#!/bin/bash\n${script}\n` }, { dependencies });

        it("flags a pull from a public registry (the shipped hosts ran Prometheus and node_exporter from quay.io and Docker Hub)", () => {
            const findings = checkGatedImages([repository, gate, host("docker run -d --name prometheus 'quay.io/prometheus/prometheus:v3.15.0@sha256:" + "ef".repeat(32) + "'")]);
            expect(messages(findings)).to.have.length(1);
            expect(findings[0].message).to.match(/^runs quay\.io\/prometheus\/prometheus:v3\.15\.0@sha256:[0-9a-f]{64} from a public registry/);
        });

        it("flags an ECR image by tag, one from a repository outside the stack, and one no gate the host waits for judged", () => {
            expect(messages(checkGatedImages([repository, gate, host(`docker run '${REGISTRY}/devsecops-stack-prod/mirror/prometheus:v3.15.0'`)]))).to.deep.equal([
                `aws:ec2/instance:Instance::monitoring-instance: runs ${REGISTRY}/devsecops-stack-prod/mirror/prometheus:v3.15.0 by tag: a re-pushed tag changes what runs; name it by digest`,
            ]);
            const foreign = `${REGISTRY}/someone-else/prometheus@sha256:${"01".repeat(32)}`;
            expect(messages(checkGatedImages([repository, gate, host(`docker run '${foreign}'`)])).join("\n")).to.contain("whose repository someone-else/prometheus is not one of this stack's").and.contain("without waiting for a scan gate that judged it");
            expect(messages(checkGatedImages([repository, gate, host(`docker run '${MIRRORED}'`, [])]))).to.deep.equal([
                `aws:ec2/instance:Instance::monitoring-instance: aws:ec2/instance:Instance::monitoring-instance starts hosts that run ${MIRRORED} without waiting for a scan gate that judged it: add the gate to dependsOn`,
            ]);
        });

        it("accepts the stack's own mirror by digest behind the gate that judged it, and the registry login line", () => {
            expect(messages(checkGatedImages([repository, gate, host(`aws ecr get-login-password | docker login --password-stdin '${REGISTRY}'\ndocker run '${MIRRORED}'`)]))).to.deep.equal([]);
        });
    });

    describe("over the mocked stack", () => {
        let prod: StackRun;
        before(async () => {
            prod = await runStack({ stack: "prod" });
        });

        it("the shipped prod stack passes every check", () => {
            expect(messages(checkDeployability(prod.resources))).to.deep.equal([]);
        });

        it("every optional path passes too: Config recorder + Security Hub, remote write, endpoints egress", async () => {
            const run = await runStack({
                stack: "prod",
                config: {
                    enableConfigRecorder: "true",
                    enableSecurityHub: "true",
                    ampWorkspaceArn: "arn:aws:aps:eu-west-1:123456789012:workspace/ws-0123abcd-4567-89ef-0123-456789abcdef",
                    privateEgress: "endpoints",
                },
            });
            expect(messages(checkDeployability(run.resources))).to.deep.equal([]);
        });

        it("without NAT, flags a call with no endpoint: EC2 discovery, the SSM agent, a workspace in another region (the shipped endpoints lacked ec2, sns, monitoring)", async () => {
            const amp = "arn:aws:aps:eu-central-1:123456789012:workspace/ws-0123abcd-4567-89ef-0123-456789abcdef";
            const run = await runStack({ stack: "prod", config: { privateEgress: "endpoints", ampWorkspaceArn: amp } });
            const seeded = clone(run).filter((r) => !/\.(ec2|ssmmessages)$/.test(String(r.inputs.serviceName ?? "")));
            const found = checkPrivateEndpoints(seeded).map((f) => `${f.resource.split("::")[1]}: ${f.message.split(" (")[0]}`);
            expect(found).to.have.members([
                "app-hosts: calls ssmmessages in eu-west-1",
                "monitoring-instance: calls ssmmessages in eu-west-1",
                "monitoring-instance: calls ec2 in eu-west-1",
                "monitoring-instance: calls aps-workspaces in eu-central-1",
            ]);
            const bare = clone(run).filter((r) => r.type !== "aws:ec2/vpcEndpoint:VpcEndpoint");
            expect(checkPrivateEndpoints(bare).map((f) => f.resource.split("::")[1])).to.have.members(["app-hosts", "monitoring-instance"]);
            // With a NAT gateway every call has a way out.
            expect(checkPrivateEndpoints(clone(prod))).to.deep.equal([]);
        });

        it("catches each defect class when it is seeded back into the real stack", () => {
            const seeded = clone(prod);
            named(seeded, "aws:ec2/volumeAttachment:VolumeAttachment", "monitoring-data").options.deleteBeforeReplace = false;
            const app = named(seeded, "aws:ec2/launchTemplate:LaunchTemplate", "app-hosts");
            const version = named(seeded, "aws:secretsmanager/secretVersion:SecretVersion", "secrets-app-session-key");
            app.dependencies = app.dependencies.filter((d) => d !== version.urn && !d.includes("rolePolicy"));
            const appRole = named(seeded, "aws:iam/role:Role", "app-role");
            appRole.inputs.assumeRolePolicy = serviceTrustPolicy("ec2.amazonaws.com", "123456789012");
            const pull = named(seeded, "aws:iam/rolePolicy:RolePolicy", "app-pull-and-log");
            const doc = JSON.parse(pull.inputs.policy);
            doc.Statement = doc.Statement.filter((s: any) => s.Sid !== "EcrLogin");
            pull.inputs.policy = JSON.stringify(doc);
            const monitoring = named(seeded, "aws:ec2/instance:Instance", "monitoring-instance");
            monitoring.dependencies = monitoring.dependencies.filter((d) => !d.includes("scan-gate"));
            // A separate egress rule on the app hosts' group, whose egress is in-line.
            const appGroup = named(seeded, "aws:ec2/securityGroup:SecurityGroup", "app-sg");
            seeded.push({ ...named(seeded, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "app-app-from-lb"), type: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", name: "app-extra-egress" });
            expect(seeded[seeded.length - 1].inputs.securityGroupId).to.equal(appGroup.id);

            const checks = new Set(checkDeployability(seeded).map((f) => f.check));
            expect([...checks]).to.have.members(["trust-conditions", "replacement-safety", "boot-prerequisites", "boot-permissions", "gated-images", "security-group-rules"]);
        });

        it("issue 11 item 9: every host gets IMDSv2 with hop limit 1 (no container reaches the host role)", () => {
            for (const host of [...ofType(prod.resources, "aws:ec2/instance:Instance"), ...ofType(prod.resources, "aws:ec2/launchTemplate:LaunchTemplate")]) {
                expect(host.inputs.metadataOptions, host.name).to.include({ httpTokens: "required", httpPutResponseHopLimit: 1 });
            }
        });

        it("issue 11 item 19: the vault key's deletion window equals the secrets' recovery window", () => {
            const vaultKey = named(prod.resources, "aws:kms/key:Key", "secrets-key");
            expect(vaultKey.inputs.deletionWindowInDays).to.equal(SECRET_RECOVERY_WINDOW_DAYS);
            for (const secret of ofType(prod.resources, "aws:secretsmanager/secret:Secret")) {
                expect(secret.inputs.recoveryWindowInDays, secret.name).to.equal(SECRET_RECOVERY_WINDOW_DAYS);
            }
        });

        it("issue 11 item 7: no host pins its first AMI (no ignoreChanges on ami/imageId) and both boot with package_upgrade", () => {
            for (const host of hostsOf(prod.resources)) {
                expect(host.resource.options.ignoreChanges ?? [], host.resource.name).to.not.include.oneOf(["ami", "imageId"]);
                expect(host.userData, host.resource.name).to.match(/^package_upgrade: true$/m);
            }
        });

        it("issue 11 items 6 and 16: a changed monitoring boot script replaces the host, and the script grows the data filesystem", () => {
            const monitoring = named(prod.resources, "aws:ec2/instance:Instance", "monitoring-instance");
            expect(monitoring.inputs.userDataReplaceOnChange).to.equal(true);
            expect(String(monitoring.inputs.userData)).to.match(/xfs_growfs "\$data_dir"/);
        });

        it("issue 11 item 10: both hosts boot through a retrying systemd unit whose failure reports BootFailed, alarmed per host; systemd-analyze accepts the units", function () {
            const hosts = hostsOf(prod.resources);
            expect(hosts.map((h) => h.resource.name)).to.have.members(["app-hosts", "monitoring-instance"]);
            for (const { resource: host, userData } of hosts) {
                const doc = YAML.parse(userData.replace(/^#cloud-config\n/, ""));
                const units = doc.write_files.filter((f: any) => f.path.startsWith("/etc/systemd/system/"));
                const main = units.find((f: any) => !f.path.endsWith("-failed.service"));
                expect(main.content, host.name).to.match(/^Restart=on-failure$/m).and.match(/^OnFailure=.+-failed\.service$/m);
                expect(doc.runcmd.join("\n"), host.name).to.match(/systemctl enable --now --no-block devsecops-.+\.service/);
                expect(doc.write_files.some((f: any) => f.path.includes("/per-boot/")), host.name).to.equal(false);
                // The alarm watches the very dimension the failure unit publishes.
                const published = /--dimensions '?Host=([^' ]+)/.exec(doc.write_files.map((f: any) => f.content).join("\n"))?.[1];
                expect(published, `${host.name} publishes BootFailed`).to.be.a("string");
                const alarm = ofType(prod.resources, "aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.metricName === "BootFailed" && a.inputs.dimensions?.Host === published);
                expect(alarm, `${host.name} BootFailed alarm on Host=${published}`).to.not.equal(undefined);
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), "units-"));
                try {
                    for (const u of units) fs.writeFileSync(path.join(dir, path.basename(u.path)), u.content);
                    const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...units.map((u: any) => path.join(dir, path.basename(u.path)))], { encoding: "utf8", timeout: 30_000 });
                    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") this.skip();
                    const complaints = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes(dir) || /Unknown|Failed to|not allowed|Refusing/.test(l));
                    expect(complaints, host.name).to.deep.equal([]);
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            }
        });

        it("issue 11 item 4: the Config recorder's role can deliver (S3 and KMS), and the channel waits for the bucket policy", async () => {
            const run = await runStack({ stack: "prod", config: { enableConfigRecorder: "true" } });
            const delivery = named(run.resources, "aws:iam/rolePolicy:RolePolicy", "threat-config-delivery");
            const actions = JSON.parse(delivery.inputs.policy).Statement.flatMap((s: any) => [].concat(s.Action));
            expect(actions).to.include.members(["s3:PutObject", "s3:GetBucketAcl"]);
            expect(actions.some((a: string) => a.startsWith("kms:GenerateDataKey"))).to.equal(true);
            const channel = ofType(run.resources, "aws:cfg/deliveryChannel:DeliveryChannel")[0];
            const bucketPolicy = ofType(run.resources, "aws:s3/bucketPolicy:BucketPolicy").find((p) => p.name === "audit-logs")!;
            expect(channel.dependencies).to.include(bucketPolicy.urn);
        });
    });
});
