import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseGateArgs, runPolicyGate, UsageError } from "../../scripts/policy/gate";
import { ROOT } from "../../scripts/stackUnderMocks";

/** `npm run policy:check`: the offline gate. */

async function gate(argv: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await runPolicyGate(argv, (l) => lines.push(l));
    return { code, out: lines.join("\n") };
}

describe("offline policy gate (npm run policy:check)", function () {
    this.timeout(120_000);
    const tmp = path.join(ROOT, ".tmp", "policy-gate");
    before(() => fs.mkdirSync(tmp, { recursive: true }));

    it("parses --stack and --policy-config (as next word or after =), rejects anything else", () => {
        expect(parseGateArgs([])).to.deep.equal({ stack: "prod" });
        expect(parseGateArgs(["--stack", "dev", "--policy-config=c.json"])).to.deep.equal({ stack: "dev", policyConfig: "c.json" });
        expect(() => parseGateArgs(["--stak", "prod"])).to.throw(UsageError, /unknown argument "--stak": allowed are --stack <name>/);
        expect(() => parseGateArgs(["--stack"])).to.throw(UsageError, /--stack needs a value/);
    });

    it("prod: exit 0, the table of advisory findings and the counts", async () => {
        const { code, out } = await gate(["--stack", "prod"]);
        expect(code, out).to.equal(0);
        expect(out).to.match(/policy pack devsecops-stack \(\d+ policies\) over stack prod under mocks: \d+ resources/);
        expect(out).to.match(/^resource\s+policy\s+level\s+message$/m);
        expect(out).to.match(/aws:cloudwatch\/logGroup:LogGroup::app-app-logs\s+log-group-one-year-kms\s+advisory\s+retention 30 days is under 365/);
        expect(out).to.match(/\n0 mandatory, \d+ advisory violation\(s\)\ndeployability checks: 0 finding\(s\)$/);
    });

    it("exit 1 when the pack's config makes a waived policy mandatory (the same file preview's --policy-pack-config takes)", async () => {
        const config = path.join(tmp, "strict.json");
        fs.writeFileSync(config, JSON.stringify({ "log-group-one-year-kms": "mandatory" }));
        const { code, out } = await gate(["--stack", "prod", "--policy-config", config]);
        expect(code, out).to.equal(1);
        expect(out).to.match(/app-app-logs\s+log-group-one-year-kms\s+mandatory\s+retention 30 days is under 365/);
        expect(out).to.match(/[1-9]\d* mandatory, \d+ advisory violation\(s\): fix the mandatory ones/);
    });

    it("exit 2 on bad usage, a missing stack file or a bad config file, saying which", async () => {
        expect(await gate(["--nope"])).to.include({ code: 2 });
        const missing = await gate(["--stack", "no-such-stack"]);
        expect(missing.code).to.equal(2);
        expect(missing.out).to.contain("Pulumi.no-such-stack.yaml");
        const bad = path.join(tmp, "bad.json");
        fs.writeFileSync(bad, JSON.stringify({ "no-such-policy": "mandatory" }));
        const wrong = await gate(["--policy-config", bad]);
        expect(wrong.code).to.equal(2);
        expect(wrong.out).to.contain('"no-such-policy", which is not a policy of this pack');
    });

    it("runs as the npm script does, in its own process without a Pulumi CLI or credentials", () => {
        const env = { ...process.env, PATH: path.dirname(process.execPath), AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "", PULUMI_ACCESS_TOKEN: "" };
        const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "ts-node", "dist", "bin.js"), "--transpile-only", "scripts/policy-check.ts", "--stack", "prod"], { cwd: ROOT, env, encoding: "utf8", timeout: 100_000 });
        expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
        expect(r.stdout).to.match(/0 mandatory, \d+ advisory/);
    });
});
