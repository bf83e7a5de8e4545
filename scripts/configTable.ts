import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";

/**
 * Renders README's configuration table from Pulumi.yaml, so the two never drift:
 * `npm run docs:config` rewrites the table between its markers, and a test fails
 * when README holds anything else.
 */

export const TABLE_START = "<!-- config-table:start (generated from Pulumi.yaml by npm run docs:config) -->";
export const TABLE_END = "<!-- config-table:end -->";

interface Declared {
    type: string;
    items?: { type: string };
    description?: string;
    default?: unknown;
}

function cell(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function formatDefault(value: unknown): string {
    if (value === undefined) return "—";
    return "`" + (typeof value === "string" ? value : JSON.stringify(value)) + "`";
}

export function renderConfigTable(pulumiYaml: string): string {
    const project = YAML.parse(pulumiYaml) as { name: string; config: Record<string, Declared> };
    const rows = Object.entries(project.config).map(([key, d]) => {
        const type = d.type === "array" ? `array of ${d.items?.type ?? "any"}` : d.type;
        return `| \`${project.name}:${key}\` | ${type} | ${formatDefault(d.default)} | ${cell(d.description ?? "")} |`;
    });
    return ["| Setting | Type | Default | Meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** README with its table replaced by the one rendered from Pulumi.yaml. */
export function withRenderedTable(readme: string, pulumiYaml: string): string {
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    if (start < 0 || end < start) throw new Error(`README.md: markers ${TABLE_START} … ${TABLE_END} not found`);
    return readme.slice(0, start + TABLE_START.length) + "\n" + renderConfigTable(pulumiYaml) + "\n" + readme.slice(end);
}

if (require.main === module) {
    const root = path.resolve(__dirname, "..");
    const readmePath = path.join(root, "README.md");
    const updated = withRenderedTable(fs.readFileSync(readmePath, "utf8"), fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
    fs.writeFileSync(readmePath, updated);
    console.log("README.md configuration table rewritten from Pulumi.yaml");
}
