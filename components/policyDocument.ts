/**
 * IAM/KMS/S3/SNS policy documents as plain data, so every policy the stack writes is
 * rendered by a pure function and tested without Pulumi.
 */
export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: "*" | { AWS?: string | string[]; Service?: string | string[] };
    Action: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

export function policyDocument(statements: PolicyStatement[]): string {
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * The key-policy statement that keeps a KMS key manageable by the account's IAM
 * policies; without it a key can become unmanageable. Scoped by IAM, not by this statement.
 */
export function accountAdminKeyStatement(accountId: string, partition = "aws"): PolicyStatement {
    return {
        Sid: "AccountIamPoliciesGovernKey",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
        Action: "kms:*",
        Resource: "*",
    };
}

/** The bucket-policy statement that refuses every request to the bucket and its objects made without TLS. */
export function denyInsecureTransportStatement(bucketArn: string): PolicyStatement {
    return {
        Sid: "DenyWithoutTls",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    };
}

/**
 * A role trust policy for an AWS service. `sourceAccount` adds the confused-deputy guard
 * (aws:SourceAccount) — only for services that document sending that key when they assume
 * the role (VPC Flow Logs, AWS Config). EC2 instance roles and CloudTrail's CloudWatch Logs
 * role take no condition: CloudTrail rejects one ("Role policy document for CloudTrail to use
 * CloudWatch Logs for monitoring"), and EC2's documented instance-role trust has none.
 */
export function serviceTrustPolicy(service: string, sourceAccount?: string): string {
    return policyDocument([
        {
            Effect: "Allow",
            Principal: { Service: service },
            Action: "sts:AssumeRole",
            ...(sourceAccount ? { Condition: { StringEquals: { "aws:SourceAccount": sourceAccount } } } : {}),
        },
    ]);
}
