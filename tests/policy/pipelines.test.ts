import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { packArgs } from "../../policy/pack";
import { controlTable } from "../../scripts/policy/controlTable";
import { lintWorkflow, lintWorkflowDirectory } from "../../scripts/policy/lintWorkflows";
import { ROOT } from "../../scripts/stackUnderMocks";

const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const workflow = (file: string) => YAML.parse(fs.readFileSync(path.join(WORKFLOWS, file), "utf8"));
const stepUsing = (job: any, action: string) => job.steps.find((s: any) => String(s.uses ?? "").startsWith(`${action}@`));
const runs = (job: any): string => job.steps.map((s: any) => s.run ?? "").join("\n");

describe("pipelines", () => {
    it("every workflow passes the linter (action-validator's schema check, pinned actions, permissions)", () => {
        const results = lintWorkflowDirectory(WORKFLOWS);
        expect(results.map((r) => path.basename(r.file))).to.deep.equal(["deploy.yml", "policy-publish.yml", "pr.yml"]);
        for (const { file, problems } of results) expect(problems, file).to.deep.equal([]);
    });

    it("the linter rejects what it should: schema errors, actions not on a commit SHA with its release, missing permissions", () => {
        const pinned = "actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0";
        const base = `name: x\non: push\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: ${pinned}\n`;
        expect(lintWorkflow(base)).to.deep.equal([]);
        // A major tag moves with every release: only a commit is a pin (issue 14).
        expect(lintWorkflow(base.replace(pinned, "actions/checkout@v6"))).to.deep.equal(["jobs.a: actions/checkout@v6 is not pinned to a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)"]);
        expect(lintWorkflow(base.replace(" # v6.0.0", ""))).to.deep.equal(["jobs.a: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 has no release comment (# vX.Y.Z) beside its SHA"]);
        // No exceptions: pulumi/actions too (issue 14: the last action left on a major tag).
        expect(lintWorkflow(base.replace(pinned, "pulumi/actions@v7"))).to.deep.equal(["jobs.a: pulumi/actions@v7 is not pinned to a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)"]);
        expect(lintWorkflow(base.replace("    steps:", "    stepz:")).join("\n")).to.not.equal("");
        expect(lintWorkflow(base.replace("on: push", "on: pushed")).length).to.be.greaterThan(0);
        expect(lintWorkflow(base.replace(pinned, "actions/checkout@main"))).to.deep.equal(["jobs.a: actions/checkout@main is not pinned to a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)"]);
        expect(lintWorkflow(base.replace("permissions:\n  contents: read\n", ""))).to.deep.equal(["no top-level permissions: (the default token may write everywhere)"]);
    });

    it("the linter rejects a stored Pulumi access token, and an OIDC exchange in a job that cannot mint the OIDC token", () => {
        const auth = "pulumi/auth-actions@141415910c3beb54e03b48e9057c204c97b956f2 # v2.1.0";
        const job = (permissions: string, steps: string) =>
            `name: x\non: push\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-24.04\n${permissions}    steps:\n${steps}`;
        const oidc = "    permissions:\n      contents: read\n      id-token: write\n";
        const exchange = `      - uses: ${auth}\n        with:\n          organization: acme\n          requested-token-type: urn:pulumi:token-type:access_token:organization\n`;
        expect(lintWorkflow(job(oidc, exchange + "      - run: pulumi whoami\n"))).to.deep.equal([]);
        expect(lintWorkflow(job(oidc, "      - run: pulumi whoami\n        env:\n          PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n"))).to.deep.equal([
            "jobs.a: a stored Pulumi access token (secrets.PULUMI_ACCESS_TOKEN): exchange GitHub's OIDC token with pulumi/auth-actions instead",
        ]);
        expect(lintWorkflow(job("", exchange))).to.deep.equal(["jobs.a: pulumi/auth-actions needs permissions: id-token: write on its job to mint GitHub's OIDC token"]);
    });

    it("the linter rejects enabling a policy pack on the organisation's default policy group (it covers every stack in the org)", () => {
        const step = (run: string) => `name: x\non: push\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ${run}\n`;
        expect(lintWorkflow(step('pulumi policy enable "$ORG/devsecops-stack" latest'))).to.deep.equal([
            "jobs.a: `pulumi policy enable` without --policy-group enables the pack on the organisation's default policy group, which covers every stack in the org",
        ]);
        expect(lintWorkflow(step('pulumi policy enable "$ORG/devsecops-stack" latest --policy-group "$GROUP"'))).to.deep.equal([]);
    });

    it("PR: npm ci, npm test and the offline gate for everyone; preview with the pack only with OIDC credentials, commented on the PR", () => {
        const pr = workflow("pr.yml");
        expect(pr.on).to.have.key("pull_request");
        expect(pr.permissions).to.deep.equal({ contents: "read" });
        expect(pr.jobs.test.permissions).to.equal(undefined);
        const test = runs(pr.jobs.test);
        expect(test.indexOf("npm ci")).to.be.lessThan(test.indexOf("npm test"));
        expect(test).to.contain("npm run policy:check -- --stack prod");
        const preview = pr.jobs.preview;
        expect(preview.needs).to.equal("test");
        expect(preview.if).to.contain("github.event.pull_request.head.repo.full_name == github.repository");
        expect(preview.permissions).to.deep.equal({ contents: "read", "id-token": "write", "pull-requests": "write" });
        expect(stepUsing(preview, "aws-actions/configure-aws-credentials").with["role-to-assume"]).to.equal("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        expect(stepUsing(preview, "pulumi/actions").with).to.include({ command: "preview", policyPacks: "policy", "comment-on-pr": true });
        // No long-lived AWS keys anywhere.
        for (const f of fs.readdirSync(WORKFLOWS)) expect(fs.readFileSync(path.join(WORKFLOWS, f), "utf8"), f).to.not.match(/aws-access-key-id|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/i);
    });

    it("deploy.yml: the gate, then pulumi up with the pack, off unless chosen instead of Pulumi Deployments", () => {
        const deploy = workflow("deploy.yml");
        const up = deploy.jobs.up;
        expect(up.if).to.equal("vars.DEPLOY_WITH_GITHUB_ACTIONS == 'true'");
        expect(up.permissions).to.deep.equal({ contents: "read", "id-token": "write" });
        expect(stepUsing(up, "pulumi/actions").with).to.include({ command: "up", policyPacks: "policy" });
        const names = up.steps.map((s: any) => s.run ?? s.uses);
        expect(names.indexOf("npm run policy:check -- --stack prod")).to.be.lessThan(names.findIndex((n: string) => n.startsWith("pulumi/actions@")));
        expect(deploy.concurrency["cancel-in-progress"]).to.equal(false);
    });

    it("policy-publish.yml: tests the pack, then publishes it with a fresh version and enables it, on policy/ changes", () => {
        const publish = workflow("policy-publish.yml");
        expect(publish.on.push.paths).to.deep.equal(["policy/**"]);
        const script = runs(publish.jobs.publish);
        expect(script).to.contain("tests/policy/");
        expect(script).to.match(/pulumi policy publish "\$\{PULUMI_ORG\}"/);
        expect(script).to.contain(`pulumi policy enable "\${PULUMI_ORG}/devsecops-stack" latest`);
        expect(script).to.contain("GITHUB_RUN_NUMBER");
        // The name it enables is the pack's own name.
        expect(fs.readFileSync(path.join(ROOT, "policy", "pack.ts"), "utf8")).to.contain('PACK_NAME = "devsecops-stack"');
    });

    it("Pulumi.prod.deploy.yaml: the settings file format, git source on main, OIDC to AWS, npm ci and the gate before the run", () => {
        const doc = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.deploy.yaml"), "utf8"));
        expect(Object.keys(doc)).to.deep.equal(["settings"]);
        const s = doc.settings;
        // Only keys the CLI's apitype.DeploymentSettings knows.
        expect(Object.keys(s).every((k) => ["tag", "executorContext", "sourceContext", "gitHub", "operationContext", "agentPoolID"].includes(k)), Object.keys(s).join()).to.equal(true);
        expect(s.sourceContext.git).to.include({ branch: "refs/heads/main" });
        expect(s.sourceContext.git.repoUrl).to.match(/^https:\/\/github\.com\/.+\.git$/);
        expect(s.gitHub).to.include({ deployCommits: true, previewPullRequests: true });
        expect(s.operationContext.oidc.aws.roleArn).to.match(/^arn:aws:iam::[A-Z0-9_]+:role\/.+/);
        expect(s.operationContext.oidc.aws.sessionName).to.be.a("string");
        expect(s.operationContext.preRunCommands).to.deep.equal(["npm ci", "npm run policy:check -- --stack prod"]);
        expect(s.operationContext.options.skipInstallDependencies).to.equal(true);
        // The executor image is an object with a pinned reference, never :latest.
        expect(s.executorContext.executorImage.reference).to.match(/^pulumi\/pulumi-nodejs:\d+\.\d+\.\d+$/);
    });

    it("the pack is a policy project: PulumiPolicy.yaml, a package whose main is index.ts, and index.ts only constructs the pack", () => {
        const project = YAML.parse(fs.readFileSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"), "utf8"));
        expect(project.runtime).to.equal("nodejs");
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8"));
        expect(pkg.main).to.equal("index.ts");
        expect(pkg.dependencies).to.have.property("@pulumi/policy");
        const index = fs.readFileSync(path.join(ROOT, "policy", "index.ts"), "utf8");
        expect(index.match(/new PolicyPack\(/g)).to.have.length(1);
        expect(index).to.not.match(/validateResource|validateStack/);
    });

    it("policy/README.md's control table is the one generated from the pack, and its counts are right", () => {
        const readme = fs.readFileSync(path.join(ROOT, "policy", "README.md"), "utf8");
        expect(readme).to.contain(controlTable());
        const mandatory = packArgs.policies.filter((p) => p.enforcementLevel === "mandatory").length;
        expect(readme).to.contain(`${packArgs.policies.length} policies: ${mandatory} mandatory, ${packArgs.policies.length - mandatory} advisory.`);
        for (const p of packArgs.policies) for (const c of Object.values((p as any).controls as Record<string, string>)) expect(readme, `${p.name} ${c}`).to.contain(c);
    });
});
