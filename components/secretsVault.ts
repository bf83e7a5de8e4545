import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { FAULT_INJECTION_TOKEN_SECRET, GRAFANA_ADMIN_SECRET } from "../config/stackConfig";
import { accountAdminKeyStatement, policyDocument, PolicyStatement } from "./policyDocument";
import { standardTags } from "./tags";

/**
 * Days a deleted secret can be restored, and the vault key's deletion window: the same, so a
 * destroyed stack's secrets and the key that decrypts them become unrecoverable together
 * (a longer key window protects nothing; a shorter one would make restorable secrets unreadable).
 * 7 is the minimum both Secrets Manager (RecoveryWindowInDays) and KMS (PendingWindowInDays) accept.
 */
export const SECRET_RECOVERY_WINDOW_DAYS = 7;

// The reserved names live with the settings that must not reuse them.
export { FAULT_INJECTION_TOKEN_SECRET, GRAFANA_ADMIN_SECRET };

export interface SecretsVaultArgs {
    /** Names whose values are generated here (32 random characters). */
    generatedSecretNames: string[];
    /** Name → value from Pulumi secret config (`appSecrets`); kept secret end to end. */
    providedSecretValues: Record<string, pulumi.Input<string>>;
    /** Encrypt with a dedicated customer-managed key (rotated) instead of aws/secretsmanager. */
    customerManagedKey: boolean;
    /** Rotate the app secrets with this Lambda, when set. */
    rotationLambdaArn?: string;
    rotationDays: number;
    /** Generate the drill's token (FAULT_INJECTION_TOKEN_SECRET) for the app hosts; never rotated mid-drill. */
    faultInjectionToken: boolean;
}

export interface VaultSecret {
    arn: pulumi.Output<string>;
    name: pulumi.Output<string>;
}

/** `<project>/<stack>/<name>`: the path the instance roles are granted. */
export function vaultSecretName(project: string, stack: string, name: string): string {
    return `${project}/${stack}/${name}`;
}

/**
 * Read access to exactly these secrets and nothing else: GetSecretValue and
 * DescribeSecret on their ARNs, plus Decrypt on the vault key through Secrets Manager only.
 */
export function secretReadPolicy(secretArns: string[], kmsKeyArn?: string, region?: string): string {
    if (secretArns.length === 0) throw new Error("secretReadPolicy: secretArns is empty; a read policy must name at least one secret");
    const statements: PolicyStatement[] = [
        {
            Sid: "ReadOwnSecrets",
            Effect: "Allow",
            Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            Resource: secretArns,
        },
    ];
    if (kmsKeyArn) {
        statements.push({
            Sid: "DecryptOwnSecrets",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: kmsKeyArn,
            ...(region ? { Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com` } } } : {}),
        });
    }
    return policyDocument(statements);
}

/** The vault key: usable by this account's principals only through Secrets Manager. */
export function vaultKeyPolicy(accountId: string, region: string, partition = "aws"): string {
    return policyDocument([
        accountAdminKeyStatement(accountId, partition),
        {
            Sid: "UseThroughSecretsManagerOnly",
            Effect: "Allow",
            Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            Resource: "*",
            Condition: {
                StringEquals: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com`, "kms:CallerAccount": accountId },
            },
        },
    ]);
}

/**
 * Secrets Manager secrets for the app and Grafana under `<project>/<stack>/`,
 * generated or from secret config, with least-privilege read policies for the hosts.
 * Outputs are ARNs, names and policy documents; values leave only as Pulumi secrets.
 */
export class SecretsVault extends pulumi.ComponentResource {
    readonly appSecrets: Record<string, VaultSecret>;
    /** The app secrets' values: a host that reads them at boot depends on these (boot ordering). */
    readonly appSecretVersions: pulumi.Resource[];
    /** The Grafana admin password's value, for the monitoring host's boot ordering. */
    readonly grafanaAdminSecretVersion: pulumi.Resource;
    readonly appReadPolicyJson: pulumi.Output<string>;
    readonly grafanaAdminSecretArn: pulumi.Output<string>;
    readonly grafanaAdminSecretName: pulumi.Output<string>;
    readonly grafanaReadPolicyJson: pulumi.Output<string>;
    /** For the Grafana provider only; a Pulumi secret. */
    readonly grafanaAdminPassword: pulumi.Output<string>;
    readonly kmsKeyArn?: pulumi.Output<string>;

    constructor(name: string, args: SecretsVaultArgs, opts?: pulumi.ComponentResourceOptions) {
        super("devsecops:secrets:SecretsVault", name, {}, opts);
        const parent = { parent: this };
        const tags = standardTags("secrets-vault");
        const region = aws.getRegionOutput({}, parent).region;

        let key: aws.kms.Key | undefined;
        if (args.customerManagedKey) {
            const identity = aws.getCallerIdentityOutput({}, parent);
            const partition = aws.getPartitionOutput({}, parent).partition;
            key = new aws.kms.Key(`${name}-key`, {
                description: `${pulumi.getProject()}/${pulumi.getStack()} secrets`,
                enableKeyRotation: true,
                deletionWindowInDays: SECRET_RECOVERY_WINDOW_DAYS,
                policy: pulumi.all([identity.accountId, region, partition]).apply(([a, r, p]) => vaultKeyPolicy(a, r, p)),
                tags,
            }, parent);
        }

        const store = (shortName: string, value: pulumi.Input<string>, rotate: boolean): VaultSecret & { version: pulumi.Resource } => {
            const secret = new aws.secretsmanager.Secret(`${name}-${shortName}`, {
                name: vaultSecretName(pulumi.getProject(), pulumi.getStack(), shortName),
                description: `${shortName} for ${pulumi.getProject()} ${pulumi.getStack()}`,
                kmsKeyId: key?.arn,
                recoveryWindowInDays: SECRET_RECOVERY_WINDOW_DAYS,
                tags: { ...tags, SecretName: shortName },
            }, parent);
            const version = new aws.secretsmanager.SecretVersion(`${name}-${shortName}`, {
                secretId: secret.id,
                secretString: pulumi.secret(value),
            }, { parent: this, ignoreChanges: rotate ? ["secretString"] : [] });
            if (rotate && args.rotationLambdaArn) {
                new aws.secretsmanager.SecretRotation(`${name}-${shortName}`, {
                    secretId: secret.id,
                    rotationLambdaArn: args.rotationLambdaArn,
                    rotationRules: { automaticallyAfterDays: args.rotationDays },
                }, parent);
            }
            return { arn: secret.arn, name: secret.name, version };
        };

        const generate = (shortName: string) =>
            new random.RandomPassword(`${name}-${shortName}`, {
                length: 32,
                // No characters that need quoting in an env file, a URL or HTTP basic auth.
                special: true,
                overrideSpecial: "-_.~",
            }, parent).result;

        const rotating = args.rotationLambdaArn !== undefined;
        this.appSecrets = {};
        this.appSecretVersions = [];
        const keep = (shortName: string, stored: VaultSecret & { version: pulumi.Resource }) => {
            this.appSecrets[shortName] = { arn: stored.arn, name: stored.name };
            this.appSecretVersions.push(stored.version);
        };
        for (const shortName of args.generatedSecretNames) keep(shortName, store(shortName, generate(shortName), rotating));
        for (const [shortName, value] of Object.entries(args.providedSecretValues)) keep(shortName, store(shortName, value, rotating));
        if (args.faultInjectionToken) keep(FAULT_INJECTION_TOKEN_SECRET, store(FAULT_INJECTION_TOKEN_SECRET, generate(FAULT_INJECTION_TOKEN_SECRET), false));
        // Not rotated by the Lambda: Grafana keeps its own copy of the admin password.
        const grafanaPassword = generate(GRAFANA_ADMIN_SECRET);
        const grafana = store(GRAFANA_ADMIN_SECRET, grafanaPassword, false);

        const keyArn: pulumi.Output<string | undefined> = key ? key.arn : pulumi.output(undefined);
        const appArns = Object.values(this.appSecrets).map((s) => s.arn);
        this.appReadPolicyJson = pulumi
            .all([pulumi.all(appArns), keyArn, region])
            .apply(([arns, k, r]) => secretReadPolicy(arns, k, r));
        this.grafanaReadPolicyJson = pulumi
            .all([grafana.arn, keyArn, region])
            .apply(([arn, k, r]) => secretReadPolicy([arn], k, r));
        this.grafanaAdminSecretVersion = grafana.version;
        this.grafanaAdminSecretArn = grafana.arn;
        this.grafanaAdminSecretName = grafana.name;
        this.grafanaAdminPassword = pulumi.secret(grafanaPassword);
        this.kmsKeyArn = key?.arn;
        this.registerOutputs({
            appSecretArns: appArns,
            grafanaAdminSecretArn: this.grafanaAdminSecretArn,
            kmsKeyArn: this.kmsKeyArn,
        });
    }
}
