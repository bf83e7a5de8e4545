import * as ipaddr from "ipaddr.js";

/**
 * The stack's settings: their types, defaults and validation, as pure functions so
 * that every rule is tested without Pulumi. `loadConfig.ts` feeds them from
 * `pulumi.Config`; `Pulumi.yaml` declares the same keys and defaults (a test keeps
 * the two in step).
 */

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy). */
export const CLOUDWATCH_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const PRIVATE_EGRESS_MODES = ["nat", "nat-per-az", "endpoints"] as const;
export type PrivateEgress = (typeof PRIVATE_EGRESS_MODES)[number];

/** `enhanced`: Amazon Inspector (OS and language packages, re-judged as CVEs appear); `basic`: ECR's own scan on push (OS packages only). */
export const ECR_SCANNING_MODES = ["enhanced", "basic"] as const;
export type EcrScanning = (typeof ECR_SCANNING_MODES)[number];

export const AUDIT_ENCRYPTION_MODES = ["kms", "aes256"] as const;
export type AuditEncryption = (typeof AUDIT_ENCRYPTION_MODES)[number];

export const FINDING_FREQUENCIES = ["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] as const;
export type FindingFrequency = (typeof FINDING_FREQUENCIES)[number];

export interface NetworkSettings {
    vpcCidr: string;
    publicSubnetCidrs: string[];
    privateSubnetCidrs: string[];
    privateEgress: PrivateEgress;
    flowLogRetentionDays: number;
}

export interface AuditSettings {
    encryption: AuditEncryption;
    transitionDays: number;
    expirationDays: number;
    forceDestroy: boolean;
    /** Also deliver the trail to a CloudWatch log group with this retention; 0 turns delivery off. */
    cloudWatchRetentionDays: number;
}

export interface ThreatSettings {
    /** Adopt this account/region's existing GuardDuty detector instead of creating one. */
    existingDetectorId?: string;
    findingPublishingFrequency: FindingFrequency;
    /** Findings at or above this GuardDuty severity (1.0–10.0) are sent to the alerts topic. */
    findingMinSeverity: number;
    alertEmail?: string;
    enableSecurityHub: boolean;
    enableConfigRecorder: boolean;
}

export interface SecretsSettings {
    /** Secret names whose values are generated (random, 32 characters). */
    generatedSecretNames: string[];
    /** Secret names whose values come from the Pulumi secret config object `appSecrets`. */
    providedSecretNames: string[];
    customerManagedKey: boolean;
    rotationLambdaArn?: string;
    rotationDays: number;
}

export const GRAFANA_PROVISIONING_MODES = ["provider", "file"] as const;
export type GrafanaProvisioningMode = (typeof GRAFANA_PROVISIONING_MODES)[number];

/**
 * The environment variable a deploy path sets to say which mechanism it can run: hosted runners
 * (deploy.yml, Pulumi Deployments) cannot reach Grafana, so they set `file`. It never overrides the
 * stack's setting — a stack whose setting differs fails before any resource, so one stack never
 * alternates between mechanisms.
 */
export const GRAFANA_PROVISIONING_ENV = "GRAFANA_PROVISIONING";

/** The listener rules that admit operators to Grafana take three source CIDRs each (ELB User Guide, "Listener rules"). */
export const MAX_OPERATOR_CIDRS = 15;

export interface HostSettings {
    appInstanceType: string;
    monitoringInstanceType: string;
    operatorCidrs: string[];
    appLogRetentionDays: number;
    platformLogRetentionDays: number;
    prometheusRetentionDays: number;
    prometheusVolumeGiB: number;
    ecrKeepImages: number;
    scanMaxCritical: number;
    /** -1: HIGH findings do not gate the deployment. */
    scanMaxHigh: number;
    /** How ECR scans the stack's images: `enhanced` (Amazon Inspector) or `basic` (ECR's own, OS packages only). */
    ecrScanning: EcrScanning;
    /** Amazon Managed Service for Prometheus workspace to remote-write to, if any. */
    ampWorkspaceArn?: string;
    /**
     * How Grafana gets its datasource and dashboard: `provider` (@pulumiverse/grafana through Grafana's
     * HTTPS name, from a deployer in operatorCidrs) or `file` (Grafana's file provisioning, shipped by
     * the SSM config document; works from any deployer). Exactly one per stack.
     */
    grafanaProvisioning: GrafanaProvisioningMode;
    /**
     * grafana.<domainName>, served through the front door's HTTPS listener to operatorCidrs only;
     * undefined without a domainName or without operatorCidrs (then Grafana is reached by tunnel only).
     */
    grafanaHostName?: string;
    /** Start the app with FAULT_INJECTION=true so `npm run verify -- --drill` can run the alert drill. */
    appFaultInjection: boolean;
    /** The app's Auto Scaling group: at least, at most, and the average CPU it tracks. */
    appMinHosts: number;
    appMaxHosts: number;
    appTargetCpuPercent: number;
    /** Daily snapshots of the Prometheus volume kept by Data Lifecycle Manager. */
    prometheusSnapshotsKept: number;
}

/** How clients reach the app: the ALB, its certificate, WAF and access logs. */
export interface FrontDoorSettings {
    /** The app's host name; with hostedZoneId, an ACM certificate validated by DNS and an alias record. */
    domainName?: string;
    hostedZoneId?: string;
    /** A certificate the user already has (ACM, same region); wins over issuing one for domainName. */
    certificateArn?: string;
    deletionProtection: boolean;
    enableWaf: boolean;
    /** Requests per client IP in any 5-minute window before WAF blocks it. */
    wafRateLimitPerIp: number;
    accessLogExpirationDays: number;
}

export interface AlertSettings {
    errorRatio: number;
    latencyP95Seconds: number;
    cpuPercent: number;
    memoryPercent: number;
    diskFreePercent: number;
    /** SLO targets: share of requests without 5xx, and within the 0.5 s latency bucket, over 30 days. */
    sloAvailabilityTarget: number;
    sloLatencyTarget: number;
    /** The dead man's switch the Watchdog alert pings (a secret: it usually embeds a token). */
    deadMansSwitchUrl?: string;
}

export interface StackSettings {
    network: NetworkSettings;
    audit: AuditSettings;
    threat: ThreatSettings;
    secrets: SecretsSettings;
    hosts: HostSettings;
    frontDoor: FrontDoorSettings;
    alerts: AlertSettings;
}

/**
 * Raw values as `pulumi.Config` hands them over: anything may be missing or of
 * the wrong type. Keys are the config keys without the project namespace.
 */
export type RawSettings = Record<string, unknown>;

/** Every project setting with its default; `undefined` means optional with no default. */
export const SETTING_DEFAULTS = {
    vpcCidr: "10.40.0.0/16",
    publicSubnetCidrs: ["10.40.0.0/24", "10.40.1.0/24"],
    privateSubnetCidrs: ["10.40.10.0/24", "10.40.11.0/24"],
    privateEgress: "nat",
    flowLogRetentionDays: 90,
    auditEncryption: "kms",
    auditTransitionDays: 90,
    auditExpirationDays: 365,
    auditForceDestroy: false,
    trailCloudWatchRetentionDays: 90,
    guardDutyDetectorId: undefined,
    guardDutyPublishingFrequency: "FIFTEEN_MINUTES",
    findingMinSeverity: 7,
    alertEmail: undefined,
    enableSecurityHub: false,
    enableConfigRecorder: false,
    generatedSecretNames: ["app-session-key"],
    providedSecretNames: [],
    secretsCustomerManagedKey: true,
    secretRotationLambdaArn: undefined,
    secretRotationDays: 30,
    appInstanceType: "t3.small",
    monitoringInstanceType: "t3.medium",
    operatorCidrs: [],
    appLogRetentionDays: 30,
    platformLogRetentionDays: 90,
    prometheusRetentionDays: 15,
    prometheusVolumeGiB: 20,
    ecrKeepImages: 10,
    scanMaxCritical: 0,
    scanMaxHigh: -1,
    ecrScanning: "enhanced",
    ampWorkspaceArn: undefined,
    grafanaProvisioning: undefined,
    appFaultInjection: false,
    appMinHosts: 2,
    appMaxHosts: 4,
    appTargetCpuPercent: 60,
    prometheusSnapshotsKept: 7,
    domainName: undefined,
    hostedZoneId: undefined,
    certificateArn: undefined,
    loadBalancerDeletionProtection: false,
    enableWaf: true,
    wafRateLimitPerIp: 2000,
    albAccessLogExpirationDays: 90,
    alertErrorRatio: 0.05,
    alertLatencyP95Seconds: 0.5,
    alertCpuPercent: 80,
    alertMemoryPercent: 90,
    alertDiskFreePercent: 10,
    sloAvailabilityTarget: 0.999,
    sloLatencyTarget: 0.99,
    deadMansSwitchUrl: undefined,
} as const satisfies Record<string, unknown>;

export type SettingKey = keyof typeof SETTING_DEFAULTS;

/** One bad setting: which key, what it held, and what is allowed. */
export interface SettingProblem {
    key: string;
    value: unknown;
    allowed: string;
}

/** Thrown before any resource exists; lists every bad setting at once. */
export class ConfigValidationError extends Error {
    constructor(readonly problems: SettingProblem[]) {
        super(
            `Invalid stack configuration (${problems.length} setting${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p.key} = ${JSON.stringify(p.value)}: ${p.allowed}`).join("\n"),
        );
        this.name = "ConfigValidationError";
    }
}

interface Ipv4Range {
    first: number;
    last: number;
}

function ipv4Range(cidr: string): Ipv4Range | undefined {
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) || !ipaddr.IPv4.isValidCIDR(cidr)) return undefined;
    const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
    const bytes = address.toByteArray();
    const value = ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
    const size = 2 ** (32 - prefix);
    const first = value - (value % size);
    return { first, last: first + size - 1 };
}

function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
    return a.first <= b.last && b.first <= a.last;
}

/** A CIDR that matches every address: never acceptable for operator access. */
function isWholeInternet(cidr: string): boolean {
    try {
        const [, prefix] = ipaddr.parseCIDR(cidr);
        return prefix === 0;
    } catch {
        return false;
    }
}

const EMAIL = /^[^\s@"<>,;:]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;
const SECRET_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The Grafana admin password is always generated, under this reserved name. */
export const GRAFANA_ADMIN_SECRET = "grafana-admin-password";
/** The alert drill's bearer token, under this reserved name: FAULT_INJECTION_TOKEN on the app hosts. */
export const FAULT_INJECTION_TOKEN_SECRET = "fault-injection-token";
/** Names SecretsVault stores itself: app secret names must not take them. */
export const RESERVED_SECRET_NAMES = [GRAFANA_ADMIN_SECRET, FAULT_INJECTION_TOKEN_SECRET];
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/**
 * Xen-based families: their EBS volumes have no NVMe serial, and the monitoring host finds its
 * data volume by serial (EC2 User Guide, "Amazon EBS and NVMe": Nitro instances expose EBS as NVMe).
 */
const XEN_FAMILIES = /^(t1|t2|m1|m2|m3|m4|c1|c3|c4|r3|r4|i2|d2|g2|g3|p2|p3|x1|x1e|h1|cc2|cr1|hs1)\./;
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$/;
const AMP_WORKSPACE_ARN = /^arn:aws[a-z-]*:aps:[a-z0-9-]+:\d{12}:workspace\/ws-[A-Za-z0-9-]+$/;
const DETECTOR_ID = /^[a-f0-9]{32}$/;
/** A DNS name of at least two labels (RFC 1035 letters, digits, hyphens), lower case, no trailing dot. */
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOSTED_ZONE_ID = /^Z[A-Z0-9]{1,31}$/;
const ACM_CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;

/**
 * Reads one setting with its default, checks it and records any problem.
 * Returns the default when the value is unusable, so validation can go on and
 * report every problem in one error.
 */
class SettingsReader {
    readonly problems: SettingProblem[] = [];

    constructor(private readonly raw: RawSettings) {}

    private value(key: SettingKey): unknown {
        const v = this.raw[key];
        return v === undefined || v === null || v === "" ? SETTING_DEFAULTS[key] : v;
    }

    /** The raw value, for checks that must not echo it. */
    rawValue(key: SettingKey): unknown {
        return this.raw[key];
    }

    problem(key: string, value: unknown, allowed: string): void {
        this.problems.push({ key, value, allowed });
    }

    string(key: SettingKey, allowed: string, test: (s: string) => boolean): string {
        const v = this.value(key);
        if (typeof v !== "string" || !test(v)) {
            this.problem(key, v, allowed);
            return String(SETTING_DEFAULTS[key] ?? "");
        }
        return v;
    }

    optionalString(key: SettingKey, allowed: string, test: (s: string) => boolean): string | undefined {
        const v = this.value(key);
        if (v === undefined) return undefined;
        if (typeof v !== "string" || !test(v)) {
            this.problem(key, v, allowed);
            return undefined;
        }
        return v;
    }

    oneOf<T extends string>(key: SettingKey, options: readonly T[]): T {
        return this.string(key, `one of ${options.join(", ")}`, (s) => (options as readonly string[]).includes(s)) as T;
    }

    number(key: SettingKey, min: number, max: number, opts: { integer?: boolean; exclusiveMin?: boolean } = {}): number {
        const raw = this.value(key);
        const v = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
        const kind = opts.integer ? "a whole number" : "a number";
        const lower = opts.exclusiveMin ? `greater than ${min}` : `at least ${min}`;
        const ok =
            typeof v === "number" &&
            Number.isFinite(v) &&
            (!opts.integer || Number.isInteger(v)) &&
            (opts.exclusiveMin ? v > min : v >= min) &&
            v <= max;
        if (!ok) {
            this.problem(key, raw, `${kind} ${lower} and at most ${max}`);
            return SETTING_DEFAULTS[key] as number;
        }
        return v as number;
    }

    retention(key: SettingKey, opts: { allowZero?: boolean } = {}): number {
        const raw = this.value(key);
        const v = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
        const allowedValues: readonly number[] = CLOUDWATCH_RETENTION_DAYS;
        if (typeof v === "number" && (allowedValues.includes(v) || (opts.allowZero && v === 0))) return v;
        this.problem(
            key,
            raw,
            `a CloudWatch Logs retention in days: one of ${CLOUDWATCH_RETENTION_DAYS.join(", ")}` +
                (opts.allowZero ? " (or 0 to turn delivery off)" : ""),
        );
        return SETTING_DEFAULTS[key] as number;
    }

    boolean(key: SettingKey): boolean {
        const v = this.value(key);
        if (typeof v === "boolean") return v;
        if (v === "true" || v === "false") return v === "true";
        this.problem(key, v, "true or false");
        return SETTING_DEFAULTS[key] as boolean;
    }

    stringList(key: SettingKey, allowed: string, test: (s: string) => boolean, opts: { nonEmpty?: boolean } = {}): string[] {
        const v = this.value(key);
        if (v === undefined && !opts.nonEmpty) return [];
        if (!Array.isArray(v) || (opts.nonEmpty && v.length === 0)) {
            this.problem(key, v, `a${opts.nonEmpty ? " non-empty" : ""} list of ${allowed}`);
            return [];
        }
        const bad = v.filter((item) => typeof item !== "string" || !test(item));
        if (bad.length > 0) {
            this.problem(key, v, `a list of ${allowed}; not allowed: ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
            return [];
        }
        return v as string[];
    }
}

function isIpv4Cidr(s: string): boolean {
    return ipv4Range(s) !== undefined;
}

function isCidr(s: string): boolean {
    return isIpv4Cidr(s) || (s.includes(":") && ipaddr.isValidCIDR(s));
}

function validateNetwork(r: SettingsReader): NetworkSettings {
    const cidrHelp = "an IPv4 CIDR block such as 10.40.0.0/16";
    const vpcCidr = r.string("vpcCidr", `${cidrHelp} with a prefix from /16 to /24`, (s) => {
        const prefix = Number(s.split("/")[1]);
        return isIpv4Cidr(s) && prefix >= 16 && prefix <= 24;
    });
    const publicSubnetCidrs = r.stringList("publicSubnetCidrs", `two ${cidrHelp}`, isIpv4Cidr, { nonEmpty: true });
    const privateSubnetCidrs = r.stringList("privateSubnetCidrs", `two ${cidrHelp}`, isIpv4Cidr, { nonEmpty: true });
    for (const [key, list] of [
        ["publicSubnetCidrs", publicSubnetCidrs],
        ["privateSubnetCidrs", privateSubnetCidrs],
    ] as const) {
        if (list.length > 0 && list.length !== 2) {
            r.problem(key, list, "exactly two subnets, one per availability zone");
        }
    }
    const vpc = ipv4Range(vpcCidr);
    const subnets = [
        ...publicSubnetCidrs.map((cidr) => ({ key: "publicSubnetCidrs", cidr })),
        ...privateSubnetCidrs.map((cidr) => ({ key: "privateSubnetCidrs", cidr })),
    ];
    for (const s of subnets) {
        const range = ipv4Range(s.cidr)!;
        if (vpc && (range.first < vpc.first || range.last > vpc.last)) {
            r.problem(s.key, s.cidr, `a subnet inside vpcCidr ${vpcCidr}`);
        }
        const prefix = Number(s.cidr.split("/")[1]);
        if (prefix > 28) r.problem(s.key, s.cidr, "a subnet of /28 or larger (AWS's smallest subnet)");
    }
    for (let i = 0; i < subnets.length; i++) {
        for (let j = i + 1; j < subnets.length; j++) {
            if (overlaps(ipv4Range(subnets[i].cidr)!, ipv4Range(subnets[j].cidr)!)) {
                r.problem(subnets[j].key, subnets[j].cidr, `a CIDR that does not overlap ${subnets[i].cidr} (${subnets[i].key})`);
            }
        }
    }
    return {
        vpcCidr,
        publicSubnetCidrs,
        privateSubnetCidrs,
        privateEgress: r.oneOf("privateEgress", PRIVATE_EGRESS_MODES),
        flowLogRetentionDays: r.retention("flowLogRetentionDays"),
    };
}

function validateAudit(r: SettingsReader): AuditSettings {
    const transitionDays = r.number("auditTransitionDays", 1, 3650, { integer: true });
    const expirationDays = r.number("auditExpirationDays", 1, 36500, { integer: true });
    if (expirationDays <= transitionDays) {
        r.problem(
            "auditExpirationDays",
            expirationDays,
            `more days than auditTransitionDays (${transitionDays}): objects must reach GLACIER before they expire`,
        );
    }
    return {
        encryption: r.oneOf("auditEncryption", AUDIT_ENCRYPTION_MODES),
        transitionDays,
        expirationDays,
        forceDestroy: r.boolean("auditForceDestroy"),
        cloudWatchRetentionDays: r.retention("trailCloudWatchRetentionDays", { allowZero: true }),
    };
}

function validateThreat(r: SettingsReader): ThreatSettings {
    // Security Hub's FSBP and CIS controls are AWS Config rules: without a recorder they never evaluate.
    if (r.boolean("enableSecurityHub") && !r.boolean("enableConfigRecorder")) {
        r.problem("enableSecurityHub", true, "true only with enableConfigRecorder = true: Security Hub's FSBP/CIS controls are evaluated by AWS Config and never run without a recorder (an account that already records with AWS Config enables Security Hub outside this stack)");
    }
    return {
        existingDetectorId: r.optionalString(
            "guardDutyDetectorId",
            "a GuardDuty detector id (32 lowercase hex characters), from `aws guardduty list-detectors`",
            (s) => DETECTOR_ID.test(s),
        ),
        findingPublishingFrequency: r.oneOf("guardDutyPublishingFrequency", FINDING_FREQUENCIES),
        findingMinSeverity: r.number("findingMinSeverity", 1, 10),
        alertEmail: r.optionalString("alertEmail", "an email address such as ops@example.com", (s) => EMAIL.test(s)),
        enableSecurityHub: r.boolean("enableSecurityHub"),
        enableConfigRecorder: r.boolean("enableConfigRecorder"),
    };
}

function validateSecrets(r: SettingsReader, providedValues: Record<string, unknown> | undefined): SecretsSettings {
    const nameHelp = "secret names of lowercase letters, digits and dashes (at most 63 characters)";
    const generatedSecretNames = r.stringList("generatedSecretNames", nameHelp, (s) => SECRET_NAME.test(s));
    const providedSecretNames = r.stringList("providedSecretNames", nameHelp, (s) => SECRET_NAME.test(s));
    const all = [...generatedSecretNames, ...providedSecretNames, ...RESERVED_SECRET_NAMES];
    const duplicates = all.filter((n, i) => all.indexOf(n) !== i);
    if (duplicates.length > 0) {
        r.problem("providedSecretNames", providedSecretNames, `names used once (generatedSecretNames, providedSecretNames and the reserved ${RESERVED_SECRET_NAMES.join(", ")}); repeated: ${[...new Set(duplicates)].join(", ")}`);
    }
    if (generatedSecretNames.length + providedSecretNames.length === 0) {
        r.problem("generatedSecretNames", generatedSecretNames, "at least one app secret across generatedSecretNames and providedSecretNames (the default is app-session-key)");
    }
    for (const name of providedSecretNames) {
        const value = providedValues?.[name];
        if (typeof value !== "string" || value.length === 0) {
            // Never echo the value of a secret: name the key only.
            r.problem(`appSecrets.${name}`, "<missing>", `a non-empty secret value: pulumi config set --secret --path 'appSecrets.${name}' <value>`);
        }
    }
    return {
        generatedSecretNames,
        providedSecretNames,
        customerManagedKey: r.boolean("secretsCustomerManagedKey"),
        rotationLambdaArn: r.optionalString("secretRotationLambdaArn", "a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)", (s) => LAMBDA_ARN.test(s)),
        rotationDays: r.number("secretRotationDays", 1, 1000, { integer: true }),
    };
}

function validateHosts(r: SettingsReader): Omit<HostSettings, "grafanaProvisioning" | "grafanaHostName"> {
    const instanceHelp = "an EC2 instance type such as t3.small";
    const operatorCidrs = r.stringList(
        "operatorCidrs",
        "CIDR blocks of the operators' networks (e.g. 203.0.113.0/24); never 0.0.0.0/0 or ::/0",
        (s) => isCidr(s) && !isWholeInternet(s),
    );
    if (operatorCidrs.length > MAX_OPERATOR_CIDRS) {
        r.problem("operatorCidrs", operatorCidrs, `at most ${MAX_OPERATOR_CIDRS} CIDR blocks (Grafana's listener rules take three each); summarise them or use a VPN range`);
    }
    return {
        appInstanceType: r.string("appInstanceType", instanceHelp, (s) => INSTANCE_TYPE.test(s)),
        monitoringInstanceType: r.string(
            "monitoringInstanceType",
            `${instanceHelp}, of a Nitro family (not t2, m4, c4, r4 or other Xen types: the data volume is found by its NVMe serial)`,
            (s) => INSTANCE_TYPE.test(s) && !XEN_FAMILIES.test(s),
        ),
        operatorCidrs,
        appLogRetentionDays: r.retention("appLogRetentionDays"),
        platformLogRetentionDays: r.retention("platformLogRetentionDays"),
        prometheusRetentionDays: r.number("prometheusRetentionDays", 1, 3650, { integer: true }),
        prometheusVolumeGiB: r.number("prometheusVolumeGiB", 8, 16384, { integer: true }),
        ecrKeepImages: r.number("ecrKeepImages", 1, 1000, { integer: true }),
        scanMaxCritical: r.number("scanMaxCritical", 0, 10000, { integer: true }),
        scanMaxHigh: r.number("scanMaxHigh", -1, 10000, { integer: true }),
        ecrScanning: r.oneOf("ecrScanning", ECR_SCANNING_MODES),
        ampWorkspaceArn: r.optionalString("ampWorkspaceArn", "an Amazon Managed Service for Prometheus workspace ARN (arn:aws:aps:<region>:<account>:workspace/ws-…)", (s) => AMP_WORKSPACE_ARN.test(s)),
        appFaultInjection: r.boolean("appFaultInjection"),
        ...validateFleet(r),
        prometheusSnapshotsKept: r.number("prometheusSnapshotsKept", 1, 1000, { integer: true }),
    };
}

function validateFleet(r: SettingsReader): Pick<HostSettings, "appMinHosts" | "appMaxHosts" | "appTargetCpuPercent"> {
    const appMinHosts = r.number("appMinHosts", 1, 100, { integer: true });
    const appMaxHosts = r.number("appMaxHosts", 1, 100, { integer: true });
    // A rolling refresh launches before it terminates: it needs room above the minimum.
    if (appMaxHosts <= appMinHosts) r.problem("appMaxHosts", appMaxHosts, `more hosts than appMinHosts (${appMinHosts}): an instance refresh launches new hosts before it terminates old ones`);
    return { appMinHosts, appMaxHosts, appTargetCpuPercent: r.number("appTargetCpuPercent", 10, 90) };
}

function validateFrontDoor(r: SettingsReader): FrontDoorSettings {
    const domainName = r.optionalString("domainName", "a DNS name such as app.example.com (lower case, no trailing dot)", (s) => DOMAIN_NAME.test(s));
    const hostedZoneId = r.optionalString("hostedZoneId", "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ", (s) => HOSTED_ZONE_ID.test(s));
    const certificateArn = r.optionalString("certificateArn", "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) in the stack's region", (s) => ACM_CERTIFICATE_ARN.test(s));
    if (domainName !== undefined && hostedZoneId === undefined) {
        r.problem("hostedZoneId", r.rawValue("hostedZoneId"), `the Route 53 zone that serves domainName ${domainName}: the certificate is validated and the alias record written there`);
    }
    if (hostedZoneId !== undefined && domainName === undefined) r.problem("domainName", r.rawValue("domainName"), "a DNS name in hostedZoneId's zone (hostedZoneId alone names no record)");
    return {
        domainName,
        hostedZoneId,
        certificateArn,
        deletionProtection: r.boolean("loadBalancerDeletionProtection"),
        enableWaf: r.boolean("enableWaf"),
        // WAF's rate-based rules: a limit from 10 to 2,000,000,000 requests per evaluation window.
        wafRateLimitPerIp: r.number("wafRateLimitPerIp", 10, 2_000_000_000, { integer: true }),
        accessLogExpirationDays: r.number("albAccessLogExpirationDays", 1, 3650, { integer: true }),
    };
}

function validateAlerts(r: SettingsReader): AlertSettings {
    return {
        errorRatio: r.number("alertErrorRatio", 0, 1, { exclusiveMin: true }),
        latencyP95Seconds: r.number("alertLatencyP95Seconds", 0.005, 10),
        cpuPercent: r.number("alertCpuPercent", 1, 100),
        memoryPercent: r.number("alertMemoryPercent", 1, 100),
        diskFreePercent: r.number("alertDiskFreePercent", 1, 99),
        // From 0.95: below it a 14.4x burn needs more than 100 % bad requests, so the fast page could never fire.
        sloAvailabilityTarget: r.number("sloAvailabilityTarget", 0.95, 0.99999),
        sloLatencyTarget: r.number("sloLatencyTarget", 0.95, 0.99999),
        deadMansSwitchUrl: deadMansSwitchUrl(r),
    };
}

/** An https:// URL; never echoed in the error, since it usually carries the switch's token. */
function deadMansSwitchUrl(r: SettingsReader): string | undefined {
    const v = r.rawValue("deadMansSwitchUrl");
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string" || !/^https:\/\/[A-Za-z0-9.-]+(:\d+)?(\/\S*)?$/.test(v)) {
        r.problem("deadMansSwitchUrl", "<not shown: may hold a token>", "an https:// URL of a dead man's switch (e.g. a healthchecks.io ping URL), set with pulumi config set --secret");
        return undefined;
    }
    return v;
}

/**
 * Grafana's provisioning mechanism. `provider` needs a way in from the deployer: Grafana's HTTPS name
 * (domainName with its zone, and operatorCidrs to admit). Without one, the default is `file`.
 */
function validateGrafanaAccess(
    r: SettingsReader,
    frontDoor: FrontDoorSettings,
    operatorCidrs: string[],
    foreign: ForeignSettings,
): Pick<HostSettings, "grafanaProvisioning" | "grafanaHostName"> {
    if (foreign.legacyGrafanaProvision !== undefined) {
        r.problem("grafana:provision", foreign.legacyGrafanaProvision, `no longer read: remove it and set devsecops-stack:grafanaProvisioning (${GRAFANA_PROVISIONING_MODES.join(" or ")})`);
    }
    const grafanaHostName = frontDoor.domainName !== undefined && operatorCidrs.length > 0 ? `grafana.${frontDoor.domainName}` : undefined;
    const httpsName = grafanaHostName !== undefined;
    const configured = r.rawValue("grafanaProvisioning");
    const mode = configured === undefined || configured === null || configured === "" ? (httpsName ? "provider" : "file") : r.oneOf("grafanaProvisioning", GRAFANA_PROVISIONING_MODES);
    if (mode === "provider" && !httpsName) {
        r.problem("grafanaProvisioning", mode, "file: provider needs Grafana's HTTPS name (domainName and hostedZoneId, and operatorCidrs that include the deployer); without it nothing outside the VPC reaches Grafana during pulumi up");
    }
    const pathCan = foreign.deployPathGrafanaProvisioning;
    if (pathCan !== undefined && pathCan !== "" && pathCan !== mode) {
        r.problem(
            "grafanaProvisioning",
            mode,
            `${JSON.stringify(pathCan)}, which this deploy path requires (${GRAFANA_PROVISIONING_ENV}=${pathCan}): set devsecops-stack:grafanaProvisioning: ${pathCan} in the stack file, so every path that deploys this stack uses one mechanism`,
        );
    }
    return { grafanaProvisioning: mode, grafanaHostName };
}

/** Settings from outside the project namespace that the stack reads. */
export interface ForeignSettings {
    /** The retired `grafana:provision` key (or GRAFANA_PROVISION): reported, never used. */
    legacyGrafanaProvision?: unknown;
    /** GRAFANA_PROVISIONING: the mechanism the deploy path can run (hosted runners: file). */
    deployPathGrafanaProvisioning?: string;
    /** The secret config object `appSecrets` (name → value). */
    appSecrets?: Record<string, unknown>;
}

/**
 * Checks every setting and returns the typed settings, or throws one
 * ConfigValidationError listing every bad key with its value and what is allowed.
 */
export function validateStackSettings(raw: RawSettings, foreign: ForeignSettings = {}): StackSettings {
    const unknownKeys = Object.keys(raw).filter((k) => !(k in SETTING_DEFAULTS) && k !== "appSecrets");
    const r = new SettingsReader(raw);
    for (const key of unknownKeys) {
        r.problem(key, raw[key], "a known setting (see Pulumi.yaml); check the spelling");
    }
    const hosts = validateHosts(r);
    const frontDoor = validateFrontDoor(r);
    const settings: StackSettings = {
        network: validateNetwork(r),
        audit: validateAudit(r),
        threat: validateThreat(r),
        secrets: validateSecrets(r, foreign.appSecrets),
        hosts: { ...hosts, ...validateGrafanaAccess(r, frontDoor, hosts.operatorCidrs, foreign) },
        frontDoor,
        alerts: validateAlerts(r),
    };
    if (r.problems.length > 0) throw new ConfigValidationError(r.problems);
    return settings;
}
