import { packArgs } from "../../policy/pack";
import { Controls } from "../../policy/policies";

/** The control table in policy/README.md, generated from the pack: `npx ts-node --transpile-only scripts/policy/controlTable.ts`. */
export function controlTable(): string {
    const cell = (s: string | undefined) => (s ?? "").replace(/\|/g, "\\|");
    const rows = packArgs.policies.map((p) => {
        const c = (p as unknown as { controls: Controls }).controls;
        return `| \`${p.name}\` | ${p.enforcementLevel} | ${cell(c.cis)} | ${cell(c.fsbp)} | ${cell(c.checkov)} | ${cell(p.description)} |`;
    });
    return ["| Policy | Level | CIS AWS Foundations | AWS FSBP | Checkov | What it requires, and the fix |", "|---|---|---|---|---|---|", ...rows].join("\n");
}

if (require.main === module) console.log(controlTable());
