import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { MissingOutputError } from "./checkResult";

/** A problem with how verify was invoked or where its outputs come from: exit code 2, no checks run. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

/**
 * The stack's outputs as `pulumi stack output --json` prints them. Accessors throw
 * MissingOutputError so a check fails with "output X missing" instead of crashing.
 */
export class StackOutputs {
    constructor(readonly values: Record<string, unknown>) {}

    has(name: string): boolean {
        return this.values[name] !== undefined && this.values[name] !== null && this.values[name] !== "";
    }

    string(name: string): string {
        const v = this.values[name];
        if (typeof v !== "string" || v === "") throw new MissingOutputError(name, "a string");
        // --show-secrets=false prints secret outputs as "[secret]"; verify needs none of them.
        if (v === "[secret]") throw new MissingOutputError(name, "a plain (non-secret) string");
        return v;
    }

    optionalString(name: string): string | undefined {
        return this.has(name) ? this.string(name) : undefined;
    }

    stringArray(name: string): string[] {
        const v = this.values[name];
        if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new MissingOutputError(name, "an array of strings");
        return v as string[];
    }

    /** An object of name → number, e.g. logRetentionDays. */
    numberMap(name: string): Record<string, number> {
        const v = this.values[name];
        if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "number")) {
            throw new MissingOutputError(name, "an object of name → number");
        }
        return v as Record<string, number>;
    }
}

export function parseOutputsJson(text: string, source: string): StackOutputs {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (e) {
        throw new UsageError(`${source} is not JSON (${(e as Error).message}); expected the output of \`pulumi stack output --json\``);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new UsageError(`${source} is not a JSON object; expected the output of \`pulumi stack output --json\``);
    }
    return new StackOutputs(parsed as Record<string, unknown>);
}

export function readOutputsFile(file: string): StackOutputs {
    if (!fs.existsSync(file)) {
        throw new UsageError(`--outputs ${file}: no such file; write it with \`pulumi stack output --json --stack <name> > ${file}\``);
    }
    return parseOutputsJson(fs.readFileSync(file, "utf8"), `--outputs ${file}`);
}

/** Runs the Pulumi CLI; secrets stay hidden (verify needs none, and output may land in CI logs). */
export function readStackOutputs(stack: string | undefined, pulumiCommand = "pulumi"): StackOutputs {
    // Without a name: the selected stack, as `pulumi stack output` reads it.
    const args = ["stack", "output", "--json", "--show-secrets=false", ...(stack === undefined ? [] : ["--stack", stack])];
    const which = stack === undefined ? "the selected stack" : `--stack ${stack}`;
    const run = spawnSync(pulumiCommand, args, { encoding: "utf8", timeout: 120_000 });
    if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new UsageError(
            `${which}: the pulumi CLI is not on PATH. Install it (https://www.pulumi.com/docs/install/), ` +
                "or pass --outputs <file> with the output of `pulumi stack output --json` from a machine that has it",
        );
    }
    if (run.error) throw new UsageError(`${which}: \`pulumi ${args.join(" ")}\` failed to run: ${run.error.message}`);
    if (run.status !== 0) {
        throw new UsageError(`${which}: \`pulumi ${args.join(" ")}\` exited with ${run.status}: ${run.stderr.trim() || run.stdout.trim()}`);
    }
    return parseOutputsJson(run.stdout, `\`pulumi ${args.join(" ")}\``);
}
