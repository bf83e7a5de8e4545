import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import {
    CLOUDWATCH_RETENTION_DAYS,
    ConfigValidationError,
    RawSettings,
    RESERVED_SECRET_NAMES,
    SETTING_DEFAULTS,
    validateStackSettings,
} from "../../config/stackConfig";
import { FAULT_INJECTION_TOKEN_SECRET, GRAFANA_ADMIN_SECRET } from "../../components/secretsVault";

const ROOT = path.resolve(__dirname, "..", "..");
const VALID: RawSettings = { operatorCidrs: ["203.0.113.0/24"] };

/** The validation error for these settings (on top of a valid base), or a failure if none. */
function problemsFor(raw: RawSettings, foreign = {}): ConfigValidationError {
    try {
        validateStackSettings({ ...VALID, ...raw }, foreign);
    } catch (e) {
        expect(e).to.be.instanceOf(ConfigValidationError);
        return e as ConfigValidationError;
    }
    throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

function expectProblem(raw: RawSettings, key: string, allowedFragment: string): void {
    const err = problemsFor(raw);
    const problem = err.problems.find((p) => p.key === key);
    expect(problem, `no problem reported for ${key}; got ${err.message}`).to.not.equal(undefined);
    expect(problem!.allowed).to.contain(allowedFragment);
    expect(err.message).to.contain(key).and.to.contain(allowedFragment);
}

describe("stack config validation", () => {
    it("issue 12: the front door's settings: a domain needs its zone, ids and ARNs are checked, WAF's rate limit is in WAF's range", () => {
        expectProblem({ domainName: "app.example.com" }, "hostedZoneId", "Route 53 zone that serves domainName app.example.com");
        expectProblem({ hostedZoneId: "Z0EXAMPLE00000000000" }, "domainName", "a DNS name");
        expectProblem({ domainName: "App.Example.com.", hostedZoneId: "Z1" }, "domainName", "lower case, no trailing dot");
        expectProblem({ hostedZoneId: "zone-1", domainName: "app.example.com" }, "hostedZoneId", "Route 53 hosted zone id");
        expectProblem({ certificateArn: "arn:aws:iam::123456789012:server-certificate/x" }, "certificateArn", "ACM certificate ARN");
        expectProblem({ wafRateLimitPerIp: 5 }, "wafRateLimitPerIp", "at least 10");
        expectProblem({ enableWaf: "yes" }, "enableWaf", "true or false");
        const tls = validateStackSettings({ ...VALID, domainName: "app.example.com", hostedZoneId: "Z0EXAMPLE00000000000" }).frontDoor;
        expect(tls).to.include({ domainName: "app.example.com", hostedZoneId: "Z0EXAMPLE00000000000", enableWaf: true, wafRateLimitPerIp: 2000, deletionProtection: false });
        const byArn = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-1111-2222-333344445555";
        expect(validateStackSettings({ ...VALID, certificateArn: byArn }).frontDoor.certificateArn).to.equal(byArn);
    });

    it("issue 12: the fleet's size leaves room for a launch-before-terminate refresh, and its CPU target is bounded", () => {
        expectProblem({ appMinHosts: 2, appMaxHosts: 2 }, "appMaxHosts", "more hosts than appMinHosts (2)");
        expectProblem({ appMinHosts: 0 }, "appMinHosts", "at least 1");
        expectProblem({ appTargetCpuPercent: 95 }, "appTargetCpuPercent", "at most 90");
        expect(validateStackSettings(VALID).hosts).to.include({ appMinHosts: 2, appMaxHosts: 4, appTargetCpuPercent: 60, prometheusSnapshotsKept: 7 });
        expect(validateStackSettings({ ...VALID, privateEgress: "nat-per-az" }).network.privateEgress).to.equal("nat-per-az");
    });

    it("issue 11 item 16: rejects Xen instance types for the monitoring host (no NVMe serial to find its volume)", () => {
        expectProblem({ monitoringInstanceType: "t2.medium" }, "monitoringInstanceType", "Nitro family");
        expectProblem({ monitoringInstanceType: "m4.large" }, "monitoringInstanceType", "Nitro family");
        expect(validateStackSettings({ ...VALID, monitoringInstanceType: "m7i.large" }).hosts.monitoringInstanceType).to.equal("m7i.large");
    });

    it("accepts the defaults plus operator CIDRs and returns typed settings", () => {
        const s = validateStackSettings(VALID);
        expect(s.network.vpcCidr).to.equal("10.40.0.0/16");
        expect(s.network.privateEgress).to.equal("nat");
        expect(s.hosts.ecrScanning).to.equal("enhanced");
        expect(validateStackSettings({ ...VALID, ecrScanning: "basic" }).hosts.ecrScanning).to.equal("basic");
        expect(s.audit).to.include({ encryption: "kms", transitionDays: 90, expirationDays: 365, forceDestroy: false });
        expect(s.hosts.operatorCidrs).to.deep.equal(["203.0.113.0/24"]);
        // No domain: no HTTPS name for Grafana, so its provisioning is by file.
        expect(s.hosts.grafanaProvisioning).to.equal("file");
        expect(s.hosts.grafanaHostName).to.equal(undefined);
        expect(s.alerts).to.deep.equal({
            errorRatio: 0.05,
            latencyP95Seconds: 0.5,
            cpuPercent: 80,
            memoryPercent: 90,
            diskFreePercent: 10,
            sloAvailabilityTarget: 0.999,
            sloLatencyTarget: 0.99,
            deadMansSwitchUrl: undefined,
        });
    });

    it("SLO targets from 0.95 to 0.99999; the dead man's switch an https URL, never echoed in the error", () => {
        const base = { operatorCidrs: ["203.0.113.0/24"] };
        expect(() => validateStackSettings({ ...base, sloAvailabilityTarget: 0.9 })).to.throw(/sloAvailabilityTarget = 0.9: a number at least 0.95 and at most 0.99999/);
        expect(() => validateStackSettings({ ...base, sloLatencyTarget: 1 })).to.throw(/sloLatencyTarget = 1: a number at least 0.95/);
        let message = "";
        try {
            validateStackSettings({ ...base, deadMansSwitchUrl: "http://hc-ping.example/secret-token-123" });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).to.match(/deadMansSwitchUrl .*an https:\/\/ URL/);
        expect(message).to.not.contain("secret-token-123");
        expect(validateStackSettings({ ...base, deadMansSwitchUrl: "https://hc-ping.example/0f3e" }).alerts.deadMansSwitchUrl).to.equal("https://hc-ping.example/0f3e");
    });

    it("decodes values that arrive as strings (numbers, booleans)", () => {
        const s = validateStackSettings({ ...VALID, flowLogRetentionDays: "365", auditForceDestroy: "true", alertCpuPercent: "70" });
        expect(s.network.flowLogRetentionDays).to.equal(365);
        expect(s.audit.forceDestroy).to.equal(true);
        expect(s.alerts.cpuPercent).to.equal(70);
    });

    it("rejects a malformed VPC CIDR", () => {
        expectProblem({ vpcCidr: "10.40.0.0/33" }, "vpcCidr", "IPv4 CIDR");
        expectProblem({ vpcCidr: "10.400.0.0/16" }, "vpcCidr", "IPv4 CIDR");
        expectProblem({ vpcCidr: "banana" }, "vpcCidr", "IPv4 CIDR");
    });

    it("rejects a malformed subnet CIDR", () => {
        expectProblem({ publicSubnetCidrs: ["10.40.0.0/24", "10.40.1.0"] }, "publicSubnetCidrs", "not allowed: \"10.40.1.0\"");
    });

    it("rejects overlapping subnets", () => {
        expectProblem({ privateSubnetCidrs: ["10.40.0.128/25", "10.40.11.0/24"] }, "privateSubnetCidrs", "does not overlap 10.40.0.0/24");
    });

    it("rejects subnets outside the VPC", () => {
        expectProblem({ publicSubnetCidrs: ["10.41.0.0/24", "10.40.1.0/24"] }, "publicSubnetCidrs", "inside vpcCidr 10.40.0.0/16");
    });

    it("rejects a subnet count other than two", () => {
        expectProblem({ privateSubnetCidrs: ["10.40.10.0/24"] }, "privateSubnetCidrs", "exactly two subnets");
    });

    it("rejects a CloudWatch retention CloudWatch does not accept, and names the accepted set", () => {
        expectProblem({ flowLogRetentionDays: 45 }, "flowLogRetentionDays", CLOUDWATCH_RETENTION_DAYS.join(", "));
        expectProblem({ appLogRetentionDays: 0 }, "appLogRetentionDays", "3653");
        // 0 means "off" only where delivery is optional.
        expect(validateStackSettings({ ...VALID, trailCloudWatchRetentionDays: 0 }).audit.cloudWatchRetentionDays).to.equal(0);
    });

    it("rejects lifecycle days where expiry does not come after the GLACIER transition", () => {
        expectProblem({ auditTransitionDays: 90, auditExpirationDays: 90 }, "auditExpirationDays", "more days than auditTransitionDays (90)");
        expectProblem({ auditTransitionDays: 400, auditExpirationDays: 365 }, "auditExpirationDays", "more days than auditTransitionDays (400)");
    });

    it("operator CIDRs are optional (Grafana by tunnel only), never the whole internet, and at most 15", () => {
        expect(validateStackSettings({}).hosts.operatorCidrs).to.deep.equal([]);
        expect(validateStackSettings({ operatorCidrs: [] }).hosts.operatorCidrs).to.deep.equal([]);
        expectProblem({ operatorCidrs: ["203.0.113.0/24", "0.0.0.0/0"] }, "operatorCidrs", "not allowed: \"0.0.0.0/0\"");
        expectProblem({ operatorCidrs: ["::/0"] }, "operatorCidrs", "not allowed: \"::/0\"");
        expectProblem({ operatorCidrs: Array.from({ length: 16 }, (_, i) => `198.51.100.${i}/32`) }, "operatorCidrs", "at most 15");
        expect(validateStackSettings({ operatorCidrs: ["2001:db8::/48"] }).hosts.operatorCidrs).to.deep.equal(["2001:db8::/48"]);
    });

    it("rejects alert thresholds out of range", () => {
        expectProblem({ alertErrorRatio: 0 }, "alertErrorRatio", "greater than 0 and at most 1");
        expectProblem({ alertErrorRatio: 5 }, "alertErrorRatio", "at most 1");
        expectProblem({ alertCpuPercent: 150 }, "alertCpuPercent", "at most 100");
        expectProblem({ alertMemoryPercent: -1 }, "alertMemoryPercent", "at least 1");
        expectProblem({ alertLatencyP95Seconds: "fast" }, "alertLatencyP95Seconds", "a number");
        expectProblem({ alertDiskFreePercent: 100 }, "alertDiskFreePercent", "at most 99");
    });

    it("rejects a malformed email", () => {
        expectProblem({ alertEmail: "oncall@" }, "alertEmail", "an email address");
        expectProblem({ alertEmail: "on call@example.com" }, "alertEmail", "an email address");
        expect(validateStackSettings({ ...VALID, alertEmail: "oncall@example.com" }).threat.alertEmail).to.equal("oncall@example.com");
    });

    it("rejects unknown enum values, unknown keys and malformed ids", () => {
        expectProblem({ privateEgress: "igw" }, "privateEgress", "one of nat, nat-per-az, endpoints");
        expectProblem({ auditEncryption: "none" }, "auditEncryption", "one of kms, aes256");
        expectProblem({ ecrScanning: "inspector" }, "ecrScanning", "one of enhanced, basic");
        expectProblem({ guardDutyDetectorId: "abc" }, "guardDutyDetectorId", "32 lowercase hex");
        expectProblem({ vpcCird: "10.0.0.0/16" }, "vpcCird", "check the spelling");
        expectProblem({ secretRotationLambdaArn: "my-lambda" }, "secretRotationLambdaArn", "Lambda function ARN");
        expectProblem({ ampWorkspaceArn: "ws-123" }, "ampWorkspaceArn", "workspace ARN");
    });

    it("reports every bad key in one error", () => {
        const err = problemsFor({ vpcCidr: "nope", flowLogRetentionDays: 2, alertEmail: "x", alertCpuPercent: 101 });
        expect(err.problems.map((p) => p.key)).to.include.members(["vpcCidr", "flowLogRetentionDays", "alertEmail", "alertCpuPercent"]);
        expect(err.message).to.match(/^Invalid stack configuration \(\d+ settings\)/);
    });

    it("requires a value for every provided secret and never echoes secret values", () => {
        const err = problemsFor({ providedSecretNames: ["db-password", "api-key"] }, {});
        const missing = err.problems.filter((p) => p.key.startsWith("appSecrets."));
        expect(missing.map((p) => p.key)).to.have.members(["appSecrets.db-password", "appSecrets.api-key"]);
        const withOne = problemsForForeign({ providedSecretNames: ["db-password", "api-key"] }, { appSecrets: { "db-password": "hunter2-very-secret" } });
        expect(withOne.message).to.contain("appSecrets.api-key");
        expect(withOne.message).to.not.contain("hunter2-very-secret");
    });

    it("rejects secret names that collide or are reserved", () => {
        expectProblem({ generatedSecretNames: ["grafana-admin-password"] }, "providedSecretNames", "repeated: grafana-admin-password");
        expectProblem({ generatedSecretNames: ["fault-injection-token"] }, "providedSecretNames", "repeated: fault-injection-token");
        expect(RESERVED_SECRET_NAMES).to.deep.equal([GRAFANA_ADMIN_SECRET, FAULT_INJECTION_TOKEN_SECRET]);
        expectProblem({ generatedSecretNames: ["Bad Name"] }, "generatedSecretNames", "lowercase letters");
        expectProblem({ generatedSecretNames: [] }, "generatedSecretNames", "at least one app secret");
    });

    describe("grafanaProvisioning (issue 13)", () => {
        const DOMAIN = { ...VALID, domainName: "app.example.com", hostedZoneId: "Z0EXAMPLE00000000000" };

        it("defaults to provider with Grafana's HTTPS name (a domain and operatorCidrs), else to file", () => {
            expect(validateStackSettings(DOMAIN).hosts).to.include({ grafanaProvisioning: "provider", grafanaHostName: "grafana.app.example.com" });
            expect(validateStackSettings({ ...DOMAIN, operatorCidrs: [] }).hosts).to.include({ grafanaProvisioning: "file", grafanaHostName: undefined });
            expect(validateStackSettings(VALID).hosts.grafanaProvisioning).to.equal("file");
            expect(validateStackSettings({ ...DOMAIN, grafanaProvisioning: "file" }).hosts).to.include({ grafanaProvisioning: "file", grafanaHostName: "grafana.app.example.com" });
        });

        it("rejects provider where nothing outside the VPC reaches Grafana, and unknown values", () => {
            expectProblem({ grafanaProvisioning: "provider" }, "grafanaProvisioning", "provider needs Grafana's HTTPS name");
            expectProblem({ grafanaProvisioning: "api" }, "grafanaProvisioning", "one of provider, file");
        });

        it("a deploy path that can only run file (GRAFANA_PROVISIONING=file) fails a stack set to provider, and never overrides it", () => {
            expect(validateStackSettings({ ...DOMAIN, grafanaProvisioning: "file" }, { deployPathGrafanaProvisioning: "file" }).hosts.grafanaProvisioning).to.equal("file");
            const err = problemsForForeign({ ...DOMAIN }, { deployPathGrafanaProvisioning: "file" });
            const problem = err.problems.find((p) => p.key === "grafanaProvisioning")!;
            expect(problem.value).to.equal("provider");
            expect(problem.allowed).to.contain("GRAFANA_PROVISIONING=file").and.contain("set devsecops-stack:grafanaProvisioning: file in the stack file");
        });

        it("the retired grafana:provision key is reported with where it went", () => {
            const err = problemsForForeign({}, { legacyGrafanaProvision: "false" });
            expect(err.problems.find((p) => p.key === "grafana:provision")?.allowed).to.contain("devsecops-stack:grafanaProvisioning");
        });
    });
});

function problemsForForeign(raw: RawSettings, foreign: Parameters<typeof validateStackSettings>[1]): ConfigValidationError {
    try {
        validateStackSettings({ ...VALID, ...raw }, foreign);
    } catch (e) {
        return e as ConfigValidationError;
    }
    throw new Error("expected rejection");
}

describe("Pulumi.yaml and the validator agree", () => {
    const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
    const declared: Record<string, { type: string; default?: unknown; description?: string }> = project.config;

    it("declares exactly the settings the validator knows", () => {
        expect(Object.keys(declared).sort()).to.deep.equal(Object.keys(SETTING_DEFAULTS).sort());
    });

    it("gives every setting a type and a description, and the validator's default", () => {
        for (const [key, def] of Object.entries(SETTING_DEFAULTS)) {
            const d = declared[key];
            expect(d.type, `${key} type`).to.be.oneOf(["string", "integer", "number", "boolean", "array"]);
            expect(d.description, `${key} description`).to.be.a("string").and.not.empty;
            expect(d.default, `${key} default`).to.deep.equal(def);
        }
    });

    it("Pulumi.prod.yaml is a valid stack configuration", () => {
        const prod = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")).config as Record<string, unknown>;
        expect(prod["aws:region"]).to.be.a("string");
        const raw: RawSettings = {};
        for (const [k, v] of Object.entries(prod)) if (k.startsWith("devsecops-stack:")) raw[k.split(":")[1]] = v;
        expect(() => validateStackSettings(raw)).to.not.throw();
    });
});
