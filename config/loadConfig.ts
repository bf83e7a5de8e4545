import * as pulumi from "@pulumi/pulumi";
import { ForeignSettings, GRAFANA_PROVISIONING_ENV, RawSettings, StackSettings, validateStackSettings } from "./stackConfig";

/** Config values arrive as strings; lists and objects as JSON text. */
function decode(value: string): unknown {
    const trimmed = value.trim();
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
        try {
            return JSON.parse(trimmed);
        } catch {
            return value; // left as text: validation names the key and says what is allowed
        }
    }
    return value;
}

export interface LoadedConfig {
    settings: StackSettings;
    /** Values of `providedSecretNames`, kept as Pulumi secrets end to end. */
    providedSecretValues: Record<string, pulumi.Output<string>>;
}

/**
 * Reads every project setting and validates them all before any resource is
 * created: a bad stack fails here with one error naming each bad key.
 */
export function loadConfig(): LoadedConfig {
    const project = pulumi.getProject();
    const all = pulumi.runtime.allConfig();
    const raw: RawSettings = {};
    for (const [fullKey, value] of Object.entries(all)) {
        const [namespace, key] = fullKey.split(":", 2);
        if (namespace === project && key !== undefined) raw[key] = decode(value);
    }
    // appSecrets is a secret object: keep it out of `raw` (which error messages may print).
    delete raw.appSecrets;
    const config = new pulumi.Config();
    const appSecretsText = all[`${project}:appSecrets`];
    const foreign: ForeignSettings = {
        legacyGrafanaProvision: all["grafana:provision"] ?? process.env.GRAFANA_PROVISION,
        // Hosted deploy runners (deploy.yml, Pulumi Deployments) say they can only run `file`.
        deployPathGrafanaProvisioning: process.env[GRAFANA_PROVISIONING_ENV],
        appSecrets: appSecretsText ? (decode(appSecretsText) as Record<string, unknown>) : undefined,
    };
    const settings = validateStackSettings(raw, foreign);
    const appSecrets = config.getSecretObject<Record<string, string>>("appSecrets");
    const providedSecretValues: Record<string, pulumi.Output<string>> = {};
    for (const name of settings.secrets.providedSecretNames) {
        providedSecretValues[name] = pulumi.secret(appSecrets!.apply((values) => values[name]));
    }
    return { settings, providedSecretValues };
}
