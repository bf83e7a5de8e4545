import { AWS } from "./awsTypes";
import { belongsTo, resourcePolicy, resourcesOfType, stackPolicy } from "./definePolicy";
import { constrainedByCondition } from "./iam";
import { isAnyPrincipal, statementsOf } from "./policyDocuments";

export const secretRotation = stackPolicy(
    {
        name: "secrets-rotation",
        description: "Secrets Manager secrets rotate, at least every 90 days. Fix: an aws.secretsmanager.SecretRotation for the secret (with a rotation Lambda); see the documented waiver in policy/README.md.",
        enforcementLevel: "advisory",
        controls: { fsbp: "SecretsManager.1, SecretsManager.4", checkov: "CKV2_AWS_57, CKV_AWS_304" },
    },
    (args, report) => {
        const rotations = resourcesOfType(args, AWS.secretRotation);
        for (const secret of resourcesOfType(args, AWS.secret)) {
            const own = rotations.filter((r) => belongsTo(r, secret, "secretId", ["id", "arn"]));
            if (own.length === 0) report(`secret ${secret.name} has no rotation`, secret.urn);
            for (const r of own) {
                const days = Number(r.props.rotationRules?.automaticallyAfterDays);
                if (days > 90) report(`secret ${secret.name} rotates every ${days} days (more than 90)`, secret.urn);
            }
        }
    },
);

export const snsTopicEncrypted = resourcePolicy(
    {
        name: "sns-topic-encrypted",
        description: "SNS topics are encrypted with KMS. Fix: kmsMasterKeyId (a customer-managed key whose policy lets EventBridge and CloudWatch use it).",
        enforcementLevel: "mandatory",
        controls: { fsbp: "SNS.1", checkov: "CKV_AWS_26" },
        types: [AWS.topic],
    },
    (props, _args, report) => {
        if (!props.kmsMasterKeyId) report("topic is not encrypted (no kmsMasterKeyId)");
    },
);

export const kmsKeyRotation = resourcePolicy(
    {
        name: "kms-key-rotation",
        description: "Symmetric customer-managed KMS keys rotate yearly. Fix: enableKeyRotation: true.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 3.6", fsbp: "KMS.4", checkov: "CKV_AWS_7" },
        types: [AWS.kmsKey],
    },
    (props, _args, report) => {
        const spec = props.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
        if (spec === "SYMMETRIC_DEFAULT" && props.enableKeyRotation !== true) report("key does not rotate (enableKeyRotation is not true)");
    },
);

export const kmsKeyPolicyScoped = stackPolicy(
    {
        name: "kms-key-policy-scoped",
        description:
            'Customer-managed KMS keys carry an explicit key policy — on the key or as an aws.kms.KeyPolicy — not the default one that hands the key to every IAM policy in the account, and no statement allows Principal "*" without a narrowing Condition (kms:CallerAccount, kms:ViaService...). Fix: set policy on the aws.kms.Key (or an aws.kms.KeyPolicy for it) naming the account root, the roles and the service principals that use it.',
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_33, CKV2_AWS_64" },
    },
    (args, report) => {
        const keyPolicies = resourcesOfType(args, AWS.kmsKeyPolicy);
        for (const key of resourcesOfType(args, AWS.kmsKey)) {
            const separate = keyPolicies.filter((kp) => belongsTo(kp, key, "keyId", ["id", "arn", "keyId"]));
            const documents = [key.props.policy, ...separate.map((kp) => kp.props.policy)].filter(Boolean);
            if (!documents.length) {
                report(`key ${key.name} has no explicit key policy`, key.urn);
                continue;
            }
            for (const s of documents.flatMap(statementsOf).filter((x) => x.Effect === "Allow")) {
                if (isAnyPrincipal(s.Principal) && !constrainedByCondition(s)) report(`key ${key.name}: statement ${s.Sid ?? "(no Sid)"} allows any principal to use the key`, key.urn);
            }
        }
    },
);
