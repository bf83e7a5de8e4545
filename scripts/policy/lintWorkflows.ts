import * as fs from "node:fs";
import * as path from "node:path";
import { validateWorkflow } from "@action-validator/core";
import YAML from "yaml";

/**
 * Lints GitHub workflow files: action-validator's schema check (the SchemaStore workflow schema,
 * offline, from npm), plus this repository's rules: every action pinned to a full commit SHA with
 * its release in a comment (`owner/repo@<40 hex> # vX.Y.Z`: tags move, commits do not),
 * least-privilege `permissions:` declared at the top of every workflow, and Pulumi Cloud reached by
 * OIDC (pulumi/auth-actions exchanges GitHub's token for a short-lived one), never a stored token.
 */

const SHA_PINNED = /@[0-9a-f]{40}$/;
const RELEASE_COMMENT = /#\s*v\d+(\.\d+){0,2}\s*$/;


export function lintWorkflow(source: string): string[] {
    const problems: string[] = [];
    const state = validateWorkflow(source);
    for (const e of state.errors) problems.push(`${"path" in e && e.path ? `${e.path}: ` : ""}${e.title}${e.detail ? ` (${e.detail})` : ""}`);
    let doc: any;
    try {
        doc = YAML.parse(source);
    } catch (e) {
        return [...problems, `not YAML: ${(e as Error).message}`];
    }
    if (!doc || typeof doc !== "object") return [...problems, "empty workflow"];
    if (!doc.permissions) problems.push("no top-level permissions: (the default token may write everywhere)");
    if (doc.permissions === "write-all") problems.push("permissions: write-all");
    const lines = source.split("\n");
    for (const [jobName, job] of Object.entries<any>(doc.jobs ?? {})) {
        if (/secrets\.PULUMI_ACCESS_TOKEN\b/.test(JSON.stringify(job ?? {}))) {
            problems.push(`jobs.${jobName}: a stored Pulumi access token (secrets.PULUMI_ACCESS_TOKEN): exchange GitHub's OIDC token with pulumi/auth-actions instead`);
        }
        const exchangesOidc = (job?.steps ?? []).some((step: any) => typeof step?.uses === "string" && step.uses.startsWith("pulumi/auth-actions@"));
        // Pulumi Cloud OIDC (pulumi/auth-actions README): the job must be allowed to request GitHub's OIDC token.
        if (exchangesOidc && (job?.permissions ?? doc.permissions)?.["id-token"] !== "write") {
            problems.push(`jobs.${jobName}: pulumi/auth-actions needs permissions: id-token: write on its job to mint GitHub's OIDC token`);
        }
        for (const step of job?.steps ?? []) {
            // The default policy group covers every stack in the organisation: the pack's mandatory baseline would block other teams.
            if (typeof step?.run === "string" && /pulumi policy enable\b/.test(step.run) && !/--policy-group[ =]/.test(step.run)) {
                problems.push(`jobs.${jobName}: \`pulumi policy enable\` without --policy-group enables the pack on the organisation's default policy group, which covers every stack in the org`);
            }
            const uses = step?.uses;
            if (typeof uses !== "string" || uses.startsWith("./") || uses.startsWith("docker://")) continue;
            if (!SHA_PINNED.test(uses)) {
                problems.push(`jobs.${jobName}: ${uses} is not pinned to a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)`);
                continue;
            }
            const line = lines.find((l) => l.includes(uses));
            if (!line || !RELEASE_COMMENT.test(line)) problems.push(`jobs.${jobName}: ${uses} has no release comment (# vX.Y.Z) beside its SHA`);
        }
    }
    return problems;
}

export function lintWorkflowDirectory(directory: string): { file: string; problems: string[] }[] {
    return fs
        .readdirSync(directory)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => ({ file: path.join(directory, f), problems: lintWorkflow(fs.readFileSync(path.join(directory, f), "utf8")) }));
}

if (require.main === module) {
    const directory = process.argv[2] ?? path.resolve(__dirname, "..", "..", ".github", "workflows");
    const results = lintWorkflowDirectory(directory);
    for (const { file, problems } of results) {
        console.log(`${problems.length === 0 ? "ok  " : "FAIL"} ${path.relative(process.cwd(), file)}`);
        for (const p of problems) console.log(`     ${p}`);
    }
    process.exit(results.length === 0 || results.some((r) => r.problems.length > 0) ? 1 : 0);
}
