import {
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";

/**
 * The stack's security contract as CrossGuard policies. Each policy names the
 * controls it implements and says how to fix a violation. Checks match on type
 * tokens (not classes) so the pack needs no provider SDK at run time, and judge
 * @pulumi/aws v7 buckets together with their separate configuration resources.
 */

export interface Controls {
    cis?: string;
    fsbp?: string;
    checkov?: string;
}

export type DevSecOpsPolicy = (ResourceValidationPolicy | StackValidationPolicy) & { controls: Controls };

const T = {
    bucket: "aws:s3/bucket:Bucket",
    bucketV2: "aws:s3/bucketV2:BucketV2",
    sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    sseV2: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    pab: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    trail: "aws:cloudtrail/trail:Trail",
    instance: "aws:ec2/instance:Instance",
    launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
    volume: "aws:ebs/volume:Volume",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    sgRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    policy: "aws:iam/policy:Policy",
    userPolicy: "aws:iam/userPolicy:UserPolicy",
    groupPolicy: "aws:iam/groupPolicy:GroupPolicy",
    ecr: "aws:ecr/repository:Repository",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
    secret: "aws:secretsmanager/secret:Secret",
    rotation: "aws:secretsmanager/secretRotation:SecretRotation",
    topic: "aws:sns/topic:Topic",
    detector: "aws:guardduty/detector:Detector",
    eventRule: "aws:cloudwatch/eventRule:EventRule",
    vpc: "aws:ec2/vpc:Vpc",
    flowLog: "aws:ec2/flowLog:FlowLog",
} as const;

const BUCKETS: string[] = [T.bucket, T.bucketV2];

function resourcePolicy(
    p: Omit<ResourceValidationPolicy, "validateResource"> & { controls: Controls; types: string[] },
    check: (props: Record<string, any>, args: ResourceValidationArgs, report: ReportViolation) => void,
): DevSecOpsPolicy {
    const { types, ...rest } = p;
    return {
        ...rest,
        validateResource: (args, report) => {
            if (types.includes(args.type)) check(args.props, args, report);
        },
    };
}

function stackPolicy(
    p: Omit<StackValidationPolicy, "validateStack"> & { controls: Controls },
    check: (args: StackValidationArgs, report: ReportViolation) => void,
): DevSecOpsPolicy {
    return { ...p, validateStack: check };
}

/** The configuration resources that belong to a bucket: they name it, or depend on it. */
function belongsTo(config: PolicyResource, bucket: PolicyResource): boolean {
    const ids = [bucket.props.id, bucket.props.bucket, bucket.props.bucketName].filter(Boolean);
    return ids.includes(config.props.bucket) || config.dependencies.some((d) => d.urn === bucket.urn);
}

function bucketsWithConfig(args: StackValidationArgs, configTypes: string[]): { bucket: PolicyResource; configs: PolicyResource[] }[] {
    const configs = args.resources.filter((r) => configTypes.includes(r.type));
    return args.resources.filter((r) => BUCKETS.includes(r.type)).map((bucket) => ({ bucket, configs: configs.filter((c) => belongsTo(c, bucket)) }));
}

function statementsOf(policy: unknown): any[] {
    if (policy === undefined || policy === null || policy === "") return [];
    const doc = typeof policy === "string" ? JSON.parse(policy) : policy;
    return [doc.Statement ?? []].flat();
}

const list = (v: unknown): string[] => (v === undefined || v === null ? [] : [v].flat().map(String));

// ---------------------------------------------------------------- S3

const s3Encryption = stackPolicy(
    {
        name: "s3-bucket-default-encryption",
        description: "Every S3 bucket has default encryption (SSE-KMS or AES256). Fix: add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 2.1.1", fsbp: "S3.4", checkov: "CKV_AWS_19, CKV_AWS_145" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWithConfig(args, [T.sse, T.sseV2])) {
            const inline = bucket.props.serverSideEncryptionConfiguration?.rule?.applyServerSideEncryptionByDefault?.sseAlgorithm;
            const fromConfig = configs.some((c) => list(c.props.rules?.map((r: any) => r.applyServerSideEncryptionByDefault?.sseAlgorithm)).some(Boolean));
            if (!inline && !fromConfig) report(`bucket ${bucket.name} has no default encryption`, bucket.urn);
        }
    },
);

const s3PublicAccessBlock = stackPolicy(
    {
        name: "s3-public-access-block",
        description: "Every S3 bucket has a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true. Fix: add one with all four flags.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 2.1.4", fsbp: "S3.8", checkov: "CKV_AWS_53, CKV_AWS_54, CKV_AWS_55, CKV_AWS_56" },
    },
    (args, report) => {
        const flags = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];
        for (const { bucket, configs } of bucketsWithConfig(args, [T.pab])) {
            if (configs.length === 0) {
                report(`bucket ${bucket.name} has no public access block`, bucket.urn);
                continue;
            }
            const off = flags.filter((f) => !configs.some((c) => c.props[f] === true));
            if (off.length > 0) report(`bucket ${bucket.name}: public access block flags not true: ${off.join(", ")}`, bucket.urn);
        }
    },
);

const s3TlsOnly = stackPolicy(
    {
        name: "s3-tls-only",
        description: "Every S3 bucket's policy denies requests without TLS (Deny when aws:SecureTransport is false). Fix: add that statement to the bucket policy.",
        enforcementLevel: "advisory",
        controls: { fsbp: "S3.5", checkov: "CKV_AWS_379" },
    },
    (args, report) => {
        for (const { bucket, configs } of bucketsWithConfig(args, [T.bucketPolicy])) {
            const denies = configs.some((c) =>
                statementsOf(c.props.policy).some((s) => s.Effect === "Deny" && String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false"),
            );
            if (!denies) report(`bucket ${bucket.name} does not deny requests without TLS`, bucket.urn);
        }
    },
);

// ---------------------------------------------------------------- CloudTrail

const trailMultiRegion = resourcePolicy(
    {
        name: "cloudtrail-multi-region",
        description: "CloudTrail trails are multi-region and include global service events. Fix: isMultiRegionTrail: true, includeGlobalServiceEvents: true.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.1", fsbp: "CloudTrail.1", checkov: "CKV_AWS_67" },
        types: [T.trail],
    },
    (props, _a, report) => {
        if (props.isMultiRegionTrail !== true) report("trail is not multi-region (isMultiRegionTrail is not true)");
        if (props.includeGlobalServiceEvents === false) report("trail excludes global service events");
    },
);

const trailValidation = resourcePolicy(
    {
        name: "cloudtrail-log-file-validation",
        description: "CloudTrail trails validate their log files. Fix: enableLogFileValidation: true.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.2", fsbp: "CloudTrail.4", checkov: "CKV_AWS_36" },
        types: [T.trail],
    },
    (props, _a, report) => {
        if (props.enableLogFileValidation !== true) report("trail does not validate log files (enableLogFileValidation is not true)");
    },
);

const trailManagementEvents = resourcePolicy(
    {
        name: "cloudtrail-management-events",
        description: "CloudTrail trails record all (read and write) management events. Fix: an event selector with readWriteType All and includeManagementEvents true (or no selectors).",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.1", fsbp: "CloudTrail.1" },
        types: [T.trail],
    },
    (props, _a, report) => {
        const selectors: any[] = props.eventSelectors ?? [];
        if (props.advancedEventSelectors?.length) return;
        if (selectors.length === 0) return; // CloudTrail's default: all management events
        const ok = selectors.some((s) => s.includeManagementEvents !== false && (s.readWriteType ?? "All") === "All");
        if (!ok) report("no event selector records all management events (readWriteType All, includeManagementEvents true)");
    },
);

const trailKms = resourcePolicy(
    {
        name: "cloudtrail-kms-encryption",
        description: "CloudTrail log files are encrypted with a customer-managed KMS key. Fix: set kmsKeyId (auditEncryption: kms).",
        enforcementLevel: "advisory",
        controls: { cis: "CIS 3.5", fsbp: "CloudTrail.2", checkov: "CKV_AWS_35" },
        types: [T.trail],
    },
    (props, _a, report) => {
        if (!props.kmsKeyId) report("trail logs are not encrypted with a KMS key");
    },
);

// ---------------------------------------------------------------- EC2

const imdsv2 = resourcePolicy(
    {
        name: "ec2-imdsv2-required",
        description: "Instances and launch templates require IMDSv2 session tokens. Fix: metadataOptions: { httpTokens: \"required\" }.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 5.6", fsbp: "EC2.8", checkov: "CKV_AWS_79" },
        types: [T.instance, T.launchTemplate],
    },
    (props, _a, report) => {
        const m = props.metadataOptions;
        if (m?.httpEndpoint === "disabled") return;
        if (m?.httpTokens !== "required") report(`IMDSv1 allowed: metadataOptions.httpTokens is ${JSON.stringify(m?.httpTokens ?? "optional")}, not "required"`);
    },
);

const ebsEncrypted = resourcePolicy(
    {
        name: "ec2-ebs-encrypted",
        description: "Root and attached EBS volumes are encrypted. Fix: rootBlockDevice.encrypted, every ebsBlockDevices[].encrypted and aws.ebs.Volume encrypted: true.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "EC2.3, EC2.7", checkov: "CKV_AWS_3, CKV_AWS_8" },
        types: [T.instance, T.volume],
    },
    (props, args, report) => {
        if (args.type === T.volume) {
            if (props.encrypted !== true) report("EBS volume is not encrypted");
            return;
        }
        if (props.rootBlockDevice?.encrypted !== true) report("root volume is not encrypted (rootBlockDevice.encrypted is not true)");
        for (const d of props.ebsBlockDevices ?? []) if (d.encrypted !== true) report(`EBS block device ${d.deviceName} is not encrypted`);
    },
);

const noPublicIp = resourcePolicy(
    {
        name: "ec2-no-public-ip",
        description: "Only hosts that serve operators (tag OperatorFacing=true) get a public IP. Fix: associatePublicIpAddress: false and a private subnet.",
        enforcementLevel: "advisory",
        controls: { fsbp: "EC2.9", checkov: "CKV_AWS_88" },
        types: [T.instance],
    },
    (props, _a, report) => {
        if (props.associatePublicIpAddress === true && props.tags?.OperatorFacing !== "true") report("instance has a public IP but is not tagged OperatorFacing=true");
    },
);

/** What plaintext secrets look like in user data. */
export const USER_DATA_SECRET_PATTERNS: { what: string; pattern: RegExp }[] = [
    { what: "an AWS access key id", pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
    { what: "an AWS secret access key", pattern: /aws_secret_access_key\s*[=:]/i },
    { what: "a private key", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
    { what: "a password assignment", pattern: /(^|[^a-z])pass(word|wd)?\s*[=:]\s*['"]?[^\s'"$]{4,}/i },
];

const userDataSecrets = resourcePolicy(
    {
        name: "ec2-user-data-no-secrets",
        description: "User data carries no plaintext secrets (AWS keys, private keys, password=…). Fix: store the secret in Secrets Manager and read it at boot with the instance role.",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_46" },
        types: [T.instance, T.launchTemplate],
    },
    (props, _a, report) => {
        let text = String(props.userData ?? "");
        if (props.userDataBase64) text += Buffer.from(String(props.userDataBase64), "base64").toString("utf8");
        for (const { what, pattern } of USER_DATA_SECRET_PATTERNS) if (pattern.test(text)) report(`user data contains ${what}`);
    },
);

// ---------------------------------------------------------------- Security groups

interface Ingress {
    from: number;
    to: number;
    protocol: string;
    cidrs: string[];
}

function ingressOf(type: string, props: Record<string, any>): Ingress[] {
    const n = (v: unknown, d: number) => (v === undefined || v === null ? d : Number(v));
    if (type === T.sg) {
        return (props.ingress ?? []).map((r: any) => ({ from: n(r.fromPort, 0), to: n(r.toPort, 65535), protocol: String(r.protocol), cidrs: [...list(r.cidrBlocks), ...list(r.ipv6CidrBlocks)] }));
    }
    if (type === T.sgRule) {
        if (props.type !== "ingress") return [];
        return [{ from: n(props.fromPort, 0), to: n(props.toPort, 65535), protocol: String(props.protocol), cidrs: [...list(props.cidrBlocks), ...list(props.ipv6CidrBlocks)] }];
    }
    if (type === T.ingressRule) {
        return [{ from: n(props.fromPort, 0), to: n(props.toPort, 65535), protocol: String(props.ipProtocol), cidrs: [...list(props.cidrIpv4), ...list(props.cidrIpv6)] }];
    }
    return [];
}

const OPEN = ["0.0.0.0/0", "::/0"];
const allPorts = (r: Ingress) => r.protocol === "-1" || r.protocol === "all";
const covers = (r: Ingress, port: number) => allPorts(r) || (r.from <= port && port <= r.to);

const sgOpenIngress = resourcePolicy(
    {
        name: "sg-no-open-ingress",
        description: "No ingress from 0.0.0.0/0 or ::/0 except TCP 80/443. Fix: admit the source security group or the operators' CIDRs.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "EC2.18, EC2.19", checkov: "CKV_AWS_24, CKV_AWS_25, CKV_AWS_260" },
        types: [T.sg, T.sgRule, T.ingressRule],
    },
    (props, args, report) => {
        for (const r of ingressOf(args.type, props)) {
            const open = r.cidrs.filter((c) => OPEN.includes(c));
            const webOnly = !allPorts(r) && [80, 443].includes(r.from) && r.from === r.to;
            if (open.length > 0 && !webOnly) report(`ingress ${allPorts(r) ? "on all ports" : `on ${r.from}-${r.to}`} from ${open.join(", ")}`);
        }
    },
);

const sgAdminPorts = resourcePolicy(
    {
        name: "sg-no-remote-admin-ports",
        description: "No ingress on 22 (SSH) or 3389 (RDP) from anywhere: use SSM Session Manager. Fix: remove the rule.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 5.2, 5.3", fsbp: "EC2.13, EC2.14", checkov: "CKV_AWS_24, CKV_AWS_25" },
        types: [T.sg, T.sgRule, T.ingressRule],
    },
    (props, args, report) => {
        for (const r of ingressOf(args.type, props)) {
            for (const port of [22, 3389]) if (covers(r, port)) report(`ingress admits port ${port}`);
        }
    },
);

// ---------------------------------------------------------------- IAM

const POLICY_DOCS: Record<string, (p: Record<string, any>) => unknown[]> = {
    [T.rolePolicy]: (p) => [p.policy],
    [T.policy]: (p) => [p.policy],
    [T.userPolicy]: (p) => [p.policy],
    [T.groupPolicy]: (p) => [p.policy],
    [T.role]: (p) => (p.inlinePolicies ?? []).map((i: any) => i.policy),
};

function allowStatements(type: string, props: Record<string, any>): any[] {
    return (POLICY_DOCS[type]?.(props) ?? []).flatMap(statementsOf).filter((s) => s.Effect === "Allow");
}

const iamNoStarAction = resourcePolicy(
    {
        name: "iam-no-wildcard-action",
        description: "No IAM statement allows Action \"*\". Fix: list the actions the principal needs.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 1.16", fsbp: "IAM.1", checkov: "CKV_AWS_62, CKV_AWS_63" },
        types: Object.keys(POLICY_DOCS),
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) if (list(s.Action).includes("*")) report(`statement ${s.Sid ?? "(no Sid)"} allows Action "*"`);
    },
);

const READ_ONLY = /^[a-z0-9-]+:(Describe|Get|List|BatchGet)[A-Za-z]*$/;

const iamNoStarWrite = resourcePolicy(
    {
        name: "iam-no-wildcard-resource-write",
        description: "No IAM statement allows write actions on Resource \"*\". Fix: name the resources (ARNs) the actions apply to.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "IAM.21", checkov: "CKV_AWS_111, CKV_AWS_355" },
        types: Object.keys(POLICY_DOCS),
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) {
            if (!list(s.Resource).includes("*")) continue;
            const writes = list(s.Action).filter((a) => !READ_ONLY.test(a));
            if (writes.length > 0) report(`statement ${s.Sid ?? "(no Sid)"} allows ${writes.join(", ")} on Resource "*"`);
        }
    },
);

const iamBoundary = resourcePolicy(
    {
        name: "iam-permissions-boundary",
        description: "Roles carry the organisation's permissions boundary when the pack's config sets requiredPermissionsBoundaryArn. Fix: permissionsBoundary: <that ARN>.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_274" },
        configSchema: { properties: { requiredPermissionsBoundaryArn: { type: "string" } } },
        types: [T.role],
    },
    (props, args, report) => {
        const required = args.getConfig<{ requiredPermissionsBoundaryArn?: string }>().requiredPermissionsBoundaryArn;
        if (required && props.permissionsBoundary !== required) report(`role has no permissions boundary ${required}`);
    },
);

// ---------------------------------------------------------------- ECR, logs, secrets, SNS, GuardDuty

const ecrScan = resourcePolicy(
    {
        name: "ecr-scan-on-push",
        description: "ECR repositories scan images on push. Fix: imageScanningConfiguration: { scanOnPush: true }.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "ECR.1", checkov: "CKV_AWS_163" },
        types: [T.ecr],
    },
    (props, _a, report) => {
        if (props.imageScanningConfiguration?.scanOnPush !== true) report("repository does not scan images on push");
    },
);

const ecrImmutable = resourcePolicy(
    {
        name: "ecr-immutable-tags",
        description: "ECR image tags are immutable. Fix: imageTagMutability: \"IMMUTABLE\".",
        enforcementLevel: "mandatory",
        controls: { fsbp: "ECR.2", checkov: "CKV_AWS_51" },
        types: [T.ecr],
    },
    (props, _a, report) => {
        if (!String(props.imageTagMutability ?? "MUTABLE").startsWith("IMMUTABLE")) report(`image tags are ${props.imageTagMutability ?? "MUTABLE"}`);
    },
);

const ecrKms = resourcePolicy(
    {
        name: "ecr-kms-encryption",
        description: "ECR repositories are encrypted with KMS. Fix: encryptionConfigurations: [{ encryptionType: \"KMS\" }].",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_136" },
        types: [T.ecr],
    },
    (props, _a, report) => {
        if (!(props.encryptionConfigurations ?? []).some((e: any) => e.encryptionType === "KMS")) report("repository is not encrypted with KMS");
    },
);

const logRetention = resourcePolicy(
    {
        name: "log-group-retention-set",
        description: "CloudWatch log groups have a retention period. Fix: retentionInDays (see the stack's *RetentionDays settings).",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_66" },
        types: [T.logGroup],
    },
    (props, _a, report) => {
        if (!props.retentionInDays) report("log group keeps logs forever (no retentionInDays)");
    },
);

const logLongRetention = resourcePolicy(
    {
        name: "log-group-one-year-kms",
        description: "Log groups keep a year (365 days) and use a KMS key. Advisory: the stack's 30/90-day defaults are a documented waiver of CloudWatch.16 / CKV_AWS_338 (cost vs. forensic window); raise the *RetentionDays settings where evidence must last longer.",
        enforcementLevel: "advisory",
        controls: { fsbp: "CloudWatch.16", checkov: "CKV_AWS_338, CKV_AWS_158" },
        types: [T.logGroup],
    },
    (props, _a, report) => {
        if ((props.retentionInDays ?? 0) < 365) report(`retention ${props.retentionInDays} days is under 365`);
        if (!props.kmsKeyId) report("log group is not encrypted with a KMS key");
    },
);

const secretRotation = stackPolicy(
    {
        name: "secrets-rotation",
        description: "Secrets Manager secrets rotate. Fix: set secretRotationLambdaArn (an aws.secretsmanager.SecretRotation per secret).",
        enforcementLevel: "advisory",
        controls: { fsbp: "SecretsManager.1", checkov: "CKV2_AWS_57" },
    },
    (args, report) => {
        const rotations = args.resources.filter((r) => r.type === T.rotation);
        for (const s of args.resources.filter((r) => r.type === T.secret)) {
            const rotated = rotations.some((r) => r.props.secretId === s.props.id || r.props.secretId === s.props.arn || r.dependencies.some((d) => d.urn === s.urn));
            if (!rotated) report(`secret ${s.name} has no rotation`, s.urn);
        }
    },
);

const snsEncrypted = resourcePolicy(
    {
        name: "sns-topic-encrypted",
        description: "SNS topics are encrypted with KMS. Fix: kmsMasterKeyId (a customer-managed key EventBridge and CloudWatch may use).",
        enforcementLevel: "mandatory",
        controls: { fsbp: "SNS.1", checkov: "CKV_AWS_26" },
        types: [T.topic],
    },
    (props, _a, report) => {
        if (!props.kmsMasterKeyId) report("topic is not encrypted (no kmsMasterKeyId)");
    },
);

const guardDutyEnabled = resourcePolicy(
    {
        name: "guardduty-enabled",
        description: "GuardDuty detectors are enabled. Fix: enable: true.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "GuardDuty.1", checkov: "CKV_AWS_238" },
        types: [T.detector],
    },
    (props, _a, report) => {
        if (props.enable === false) report("detector is disabled");
    },
);

const stackBaseline = stackPolicy(
    {
        name: "stack-security-baseline",
        description: "The stack has a CloudTrail trail, GuardDuty (a detector, or findings routed from an adopted one) and flow logs on every VPC. Fix: compose AuditTrail, ThreatDetection and Network.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.1, 3.9", fsbp: "CloudTrail.1, GuardDuty.1, EC2.6", checkov: "CKV2_AWS_11" },
    },
    (args, report) => {
        const of = (type: string) => args.resources.filter((r) => r.type === type);
        if (of(T.trail).length === 0) report("no CloudTrail trail in the stack");
        const adopted = of(T.eventRule).some((r) => String(r.props.eventPattern ?? "").includes("aws.guardduty"));
        if (of(T.detector).length === 0 && !adopted) report("no GuardDuty detector in the stack");
        for (const vpc of of(T.vpc)) {
            const logged = of(T.flowLog).some((f) => f.props.vpcId === vpc.props.id || f.dependencies.some((d) => d.urn === vpc.urn));
            if (!logged) report(`VPC ${vpc.name} has no flow log`, vpc.urn);
        }
    },
);

export const REQUIRED_TAGS = ["Project", "Stack", "ManagedBy"];

const requiredTags: DevSecOpsPolicy = {
    name: "required-tags",
    description: "Taggable resources carry Project, Stack and ManagedBy. Fix: tags: standardTags(<component>).",
    enforcementLevel: "advisory",
    controls: {},
    validateResource: (args, report) => {
        if (!args.type.startsWith("aws:") || !("tags" in args.props)) return;
        const missing = REQUIRED_TAGS.filter((t) => !args.props.tags?.[t]);
        if (missing.length > 0) report(`missing tags: ${missing.join(", ")}`);
    },
};

export const devsecopsPolicies: DevSecOpsPolicy[] = [
    s3Encryption,
    s3PublicAccessBlock,
    s3TlsOnly,
    trailMultiRegion,
    trailValidation,
    trailManagementEvents,
    trailKms,
    imdsv2,
    ebsEncrypted,
    noPublicIp,
    userDataSecrets,
    sgOpenIngress,
    sgAdminPorts,
    iamNoStarAction,
    iamNoStarWrite,
    iamBoundary,
    ecrScan,
    ecrImmutable,
    ecrKms,
    logRetention,
    logLongRetention,
    secretRotation,
    snsEncrypted,
    guardDutyEnabled,
    stackBaseline,
    requiredTags,
];

export type { EnforcementLevel };
