import { isIP } from "node:net";

/** The app's settings, read from the environment and checked before the server starts. */
export interface AppSettings {
    port: number;
    host: string;
    logLevel: string;
    version: string;
    commit: string;
    /** The alert drill: a share of `GET /` answers 503, changeable at runtime through `/fault`. */
    faultInjection: boolean;
    faultErrorRatio: number;
    /** Bearer token `/fault` requires (FAULT_INJECTION_TOKEN, from Secrets Manager at boot); set whenever faultInjection is. */
    faultInjectionToken?: string;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
/** A drill token must not be guessable; 32 characters of a generated secret is well past that. */
export const FAULT_TOKEN_MIN_LENGTH = 32;

export class SettingsError extends Error {}

/** Reads settings from `env`; throws one SettingsError naming every bad variable, its value and what is allowed. */
export function readSettings(env: NodeJS.ProcessEnv): AppSettings {
    const problems: string[] = [];
    const get = (name: string, fallback: string) => (env[name] === undefined || env[name] === "" ? fallback : env[name]!);

    const portText = get("PORT", "3000");
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) problems.push(`PORT=${JSON.stringify(portText)}: a port number from 1 to 65535`);

    const logLevel = get("LOG_LEVEL", "info");
    if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: one of ${LOG_LEVELS.join(", ")}`);

    const faultText = get("FAULT_INJECTION", "false");
    if (faultText !== "true" && faultText !== "false") problems.push(`FAULT_INJECTION=${JSON.stringify(faultText)}: true or false`);

    const ratioText = get("FAULT_ERROR_RATIO", "0");
    // A plain decimal: Number() would also take "0x1", "1e-1" and " 0.5 ".
    const ratio = Number(ratioText);
    if (!/^(0|1)(\.\d+)?$/.test(ratioText) || ratio > 1) problems.push(`FAULT_ERROR_RATIO=${JSON.stringify(ratioText)}: a decimal from 0 to 1, e.g. 0.25`);

    const host = get("HOST", "0.0.0.0");
    if (isIP(host) === 0) problems.push(`HOST=${JSON.stringify(host)}: an IP address to listen on, e.g. 0.0.0.0 or ::`);

    // The token is a secret: messages give its length, never its value.
    const token = env.FAULT_INJECTION_TOKEN;
    if (faultText === "true") {
        if (token === undefined || token === "") problems.push(`FAULT_INJECTION_TOKEN: required when FAULT_INJECTION=true (at least ${FAULT_TOKEN_MIN_LENGTH} characters; the stack stores one in Secrets Manager)`);
        else if (token.length < FAULT_TOKEN_MIN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) problems.push(`FAULT_INJECTION_TOKEN: at least ${FAULT_TOKEN_MIN_LENGTH} characters (got ${token.length}), printable ASCII without spaces`);
    }

    if (problems.length > 0) throw new SettingsError(`Invalid settings:\n  ${problems.join("\n  ")}`);
    return {
        port,
        host,
        logLevel,
        version: get("APP_VERSION", "dev"),
        commit: get("GIT_COMMIT", "unknown"),
        faultInjection: faultText === "true",
        faultErrorRatio: ratio,
        faultInjectionToken: faultText === "true" ? token : undefined,
    };
}
