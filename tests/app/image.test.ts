import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, httpRequest } from "../../scripts/local/harness";
import { MIRROR_BUILD_CONTEXT } from "../../components/hostImageMirror";
import { buildStandInBases, startTestDocker, TestDocker } from "../support/dockerStandIn";

const APP_DIR = path.resolve(__dirname, "..", "..", "app");
const IMAGE = "devsecops-app:test";
const SOURCES = fs.readdirSync(path.join(APP_DIR, "src")).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts")).map((f) => `src/${f}`);
const CANARIES: Record<string, string> = {
    ".env": "SECRET=canary\n",
    ".env.production": "SECRET=canary\n",
    "src/.env.local": "SECRET=canary\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    "node_modules/canary-from-host/index.js": "module.exports = 1;\n",
    "tests/canary.test.ts": "export {};\n",
    "src/canary.test.ts": "export {};\n",
    "dist/stale.js": "throw new Error('stale');\n",
    "bench-results.json": "{}\n",
};
/** Every file under /src in the build stage, relative, sorted. */
const SOURCE_LISTING =
    "const fs=require('fs'),p=require('path');const out=[];const walk=(d)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){const f=p.join(d,e.name);if(e.isDirectory())walk(f);else out.push(p.relative('/src',f))}};walk('/src');console.log(JSON.stringify(out.sort()))";

describe("app image (real Docker engine, stand-in base images)", function () {
    this.timeout(600_000);
    let t: TestDocker;
    let config: any;
    let buildArgs: string[];
    let context: string;
    let runtimeBase: string;

    before(async () => {
        t = await startTestDocker();
        const bases = buildStandInBases(t);
        runtimeBase = bases.runtimeImage;
        // The context is app/ as committed plus files .dockerignore must keep out: secrets, VCS, local installs, tests, stale output.
        context = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-app-context-"));
        for (const entry of ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "src"]) {
            fs.cpSync(path.join(APP_DIR, entry), path.join(context, entry), { recursive: true });
        }
        for (const [file, text] of Object.entries(CANARIES)) {
            fs.mkdirSync(path.dirname(path.join(context, file)), { recursive: true });
            fs.writeFileSync(path.join(context, file), text);
        }
        buildArgs = ["--network", "host", "--build-arg", `BUILD_IMAGE=${bases.buildImage}`, "--build-arg", `RUNTIME_IMAGE=${bases.runtimeImage}`];
        const build = t.docker(["build", ...buildArgs, "-t", IMAGE, context], { timeoutMs: 540_000 });
        expect(build.status, `docker build failed:\n${build.stdout.slice(0, 3000)}\n${build.stderr.slice(-3000)}`).to.equal(0);
        config = JSON.parse(t.docker(["image", "inspect", IMAGE]).stdout)[0].Config;
    });
    after(async () => {
        if (context) fs.rmSync(context, { recursive: true, force: true });
        if (!t) return;
        t.docker(["rm", "-f", "devsecops-app-test"]);
        await t.stop();
    });

    it("the host-image mirror's build copies its source unchanged: same layers, entrypoint, user and environment", () => {
        const copy = "devsecops-test/mirror-copy:local";
        const build = t.docker(["build", "--network", "host", "--build-arg", `SOURCE_IMAGE=${runtimeBase}`, "-t", copy, MIRROR_BUILD_CONTEXT], { timeoutMs: 120_000 });
        expect(build.status, build.stderr.slice(-2000)).to.equal(0);
        const [source, mirrored] = [runtimeBase, copy].map((ref) => JSON.parse(t.docker(["image", "inspect", ref]).stdout)[0]);
        expect(mirrored.RootFS.Layers).to.deep.equal(source.RootFS.Layers);
        for (const key of ["Entrypoint", "Cmd", "User", "Env", "WorkingDir", "ExposedPorts"]) expect(mirrored.Config[key], key).to.deep.equal(source.Config[key]);
        // Without SOURCE_IMAGE the build fails instead of copying something else.
        expect(t.docker(["build", "--network", "host", MIRROR_BUILD_CONTEXT], { timeoutMs: 60_000 }).status).to.not.equal(0);
    });

    it("keeps .env files, .git, node_modules, tests and stale dist out of the build context", () => {
        // The build stage is already built (layer cache): this only tags it.
        const stage = t.docker(["build", ...buildArgs, "--target", "build", "-t", `${IMAGE}-build-stage`, context], { timeoutMs: 120_000 });
        expect(stage.status, stage.stderr.slice(-2000)).to.equal(0);
        const listing = t.docker(["run", "--rm", "--network", "none", "--entrypoint", "node", `${IMAGE}-build-stage`, "-e", SOURCE_LISTING]);
        expect(listing.status, listing.stderr).to.equal(0);
        const files: string[] = JSON.parse(listing.stdout);
        expect(files.filter((f) => !f.startsWith("node_modules/"))).to.have.members(["package.json", "package-lock.json", "tsconfig.json", "sbom.cdx.json", ...SOURCES, ...SOURCES.map((f) => f.replace(/^src\/(.*)\.ts$/, "dist/$1.js"))]);
        expect(files).to.not.include("node_modules/canary-from-host/index.js");
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
        expect(app).to.deep.equal(["dist", "node_modules", "package.json", "sbom.cdx.json"]);
        expect(modules).to.include.members(["prom-client", "pino"]);
        expect(modules).to.not.include("typescript");
        expect(types, "dev-only @types packages").to.deep.equal([]);
    });

    it("carries a CycloneDX SBOM of exactly its production dependencies, made at build time (npm sbom, no network)", () => {
        const read = t.docker(["run", "--rm", "--network", "none", "--entrypoint", "node", IMAGE, "-e", "process.stdout.write(require('fs').readFileSync('/app/sbom.cdx.json','utf8'))"]);
        expect(read.status, read.stderr).to.equal(0);
        const sbom = JSON.parse(read.stdout);
        expect(sbom.bomFormat).to.equal("CycloneDX");
        expect(sbom.specVersion).to.match(/^1\.\d+$/);
        const names: string[] = sbom.components.map((c: { name: string }) => c.name);
        expect(names).to.include.members(["prom-client", "pino"]);
        expect(names, "dev dependencies are not in the image, so not in its SBOM").to.not.include.members(["typescript"]);
        for (const c of sbom.components) expect(c.purl, c.name).to.match(/^pkg:npm\//);
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
