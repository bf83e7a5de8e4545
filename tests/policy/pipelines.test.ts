import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { devsecopsPolicies } from "../../policy/policies";

const ROOT = path.resolve(__dirname, "..", "..");
const VALIDATOR = path.join(ROOT, "node_modules", ".bin", "action-validator");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");

function validate(file: string): { status: number | null; out: string } {
    const r = spawnSync(VALIDATOR, [file], { encoding: "utf8", timeout: 30_000 });
    if (r.error) throw new Error(`action-validator could not run (${r.error.message}): npm ci installs @action-validator/cli`);
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("pipelines", () => {
    const files = fs.readdirSync(WORKFLOWS).filter((f) => f.endsWith(".yml"));

    it("every workflow passes action-validator (which does reject a broken one)", () => {
        expect(files).to.have.members(["pr.yml", "deploy.yml", "policy-publish.yml"]);
        for (const f of files) {
            const r = validate(path.join(WORKFLOWS, f));
            expect(r.status, `${f}: ${r.out}`).to.equal(0);
        }
        const broken = path.join(ROOT, ".tmp", "broken-workflow.yml");
        fs.mkdirSync(path.dirname(broken), { recursive: true });
        fs.writeFileSync(broken, "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo\n");
        expect(validate(broken).status).to.not.equal(0);
    });

    it("PR checks run the tests and the offline gate, and preview with the pack only with OIDC credentials", () => {
        const pr = YAML.parse(fs.readFileSync(path.join(WORKFLOWS, "pr.yml"), "utf8"));
        expect(pr.permissions).to.deep.equal({ contents: "read" });
        const runs = pr.jobs.test.steps.map((s: any) => s.run).filter(Boolean);
        expect(runs).to.include.members(["npm ci", "npm test", "npm run policy:check -- --stack prod"]);
        expect(pr.jobs.preview.permissions["id-token"]).to.equal("write");
        const preview = pr.jobs.preview.steps.find((s: any) => String(s.uses).startsWith("pulumi/actions"));
        expect(preview.with).to.include({ command: "preview", policyPacks: "policy", "comment-on-pr": true });
        const creds = pr.jobs.preview.steps.find((s: any) => String(s.uses).startsWith("aws-actions/configure-aws-credentials"));
        expect(creds.with["role-to-assume"]).to.match(/^\$\{\{ vars\./);
        expect(JSON.stringify(pr)).to.not.match(/aws-access-key-id|AWS_SECRET_ACCESS_KEY/i);
    });

    it("deploys with the pack and publishes the pack when policy/ changes", () => {
        const deploy = YAML.parse(fs.readFileSync(path.join(WORKFLOWS, "deploy.yml"), "utf8"));
        expect(deploy.jobs.up.steps.find((s: any) => String(s.uses).startsWith("pulumi/actions")).with).to.include({ command: "up", policyPacks: "policy" });
        const publish = YAML.parse(fs.readFileSync(path.join(WORKFLOWS, "policy-publish.yml"), "utf8"));
        expect(publish.on.push.paths).to.deep.equal(["policy/**"]);
        expect(JSON.stringify(publish.jobs.publish.steps)).to.contain("pulumi policy publish");
    });

    it("keeps Pulumi Deployments settings in the repository: main branch, OIDC to AWS, npm ci before the run", () => {
        const settings = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.deploy.yaml"), "utf8")).settings;
        expect(settings.sourceContext.git.branch).to.equal("refs/heads/main");
        expect(settings.operationContext.preRunCommands).to.include("npm ci");
        expect(settings.operationContext.oidc.aws.roleArn).to.match(/^arn:aws:iam::/);
    });

    it("policy/README.md lists every policy with its level and controls", () => {
        const readme = fs.readFileSync(path.join(ROOT, "policy", "README.md"), "utf8");
        for (const p of devsecopsPolicies) {
            const row = readme.split("\n").find((l) => l.startsWith(`| \`${p.name}\``));
            expect(row, p.name).to.be.a("string");
            expect(row).to.contain(p.enforcementLevel!);
            for (const c of Object.values(p.controls)) expect(row, `${p.name} ${c}`).to.contain(c);
        }
    });
});
