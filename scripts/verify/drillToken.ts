import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { FAULT_INJECTION_TOKEN_SECRET } from "../../config/stackConfig";
import { StackOutputs } from "./stackOutputs";

/**
 * The bearer token the drill presents on /fault: FAULT_INJECTION_TOKEN when set (a local run, or an
 * operator override), else the value of the stack's fault-injection-token secret — the one the app
 * hosts read at boot. Never printed. Throws a message that says how to fix it.
 */
export async function drillToken(env: NodeJS.ProcessEnv, outputs: StackOutputs, secrets: () => SecretsManagerClient): Promise<string> {
    if (env.FAULT_INJECTION_TOKEN) return env.FAULT_INJECTION_TOKEN;
    const arns = outputs.has("appSecretArns") ? (outputs.values.appSecretArns as Record<string, unknown>) : {};
    const arn = arns?.[FAULT_INJECTION_TOKEN_SECRET];
    if (typeof arn !== "string") {
        throw new Error(`the stack has no ${FAULT_INJECTION_TOKEN_SECRET} secret (appSecretArns output): deploy with appFaultInjection=true, or set FAULT_INJECTION_TOKEN`);
    }
    const r = await secrets().send(new GetSecretValueCommand({ SecretId: arn }));
    if (!r.SecretString) throw new Error(`${arn} has no string value`);
    return r.SecretString;
}
