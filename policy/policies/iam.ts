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

export const noWildcardResourceWrite = resourcePolicy(
    {
        name: "iam-no-wildcard-resource-write",
        description: 'No IAM statement allows write actions (anything but Describe*/Get*/List*/BatchGet*) on Resource "*". Fix: name the resources (ARNs) the actions apply to.',
        enforcementLevel: "mandatory",
        controls: { fsbp: "IAM.21", checkov: "CKV_AWS_111, CKV_AWS_355" },
        types: Object.keys(DOCUMENTS),
    },
    (props, args, report) => {
        for (const s of allowStatements(args.type, props)) {
            if (!asList(s.Resource).includes("*")) continue;
            const writes = asList(s.Action).filter((a) => !READ_ONLY_ACTION.test(a));
            if (writes.length > 0) report(`statement ${sid(s)} allows ${writes.join(", ")} on Resource "*"`);
        }
    },
);

export const permissionsBoundary = resourcePolicy(
    {
        name: "iam-permissions-boundary",
        description: "Roles carry the organisation's permissions boundary when the pack's config sets requiredPermissionsBoundaryArn. Fix: permissionsBoundary: <that ARN> on the role.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_274" },
        configSchema: { properties: { requiredPermissionsBoundaryArn: { type: "string", default: "" } } },
        types: [AWS.role],
    },
    (props, args, report) => {
        const required = args.getConfig<{ requiredPermissionsBoundaryArn?: string }>().requiredPermissionsBoundaryArn;
        if (required && props.permissionsBoundary !== required) report(`role has no permissions boundary ${required}`);
    },
);
