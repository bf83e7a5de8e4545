import { AWS } from "./awsTypes";
import { asList, resourcePolicy } from "./definePolicy";
import { isAnyPrincipal, PolicyStatement, statementsOf } from "./policyDocuments";

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
        controls: { cis: "CIS 1.16", fsbp: "IAM.1", checkov: "CKV_AWS_62, CKV_AWS_63, CKV_AWS_274, CKV2_AWS_51" },
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
const CONSTRAINING_CONDITION_KEY = /^(kms:ViaService|kms:CallerAccount|aws:ResourceAccount|aws:ResourceOrgID|aws:SourceArn|aws:SourceAccount|aws:SourceOwner|aws:PrincipalOrgID|aws:PrincipalAccount|aws:PrincipalArn|aws:SourceVpce?|aws:ResourceTag\/|[a-z0-9-]+:ResourceTag\/|cloudwatch:namespace|ec2:Vpc|ec2:InstanceProfile)/i;

export function constrainedByCondition(s: PolicyStatement): boolean {
    return Object.values(s.Condition ?? {}).some((block) => Object.keys(block ?? {}).some((k) => CONSTRAINING_CONDITION_KEY.test(k)));
}

export const noWildcardResourceWrite = resourcePolicy(
    {
        name: "iam-no-wildcard-resource-write",
        description:
            'No IAM statement allows write actions (anything but Describe*/Get*/List*/BatchGet*) on Resource "*", unless AWS grants the action only on "*" (e.g. cloudwatch:PutMetricData, ecr:GetAuthorizationToken, ssmmessages:*) or a Condition narrows it (kms:ViaService, aws:ResourceTag/..., aws:SourceArn...). Fix: name the resources (ARNs) the actions apply to.',
        enforcementLevel: "mandatory",
        controls: { fsbp: "IAM.21", checkov: "CKV_AWS_290, CKV_AWS_289 (both narrowed: a constraining Condition or an action AWS grants only on * passes)" },
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

/** IAM action patterns (`*` and `?` wildcards) match case-insensitively, as IAM evaluates them. */
export function actionMatches(pattern: string, action: string): boolean {
    const escaped = pattern
        .split("")
        .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
        .join("");
    return new RegExp("^" + escaped + "$", "i").test(action);
}

/** Whether any of the allowed action patterns grants `action`. */
const grants = (patterns: string[], action: string) => patterns.some((p) => actionMatches(p, action));

/** Actions an Allow statement grants on Resource "*", the way cloudsplaining reads "unrestricted". */
function unrestrictedActions(statements: PolicyStatement[]): string[] {
    return statements.filter((s) => asList(s.Resource).includes("*")).flatMap((s) => asList(s.Action));
}

/**
 * Reads that hand over data (cloudsplaining's READ_ONLY_DATA_EXFILTRATION_ACTIONS, which Checkov's
 * CKV_AWS_288 applies), plus kms:Decrypt: stricter than Checkov, since decrypting every key reads
 * every encrypted secret and object.
 */
export const DATA_EXFILTRATION_ACTIONS = ["s3:GetObject", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "secretsmanager:GetSecretValue", "kms:Decrypt"];

export const noDataReadOnWildcard = resourcePolicy(
    {
        name: "iam-no-data-read-on-wildcard",
        description:
            'No IAM statement reads every secret, object, parameter or key (s3:GetObject, secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt — or a wildcard that grants one — on Resource "*" without a narrowing Condition), and none grants iam:* on any resource (full IAM is privilege escalation). Fix: name the secrets, buckets and keys; list the IAM actions needed.',
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_288 (narrowed: a constraining Condition passes; stricter: kms:Decrypt too), CKV2_AWS_40" },
        types: Object.keys(DOCUMENTS),
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) {
            const actions = asList(s.Action);
            if (actions.some((a) => a.toLowerCase() === "iam:*")) report(`statement ${sid(s)} allows iam:* (full IAM)`);
            if (!asList(s.Resource).includes("*") || constrainedByCondition(s)) continue;
            const reads = DATA_EXFILTRATION_ACTIONS.filter((a) => grants(actions, a));
            if (reads.length > 0) report(`statement ${sid(s)} allows ${reads.join(", ")} on Resource "*"`);
        }
    },
);

/**
 * Privilege-escalation methods (Rhino Security Labs, as cloudsplaining's PRIVILEGE_ESCALATION_METHODS
 * lists them and Checkov's CKV_AWS_286 applies them): a document escalates when it allows every
 * action of one method on Resource "*".
 */
export const PRIVILEGE_ESCALATION_METHODS: Record<string, string[]> = {
    CreateAccessKey: ["iam:CreateAccessKey"],
    CreateLoginProfile: ["iam:CreateLoginProfile"],
    UpdateLoginProfile: ["iam:UpdateLoginProfile"],
    AddUserToGroup: ["iam:AddUserToGroup"],
    CreateNewPolicyVersion: ["iam:CreatePolicyVersion"],
    SetExistingDefaultPolicyVersion: ["iam:SetDefaultPolicyVersion"],
    AttachUserPolicy: ["iam:AttachUserPolicy"],
    AttachGroupPolicy: ["iam:AttachGroupPolicy"],
    AttachRolePolicy: ["iam:AttachRolePolicy", "sts:AssumeRole"],
    PutUserPolicy: ["iam:PutUserPolicy"],
    PutGroupPolicy: ["iam:PutGroupPolicy"],
    PutRolePolicy: ["iam:PutRolePolicy", "sts:AssumeRole"],
    UpdateRolePolicyToAssumeIt: ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
    CreateEC2WithExistingIP: ["iam:PassRole", "ec2:RunInstances"],
    PassExistingRoleToNewLambdaThenInvoke: ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
    PassExistingRoleToNewLambdaThenTriggerWithNewDynamo: ["iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping", "dynamodb:CreateTable", "dynamodb:PutItem"],
    PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo: ["iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"],
    PassExistingRoleToNewGlueDevEndpoint: ["iam:PassRole", "glue:CreateDevEndpoint"],
    PassExistingRoleToCloudFormation: ["iam:PassRole", "cloudformation:CreateStack"],
    PassExistingRoleToNewDataPipeline: ["iam:PassRole", "datapipeline:CreatePipeline"],
    UpdateExistingGlueDevEndpoint: ["glue:UpdateDevEndpoint"],
    EditExistingLambdaFunctionWithRole: ["lambda:UpdateFunctionCode"],
};

/**
 * Actions that return credentials (cloudsplaining's ACTIONS_THAT_RETURN_CREDENTIALS, Checkov's
 * CKV_AWS_287), less ecr:GetAuthorizationToken, which Checkov excludes: AWS grants it only on "*".
 */
export const CREDENTIAL_ACTIONS = [
    "chime:CreateApiKey", "codepipeline:PollForJobs", "cognito-identity:GetOpenIdToken", "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "cognito-identity:GetCredentialsForIdentity", "cognito-idp:GetSigningCertificate", "connect:GetFederationToken", "connect:GetFederationTokens",
    "ec2:GetPasswordData", "gamelift:RequestUploadCredentials", "gamelift:GetInstanceAccess", "iam:CreateAccessKey", "iam:CreateLoginProfile",
    "iam:CreateServiceSpecificCredential", "iam:ResetServiceSpecificCredential", "iam:UpdateAccessKey", "lightsail:GetInstanceAccessDetails",
    "lightsail:DownloadDefaultKeyPair", "lightsail:GetRelationalDatabaseMasterUserPassword", "mediapackage:RotateChannelCredentials",
    "mediapackage:RotateIngestEndpointCredentials", "rds-db:connect", "redshift:GetClusterCredentials", "sso:GetRoleCredentials", "sts:AssumeRole",
    "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:GetFederationToken", "sts:GetSessionToken",
];

export const noPrivilegeEscalation = resourcePolicy(
    {
        name: "iam-no-privilege-escalation",
        description:
            'No IAM policy document allows, on Resource "*", every action of a known privilege-escalation method (e.g. iam:PassRole with ec2:RunInstances, iam:CreatePolicyVersion, lambda:UpdateFunctionCode), or an action that returns credentials (sts:AssumeRole, iam:CreateAccessKey, ...; ecr:GetAuthorizationToken excepted). Statements of one document combine, wildcards count. Fix: name the roles, functions and users the actions apply to.',
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_286, CKV_AWS_287" },
        types: Object.keys(DOCUMENTS),
    },
    (props, args, report) => {
        for (const document of DOCUMENTS[args.type]?.(props) ?? []) {
            const unrestricted = unrestrictedActions(statementsOf(document).filter((s) => s.Effect === "Allow"));
            if (!unrestricted.length) continue;
            for (const [method, actions] of Object.entries(PRIVILEGE_ESCALATION_METHODS)) {
                if (actions.every((a) => grants(unrestricted, a))) report(`allows privilege escalation ${method} (${actions.join(", ")}) on Resource "*"`);
            }
            const credentials = CREDENTIAL_ACTIONS.filter((a) => grants(unrestricted, a));
            if (credentials.length) report(`allows actions that return credentials on Resource "*": ${credentials.join(", ")}`);
        }
    },
);

const GITHUB_OIDC = "token.actions.githubusercontent.com";
/** Claims a workflow can choose for itself (Checkov's gh_abusable_claims): trusting them alone trusts any repository. */
const ABUSABLE_GITHUB_CLAIMS = ["workflow", "environment", "ref", "context", "head_ref", "base_ref"];
/** owner/repo (Checkov's gh_repo_regex, anchored at the start as Python's re.match is). */
const GITHUB_REPO = /^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*\/[^/]+/;

/**
 * What is wrong with a GitHub OIDC trust's `sub` condition, as Checkov's CKV_AWS_358 judges it
 * (GithubActionsOIDCTrustPolicy): none at all, a bare `*`, a claim without a value, `<claim>:*`,
 * a claim a workflow controls, or a repo claim that names no owner/repo.
 */
export function githubSubjectProblem(s: PolicyStatement): string | undefined {
    const subs = Object.values(s.Condition ?? {}).flatMap((block) => asList((block ?? {})[`${GITHUB_OIDC}:sub`]));
    if (!s.Condition) return "without any condition (any repository could assume the role)";
    if (!subs.length) return `without a ${GITHUB_OIDC}:sub condition (any repository could assume the role)`;
    for (const sub of subs) {
        const claims = sub.split(":");
        if (sub === "*" || claims.length === 1 || claims[1] === "*") return `with sub ${JSON.stringify(sub)}, which any repository matches`;
        if (ABUSABLE_GITHUB_CLAIMS.some((c) => claims[0].startsWith(c))) return `with sub ${JSON.stringify(sub)}: the ${claims[0]} claim is chosen by the workflow, not the repository`;
        if (claims[0] === "repo" && !GITHUB_REPO.test(claims[1])) return `with sub ${JSON.stringify(sub)}, which names no owner/repo`;
    }
    return undefined;
}

/** Trust (assume-role) policies: who may become the role. */
export const trustPolicyScoped = resourcePolicy(
    {
        name: "iam-trust-policy-scoped",
        description: `Role trust policies name their principals: no Principal "*" (or AWS "*") without a narrowing Condition, no account outside the pack's trustedAccountIds (when set), and a GitHub Actions OIDC trust (${GITHUB_OIDC}) checks ${GITHUB_OIDC}:sub — not only :aud, not "*" or "repo:*", not a claim the workflow chooses (environment, ref, workflow...) — or any repository's workflow can assume the role. Fix: name the service or role ARN; add a StringEquals/StringLike condition on ${GITHUB_OIDC}:sub of repo:<owner>/<repo>:...`,
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_60 (narrowed: a constraining Condition passes), CKV_AWS_358 (Checkov reads it off aws_iam_policy_document; here off the role's trust policy)" },
        configSchema: { properties: { trustedAccountIds: { type: "array", items: { type: "string" }, default: [] } } },
        types: [AWS.role],
    },
    (props, args, report) => {
        const trusted = args.getConfig<{ trustedAccountIds?: string[] }>().trustedAccountIds ?? [];
        for (const s of statementsOf(props.assumeRolePolicy).filter((x) => x.Effect === "Allow")) {
            const principal: any = s.Principal;
            if (isAnyPrincipal(principal) && !constrainedByCondition(s)) report(`statement ${sid(s)} lets any principal assume the role`);
            for (const p of asList(principal?.AWS)) {
                const account = /^(\d{12})$/.exec(p)?.[1] ?? /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(p)?.[1];
                if (account && trusted.length > 0 && !trusted.includes(account)) report(`statement ${sid(s)} trusts account ${account}, which is not in trustedAccountIds`);
            }
            if (asList(principal?.Federated).some((f) => f.includes(GITHUB_OIDC))) {
                const problem = githubSubjectProblem(s);
                if (problem) report(`statement ${sid(s)} trusts GitHub Actions OIDC ${problem}`);
            }
        }
    },
);
