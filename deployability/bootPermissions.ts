import { ECR_REGISTRY_HOST, IMAGE_DIGEST } from "../components/ecrImageReference";
import { asList } from "../policy/policies/definePolicy";
import { actionMatches } from "../policy/policies/iam";
import { statementsOf } from "../policy/policies/policyDocuments";
import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";
import { HostView, hostViews } from "./hostRoles";

/**
 * Every AWS call a host makes at boot, read off its rendered scripts and configs, must be granted
 * to its role. A missing grant fails on a real account only (AccessDenied under `set -e`, or a
 * Prometheus discovery that never finds a target), so it is derived here, not hand-listed.
 */

/** AWS CLI service names whose IAM prefix differs (AWS CLI Command Reference). */
const CLI_SERVICE_PREFIX: Record<string, string> = { s3api: "s3", configservice: "config" };

/** CLI commands that are not one API call of the same name. */
const CLI_COMMAND_ACTIONS: Record<string, string[]> = {
    "ecr get-login-password": ["ecr:GetAuthorizationToken"],
    "ecr get-login": ["ecr:GetAuthorizationToken"],
    "s3 cp": ["s3:GetObject"],
    "s3 sync": ["s3:GetObject", "s3:ListBucket"],
};

/** Processes that call AWS with the host's credentials, recognised in what the host runs. */
const CREDENTIALED_PROCESSES: { pattern: RegExp; actions: string[]; what: string }[] = [
    // Docker awslogs driver: "Amazon CloudWatch Logs logging driver" (Docker docs) lists these.
    { pattern: /--log-driver[= ]awslogs/, actions: ["logs:CreateLogStream", "logs:PutLogEvents"], what: "docker's awslogs log driver" },
    { pattern: /awslogs-create-group=true/, actions: ["logs:CreateLogGroup"], what: "awslogs-create-group=true" },
    // Prometheus <ec2_sd_config>: DescribeInstances; current releases also DescribeAvailabilityZones.
    { pattern: /ec2_sd_configs:/, actions: ["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"], what: "Prometheus EC2 service discovery" },
    { pattern: /remote_write:[\s\S]*sigv4:/, actions: ["aps:RemoteWrite"], what: "Prometheus SigV4 remote write" },
    { pattern: /sns_configs:/, actions: ["sns:Publish"], what: "Alertmanager's SNS receiver" },
    { pattern: new RegExp(String.raw`docker pull[^\n]*\$image|${ECR_REGISTRY_HOST}/[^\s'"]+@${IMAGE_DIGEST}`), actions: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], what: "pulling an image from ECR" },
];

/** What AWS-managed policies the stack attaches grant (AWS Managed Policy Reference). */
export const MANAGED_POLICY_ACTIONS: Record<string, string[]> = {
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore": [
        "ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument", "ssm:DescribeDocument",
        "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters", "ssm:ListAssociations", "ssm:ListInstanceAssociations",
        "ssm:PutInventory", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult", "ssm:UpdateAssociationStatus",
        "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*",
    ],
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy": [
        "cloudwatch:PutMetricData", "ec2:DescribeVolumes", "ec2:DescribeTags", "logs:PutLogEvents", "logs:DescribeLogStreams",
        "logs:DescribeLogGroups", "logs:CreateLogStream", "logs:CreateLogGroup", "ssm:GetParameter",
    ],
};

function pascal(kebab: string): string {
    return kebab.split("-").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

/** The IAM actions a script's text needs, each with what needs it. */
export function requiredActions(texts: string[]): Map<string, string> {
    const needed = new Map<string, string>();
    for (const text of texts) {
        for (const line of text.split("\n")) {
            if (/^\s*#/.test(line)) continue;
            for (const m of line.matchAll(/(?:^|[\s;|&(`$])aws\s+([a-z0-9-]+)\s+([a-z][a-z0-9-]*)/g)) {
                const [, service, command] = m;
                const special = CLI_COMMAND_ACTIONS[`${service} ${command}`];
                const actions = special ?? [`${CLI_SERVICE_PREFIX[service] ?? service}:${pascal(command)}`];
                for (const a of actions) if (!needed.has(a)) needed.set(a, `\`aws ${service} ${command}\``);
            }
        }
        for (const p of CREDENTIALED_PROCESSES) {
            if (p.pattern.test(text)) for (const a of p.actions) if (!needed.has(a)) needed.set(a, p.what);
        }
    }
    return needed;
}

/** Actions an Allow statement grants (Deny and NotAction are not widened into grants). */
export function grantedActions(role: StackResource | undefined, rolePolicies: StackResource[]): string[] {
    if (!role) return [];
    const documents = [
        ...rolePolicies.filter((p) => p.type === "aws:iam/rolePolicy:RolePolicy").map((p) => p.inputs.policy),
        ...((role.inputs.inlinePolicies ?? []) as { policy?: string }[]).map((p) => p.policy),
    ];
    const managed = [
        ...asList(role.inputs.managedPolicyArns),
        ...rolePolicies.filter((p) => p.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((p) => String(p.inputs.policyArn)),
    ];
    return [
        ...documents.flatMap((d) => statementsOf(d).filter((s) => s.Effect === "Allow").flatMap((s) => asList(s.Action))),
        ...managed.flatMap((arn) => MANAGED_POLICY_ACTIONS[arn] ?? []),
    ];
}

export function checkBootPermissions(resources: StackResource[], views: HostView[] = hostViews(resources)): DeployabilityFinding[] {
    const findings: DeployabilityFinding[] = [];
    for (const view of views) {
        const granted = grantedActions(view.role, view.rolePolicies);
        for (const [action, why] of requiredActions(view.bootTexts)) {
            if (granted.some((g) => actionMatches(g, action))) continue;
            findings.push({
                check: "boot-permissions",
                resource: resourceKey(view.host),
                message: view.role
                    ? `${why} needs ${action}, which the host role ${view.role.name} does not grant`
                    : `${why} needs ${action}, but the host has no instance role`,
            });
        }
    }
    return findings;
}
