import { AWS } from "./awsTypes";
import { asList, resourcePolicy } from "./definePolicy";
import { PolicyStatement, statementsOf } from "./policyDocuments";

/** Where each IAM type carries its policy documents. */
const DOCUMENTS: Record<string, (props: Record<string, any>) => unknown[]> = {
    [AWS.rolePolicy]: (p) => [p.policy],
    [AWS.policy]: (p) => [p.policy],
    [AWS.userPolicy]: (p) => [p.policy],
    [AWS.groupPolicy]: (p) => [p.policy],
    [AWS.role]: (p) => (p.inlinePolicies ?? []).map((i: any) => i.policy),
};

/** AWS managed policies that grant Action "*" on Resource "*". */
const ADMIN_POLICY_ARNS = /^arn:aws[a-z-]*:iam::aws:policy\/(AdministratorAccess|PowerUserAccess)$/;
const ATTACHMENTS: Record<string, (props: Record<string, any>) => string[]> = {
    [AWS.rolePolicyAttachment]: (p) => asList(p.policyArn),
    [AWS.userPolicyAttachment]: (p) => asList(p.policyArn),
    [AWS.groupPolicyAttachment]: (p) => asList(p.policyArn),
    [AWS.policyAttachment]: (p) => asList(p.policyArn),
    [AWS.role]: (p) => asList(p.managedPolicyArns),
};

function allowStatements(type: string, props: Record<string, any>): PolicyStatement[] {
    return (DOCUMENTS[type]?.(props) ?? []).flatMap(statementsOf).filter((s) => s.Effect === "Allow");
}

const sid = (s: PolicyStatement) => s.Sid ?? "(no Sid)";

export const noWildcardAction = resourcePolicy(
    {
        name: "iam-no-wildcard-action",
        description: 'No IAM statement allows Action "*", and no AWS administrator policy (AdministratorAccess, PowerUserAccess) is attached. Fix: list the actions the principal needs.',
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 1.16", fsbp: "IAM.1", checkov: "CKV_AWS_62, CKV_AWS_63" },
        types: [...new Set([...Object.keys(DOCUMENTS), ...Object.keys(ATTACHMENTS)])],
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) if (asList(s.Action).includes("*")) report(`statement ${sid(s)} allows Action "*"`);
        for (const arn of ATTACHMENTS[args.type]?.(props) ?? []) if (ADMIN_POLICY_ARNS.test(arn)) report(`attaches ${arn}`);
    },
);

/** Reads that AWS only grants on "*" or that disclose nothing to write with. */
const READ_ONLY_ACTION = /^[a-z0-9-]+:(Describe|Get|List|BatchGet)[A-Za-z]*$/;

/**
 * Actions that support no resource-level permission, so "*" is the only Resource AWS accepts
 * (Service Authorization Reference: the action's "Resource types" column is empty).
 */
export const WILDCARD_ONLY_ACTIONS = [
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "sts:GetCallerIdentity",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
    "logs:DescribeLogGroups",
];

/** Condition keys that narrow a statement on Resource "*" to particular resources, accounts or callers. */
const CONSTRAINING_CONDITION_KEY = /^(kms:ViaService|kms:CallerAccount|aws:ResourceAccount|aws:ResourceOrgID|aws:SourceArn|aws:SourceAccount|aws:ResourceTag\/|[a-z0-9-]+:ResourceTag\/|cloudwatch:namespace|ec2:Vpc|ec2:InstanceProfile)/i;

export function constrainedByCondition(s: PolicyStatement): boolean {
    return Object.values(s.Condition ?? {}).some((block) => Object.keys(block ?? {}).some((k) => CONSTRAINING_CONDITION_KEY.test(k)));
}

export const noWildcardResourceWrite = resourcePolicy(
    {
        name: "iam-no-wildcard-resource-write",
        description:
            'No IAM statement allows write actions (anything but Describe*/Get*/List*/BatchGet*) on Resource "*", unless AWS grants the action only on "*" (e.g. cloudwatch:PutMetricData, ecr:GetAuthorizationToken, ssmmessages:*) or a Condition narrows it (kms:ViaService, aws:ResourceTag/..., aws:SourceArn...). Fix: name the resources (ARNs) the actions apply to.',
        enforcementLevel: "mandatory",
        controls: { fsbp: "IAM.21", checkov: "CKV_AWS_290" },
        types: Object.keys(DOCUMENTS),
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) {
            if (!asList(s.Resource).includes("*") || constrainedByCondition(s)) continue;
            const writes = asList(s.Action).filter((a) => !READ_ONLY_ACTION.test(a) && !WILDCARD_ONLY_ACTIONS.includes(a));
            if (writes.length > 0) report(`statement ${sid(s)} allows ${writes.join(", ")} on Resource "*"`);
        }
    },
);

export const permissionsBoundary = resourcePolicy(
    {
        name: "iam-permissions-boundary",
        description: "Roles carry the organisation's permissions boundary when the pack's config sets requiredPermissionsBoundaryArn. Fix: permissionsBoundary: <that ARN> on the role.",
        enforcementLevel: "advisory",
        controls: {},
        configSchema: { properties: { requiredPermissionsBoundaryArn: { type: "string", default: "" } } },
        types: [AWS.role],
    },
    (props, args, report) => {
        const required = args.getConfig<{ requiredPermissionsBoundaryArn?: string }>().requiredPermissionsBoundaryArn;
        if (required && props.permissionsBoundary !== required) report(`role has no permissions boundary ${required}`);
    },
);

/** Reads that disclose data (the exfiltration path) or that take over IAM, judged on Resource "*". */
const DATA_READ_ACTION = /^(s3:GetObject[A-Za-z]*|s3:\*|secretsmanager:GetSecretValue|secretsmanager:\*|ssm:GetParameters?|ssm:GetParametersByPath|ssm:\*|kms:Decrypt|kms:\*)$/i;

export const noDataReadOnWildcard = resourcePolicy(
    {
        name: "iam-no-data-read-on-wildcard",
        description:
            'No IAM statement reads every secret, object, parameter or key (s3:GetObject, secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt on Resource "*" without a narrowing Condition), and none grants iam:* on any resource (full IAM is privilege escalation). Fix: name the secrets, buckets and keys; list the IAM actions needed.',
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_288, CKV_AWS_286" },
        types: Object.keys(DOCUMENTS),
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) {
            const actions = asList(s.Action);
            if (actions.some((a) => a === "iam:*")) report(`statement ${sid(s)} allows iam:* (full IAM)`);
            if (!asList(s.Resource).includes("*") || constrainedByCondition(s)) continue;
            const reads = actions.filter((a) => DATA_READ_ACTION.test(a));
            if (reads.length > 0) report(`statement ${sid(s)} allows ${reads.join(", ")} on Resource "*"`);
        }
    },
);

const GITHUB_OIDC = "token.actions.githubusercontent.com";

/** Trust (assume-role) policies: who may become the role. */
export const trustPolicyScoped = resourcePolicy(
    {
        name: "iam-trust-policy-scoped",
        description: `Role trust policies name their principals: no Principal "*" (or AWS "*") without a narrowing Condition, no account outside the pack's trustedAccountIds (when set), and a GitHub Actions OIDC trust (${GITHUB_OIDC}) checks ${GITHUB_OIDC}:sub, not only :aud, or any repository's workflow can assume the role. Fix: name the service or role ARN; add a StringEquals/StringLike condition on ${GITHUB_OIDC}:sub (repo:<owner>/<repo>:...).`,
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_60, CKV_AWS_358" },
        configSchema: { properties: { trustedAccountIds: { type: "array", items: { type: "string" }, default: [] } } },
        types: [AWS.role],
    },
    (props, args, report) => {
        const trusted = args.getConfig<{ trustedAccountIds?: string[] }>().trustedAccountIds ?? [];
        for (const s of statementsOf(props.assumeRolePolicy).filter((x) => x.Effect === "Allow")) {
            const principal: any = s.Principal;
            const aws = principal === "*" ? ["*"] : asList(principal?.AWS);
            if (aws.includes("*") && !constrainedByCondition(s)) report(`statement ${sid(s)} lets any principal assume the role`);
            for (const p of aws) {
                const account = /^(\d{12})$/.exec(p)?.[1] ?? /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(p)?.[1];
                if (account && trusted.length > 0 && !trusted.includes(account)) report(`statement ${sid(s)} trusts account ${account}, which is not in trustedAccountIds`);
            }
            if (asList(principal?.Federated).some((f) => f.includes(GITHUB_OIDC))) {
                const keys = Object.values(s.Condition ?? {}).flatMap((block) => Object.keys(block ?? {}));
                if (!keys.includes(`${GITHUB_OIDC}:sub`)) report(`statement ${sid(s)} trusts GitHub Actions OIDC without a ${GITHUB_OIDC}:sub condition (any repository could assume the role)`);
            }
        }
    },
);
