import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderConfigTable, withRenderedTable } from "../../scripts/configTable";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

describe("README", () => {
    it("carries the configuration table rendered from Pulumi.yaml (npm run docs:config)", () => {
        const readme = read("README.md");
        expect(withRenderedTable(readme, read("Pulumi.yaml")), "README's table is stale: run npm run docs:config").to.equal(readme);
    });

    it("lists one row per Pulumi.yaml setting with its default", () => {
        const table = renderConfigTable("name: p\nconfig:\n  a:\n    type: integer\n    description: x | y\n    default: 3\n  b:\n    type: array\n    items:\n      type: string\n    description: z\n");
        expect(table.split("\n").slice(2)).to.deep.equal(["| `p:a` | integer | `3` | x \\| y |", "| `p:b` | array of string | — | z |"]);
    });

    it("shows the test command that CI runs", () => {
        expect(read(".ci/run")).to.contain("npm test");
        expect(read("README.md")).to.match(/```bash\nnpm ci\nnpm test\n```/);
    });
});
