import { AWS } from "./awsTypes";
import { resourcePolicy } from "./definePolicy";
import { constrainedByCondition } from "./iam";
import { isAnyPrincipal, statementsOf } from "./policyDocuments";

/** Where each type carries a resource policy (who else may use the resource). */
const RESOURCE_POLICIES: Record<string, (props: Record<string, any>) => unknown> = {
    [AWS.bucketPolicy]: (p) => p.policy,
    [AWS.topic]: (p) => p.policy,
    [AWS.topicPolicy]: (p) => p.policy,
    [AWS.ecrRepositoryPolicy]: (p) => p.policy,
};

export const resourcePolicyNotPublic = resourcePolicy(
    {
        name: "resource-policy-not-public",
        description:
            'Bucket, topic and repository policies allow nobody by Principal "*" (or AWS "*") unless a Condition narrows it to an account, organisation, source ARN or VPC endpoint; Deny statements may use "*". Fix: name the service principal (cloudtrail.amazonaws.com, events.amazonaws.com) with aws:SourceArn, or the account roles.',
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_70, CKV_AWS_169, CKV_AWS_32" },
        types: Object.keys(RESOURCE_POLICIES),
    },
    (props, args, report) => {
        for (const s of statementsOf(RESOURCE_POLICIES[args.type](props))) {
            if (s.Effect === "Allow" && isAnyPrincipal(s.Principal) && !constrainedByCondition(s)) report(`statement ${s.Sid ?? "(no Sid)"} allows any principal`);
        }
    },
);
