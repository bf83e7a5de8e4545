import { expect } from "chai";
import { Check, CheckResult } from "../../scripts/verify/checkResult";
import { parseVerifyArgs } from "../../scripts/verify/cliArgs";
import { formatJson, formatTable } from "../../scripts/verify/report";
import { freePort } from "../../scripts/local/harness";
import { buildChecks } from "../../scripts/verify/main";
import { runChecks } from "../../scripts/verify/runChecks";
import { parseOutputsJson, StackOutputs, UsageError } from "../../scripts/verify/stackOutputs";

describe("verify: arguments, outputs, runner and report", () => {
    it("parses flags, with values as the next word or after =", () => {
        expect(parseVerifyArgs(["--stack", "prod", "--json", "--drill", "--app-url=http://127.0.0.1:13000", "--drill-timeout", "120", "--only", "prometheus,drill", "--log-window=15"])).to.deep.equal({
            stack: "prod",
            json: true,
            drill: true,
            appUrl: "http://127.0.0.1:13000",
            drillTimeoutSeconds: 120,
            only: ["prometheus", "drill"],
            logWindowMinutes: 15,
            help: false,
        });
        expect(parseVerifyArgs(["--outputs", "out.json"])).to.include({ outputsFile: "out.json", drill: false, drillTimeoutSeconds: 600, logWindowMinutes: 30 });
    });

    it("issue 13: takes Prometheus and Grafana as the operator reaches them (--prometheus-url, --grafana-url)", () => {
        expect(parseVerifyArgs(["--stack", "prod", "--prometheus-url", "http://127.0.0.1:9090", "--grafana-url=https://grafana.app.example.com"])).to.include({
            prometheusUrl: "http://127.0.0.1:9090",
            grafanaUrl: "https://grafana.app.example.com",
        });
        expect(() => parseVerifyArgs(["--stack", "prod", "--prometheus-url", "npm run tunnel -- prometheus"])).to.throw(UsageError, '--prometheus-url "npm run tunnel -- prometheus": expected an http(s) URL');
    });

    it("issue 13: with no public URL, the Prometheus and Grafana checks say which tunnel to open; through one, their evidence says so", async () => {
        const outputs = new StackOutputs({ prometheusUrl: "npm run tunnel -- prometheus", grafanaUrl: "npm run tunnel -- grafana" });
        const checks = buildChecks(parseVerifyArgs(["--outputs", "o.json", "--only", "prometheus,grafana"]), outputs, {}, () => {
            throw new Error("no AWS client is needed");
        });
        const results = await runChecks(checks);
        expect(results.map((r) => r.ok)).to.deep.equal([false, false, false, false]);
        expect(results[0].evidence).to.equal('Prometheus has no public URL (output prometheusUrl: "npm run tunnel -- prometheus")');
        expect(results[0].hint).to.equal("open the tunnel in another terminal (npm run tunnel -- prometheus) and pass its URL: --prometheus-url http://127.0.0.1:9090");
        expect(results[2].hint).to.contain("npm run tunnel -- grafana").and.contain("--grafana-url");
        // Through a (closed) tunnel port: the check runs there and its evidence names the way in.
        const closed = `http://127.0.0.1:${await freePort()}`;
        const via = buildChecks(parseVerifyArgs(["--outputs", "o.json", "--only", "prometheus", "--prometheus-url", closed]), outputs, {}, () => {
            throw new Error("no AWS client is needed");
        });
        const [targets] = await runChecks(via);
        expect(targets.evidence).to.equal(`Prometheus unreachable at ${closed} (ECONNREFUSED); reached at ${closed} (--prometheus-url)`);
    });

    it("rejects bad usage naming the flag, the value and what is allowed", () => {
        const cases: [string[], string][] = [
            [[], "give --stack <name> or --outputs <file>"],
            [["--stack", "a", "--outputs", "b"], "give either --stack or --outputs, not both"],
            [["--stack"], "--stack needs a value"],
            [["--stack", "prod", "--drill-timeout", "soon"], '--drill-timeout "soon": expected a positive number'],
            [["--stack", "prod", "--app-url", "10.0.0.5:3000"], '--app-url "10.0.0.5:3000": expected an http(s) URL'],
            [["--stack", "prod", "--json=yes"], '--json takes no value (got "yes")'],
            [["--stack", "prod", "extra"], 'unknown argument "extra"'],
        ];
        for (const [argv, message] of cases) expect(() => parseVerifyArgs(argv), argv.join(" ")).to.throw(UsageError, message);
    });

    it("outputs: accessors name what is missing; secret placeholders count as missing", () => {
        const outputs = parseOutputsJson(JSON.stringify({ region: "eu-west-1", platformLogGroupNames: ["/a", 3], token: "[secret]", logRetentionDays: { "/a": 30 } }), "test");
        expect(outputs.string("region")).to.equal("eu-west-1");
        expect(() => outputs.string("vpcId")).to.throw("output vpcId missing");
        expect(() => outputs.string("token")).to.throw("output token missing");
        expect(() => outputs.stringArray("platformLogGroupNames")).to.throw("output platformLogGroupNames missing");
        expect(outputs.numberMap("logRetentionDays")).to.deep.equal({ "/a": 30 });
        expect(() => parseOutputsJson("[1]", "file x")).to.throw(UsageError, "file x is not a JSON object");
        expect(() => parseOutputsJson("{", "file x")).to.throw(UsageError, "file x is not JSON");
    });

    it("runner: a missing output, a crash and a time-out each become a failed result, never a throw", async () => {
        const outputs = new StackOutputs({});
        const checks: Check[] = [
            { group: "guardduty", name: "needs output", required: true, timeoutMs: 1000, run: async () => ({ ok: true, evidence: outputs.string("detectorId") }) },
            { group: "s3", name: "crashes", required: true, timeoutMs: 1000, run: async () => { throw new Error("boom"); } },
            {
                group: "prometheus",
                name: "hangs",
                required: false,
                timeoutMs: 100,
                run: (signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve({ ok: true, evidence: "aborted late" }))),
            },
        ];
        const results = await runChecks(checks);
        expect(results.map((r) => [r.name, r.ok, r.evidence])).to.deep.equal([
            ["needs output", false, "output detectorId missing"],
            ["crashes", false, "check failed unexpectedly: boom"],
            ["hangs", false, "no result within 0.1 s"],
        ]);
        expect(results[0].hint).to.contain("the stack must export detectorId");
        expect(results[2].hint).to.contain("operatorCidrs");
    });

    it("report: optional failures do not fail the run; JSON says ok accordingly", () => {
        const base = { group: "s3" as const, seconds: 0.1 };
        const results: CheckResult[] = [
            { ...base, name: "a", required: true, ok: true, evidence: "fine" },
            { ...base, name: "b", required: false, ok: false, evidence: "bad", hint: "fix b" },
        ];
        expect(JSON.parse(formatJson(results, "x")).ok).to.equal(true);
        const table = formatTable(results);
        expect(table).to.match(/✗ +b \(optional\) +bad\n +fix: fix b/);
        expect(table).to.contain("All 1 required checks passed.");
        expect(JSON.parse(formatJson([{ ...results[1], required: true }], "x")).ok).to.equal(false);
    });
});
