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
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

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
    const ratio = Number(ratioText);
    if (ratioText.trim() === "" || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
        problems.push(`FAULT_ERROR_RATIO=${JSON.stringify(ratioText)}: a number from 0 to 1`);
    }

    if (problems.length > 0) throw new SettingsError(`Invalid settings:\n  ${problems.join("\n  ")}`);
    return {
        port,
        host: get("HOST", "0.0.0.0"),
        logLevel,
        version: get("APP_VERSION", "dev"),
        commit: get("GIT_COMMIT", "unknown"),
        faultInjection: faultText === "true",
        faultErrorRatio: ratio,
    };
}
