import { expect } from "chai";
import * as path from "node:path";
import { freePort, httpRequest } from "../../scripts/local/harness";
import { buildStandInBases, startTestDocker, TestDocker } from "../support/dockerStandIn";

const APP_DIR = path.resolve(__dirname, "..", "..", "app");
const IMAGE = "devsecops-app:test";

describe("app image (real Docker engine, stand-in base images)", function () {
    this.timeout(600_000);
    let t: TestDocker;
    let config: any;

    before(async () => {
        t = await startTestDocker();
        const bases = buildStandInBases(t);
        const build = t.docker(
            ["build", "--network", "host", "--build-arg", `BUILD_IMAGE=${bases.buildImage}`, "--build-arg", `RUNTIME_IMAGE=${bases.runtimeImage}`, "-t", IMAGE, APP_DIR],
            { timeoutMs: 540_000 },
        );
        expect(build.status, `docker build failed:\n${build.stderr.slice(-4000)}`).to.equal(0);
        config = JSON.parse(t.docker(["image", "inspect", IMAGE]).stdout)[0].Config;
    });
    after(async () => {
        if (!t) return;
        t.docker(["rm", "-f", "devsecops-app-test"]);
        await t.stop();
    });

    it("runs as a numeric non-root user, exposes 3000 and health-checks without a shell", () => {
        expect(config.User).to.match(/^[1-9]\d*:\d+$/);
        expect(Object.keys(config.ExposedPorts)).to.deep.equal(["3000/tcp"]);
        expect(config.Healthcheck.Test[0]).to.equal("CMD");
        expect(config.Healthcheck.Test.slice(1)).to.deep.equal(["node", "dist/healthcheck.js"]);
    });

    it("ships production dependencies and compiled code only", () => {
        const listing = t.docker(["run", "--rm", "--network", "none", "--entrypoint", "node", IMAGE, "-e", "const fs=require('fs');const t='/app/node_modules/@types';console.log(JSON.stringify({app:fs.readdirSync('/app').sort(),modules:fs.readdirSync('/app/node_modules'),types:fs.existsSync(t)?fs.readdirSync(t):[]}))"]);
        expect(listing.status, listing.stderr).to.equal(0);
        const { app, modules, types } = JSON.parse(listing.stdout);
        expect(app).to.deep.equal(["dist", "node_modules", "package.json"]);
        expect(modules).to.include.members(["prom-client", "pino"]);
        expect(modules).to.not.include("typescript");
        expect(types, "dev-only @types packages").to.deep.equal([]);
    });

    it("serves /health and /metrics with a read-only root filesystem as the image's non-root user", async () => {
        const port = await freePort();
        const run = t.docker(["run", "-d", "--name", "devsecops-app-test", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "host", "-e", `PORT=${port}`, "-e", "HOST=127.0.0.1", IMAGE]);
        expect(run.status, run.stderr).to.equal(0);
        let health: { status: number; body: string } | undefined;
        for (let i = 0; i < 40 && !health; i++) {
            health = await httpRequest(`http://127.0.0.1:${port}/health`).catch(() => undefined);
            if (!health) await new Promise((r) => setTimeout(r, 250));
        }
        expect(health?.status, t.docker(["logs", "devsecops-app-test"]).stderr).to.equal(200);
        expect((await httpRequest(`http://127.0.0.1:${port}/metrics`)).body).to.contain("http_request_duration_seconds_bucket");
        const uid = t.docker(["exec", "devsecops-app-test", "node", "-e", "console.log(process.getuid())"]);
        expect(uid.stdout.trim()).to.equal("65532");
        const write = t.docker(["exec", "devsecops-app-test", "node", "-e", "require('fs').writeFileSync('/app/x','y')"]);
        expect(write.status).to.not.equal(0);
        expect(write.stderr).to.match(/EROFS|read-only/);
    });

    it("exits within 10 s of docker stop (SIGTERM drains, no SIGKILL needed)", () => {
        const started = Date.now();
        const stop = t.docker(["stop", "--time", "10", "devsecops-app-test"], { timeoutMs: 30_000 });
        const seconds = (Date.now() - started) / 1000;
        expect(stop.status, stop.stderr).to.equal(0);
        expect(seconds).to.be.below(10);
        const state = JSON.parse(t.docker(["inspect", "devsecops-app-test"]).stdout)[0].State;
        expect(state.ExitCode, "exit code after SIGTERM").to.equal(0);
    });
});
