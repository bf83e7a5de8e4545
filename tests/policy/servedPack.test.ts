import { expect } from "chai";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { packArgs, PACK_NAME } from "../../policy/pack";
import { ROOT } from "../../scripts/stackUnderMocks";

/**
 * policy/index.ts started as the CLI starts a pack (it prints its gRPC port), then asked over
 * gRPC what it serves: the engine sees the same policies and levels the gate evaluates.
 */

const grpc = require("@grpc/grpc-js");
const { AnalyzerClient } = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");

const LEVELS = ["advisory", "mandatory", "disabled", "remediate"];

describe("the served policy pack (policy/index.ts)", function () {
    this.timeout(60_000);
    let child: ChildProcess | undefined;
    after(() => {
        if (child && child.exitCode === null) child.kill("SIGTERM");
    });

    it("starts, and reports over gRPC exactly the pack's name, policies and levels", async () => {
        child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "policy", "index.ts")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        const port = await new Promise<string>((resolve, reject) => {
            let out = "";
            child!.stdout!.on("data", (d) => {
                out += d;
                const m = out.match(/^(\d+)\s*$/m);
                if (m) resolve(m[1]);
            });
            child!.on("exit", (code) => reject(new Error(`pack exited ${code} before serving: ${stderr}`)));
        });
        const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        try {
            const info: any = await new Promise((resolve, reject) => client.getAnalyzerInfo(new Empty(), (err: unknown, resp: unknown) => (err ? reject(err) : resolve(resp))));
            expect(info.getName()).to.equal(PACK_NAME);
            const served = info.getPoliciesList().map((p: any) => [p.getName(), LEVELS[p.getEnforcementlevel()], p.getDescription()]);
            expect(served).to.deep.equal(packArgs.policies.map((p) => [p.name, p.enforcementLevel, p.description]));
        } finally {
            client.close();
        }
    });
});
