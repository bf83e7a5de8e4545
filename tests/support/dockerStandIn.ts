import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A private Docker engine for tests (vfs storage, no iptables, no bridge) on its own
 * socket, and stand-ins for the Dockerfile's base images built from this machine's
 * own Node, because registry images cannot be pulled here.
 */

export interface TestDocker {
    /** Runs the docker CLI against the test engine. */
    docker(args: string[], opts?: { input?: string; timeoutMs?: number }): { status: number | null; stdout: string; stderr: string };
    stop(): Promise<void>;
}

function requireTool(name: string, pkg: string): void {
    if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) throw new Error(`${name} not found: install the Debian package ${pkg}`);
}

export async function startTestDocker(): Promise<TestDocker> {
    requireTool("dockerd", "docker.io");
    requireTool("docker", "docker.io");
    if (process.getuid?.() !== 0) throw new Error("the image test starts its own dockerd and needs root (CI runs as root)");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-docker-"));
    const socket = path.join(root, "docker.sock");
    const host = `unix://${socket}`;
    const daemon: ChildProcess = spawn(
        "dockerd",
        ["--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none", `--data-root=${path.join(root, "data")}`, `--exec-root=${path.join(root, "exec")}`, `--pidfile=${path.join(root, "docker.pid")}`, `--host=${host}`],
        { detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    daemon.stdout!.on("data", (d) => (log = (log + d).slice(-10_000)));
    daemon.stderr!.on("data", (d) => (log = (log + d).slice(-10_000)));
    const docker: TestDocker["docker"] = (args, opts = {}) => {
        const r = spawnSync("docker", ["--host", host, ...args], { input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
        return { status: r.status, stdout: r.stdout ?? "", stderr: `${r.stderr ?? ""}${r.error ? r.error.message : ""}` };
    };
    const stop = async () => {
        if (daemon.exitCode === null && daemon.pid) {
            process.kill(-daemon.pid, "SIGTERM");
            await new Promise<void>((resolve) => {
                const t = setTimeout(() => {
                    try {
                        process.kill(-daemon.pid!, "SIGKILL");
                    } catch {
                        /* gone */
                    }
                    resolve();
                }, 15_000);
                daemon.once("exit", () => {
                    clearTimeout(t);
                    resolve();
                });
            });
        }
        // dockerd leaves mounts (e.g. its netns) under its roots: detach them before removing the directory.
        const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(root));
        for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
        fs.rmSync(root, { recursive: true, force: true });
    };
    const deadline = Date.now() + 60_000;
    while (docker(["info", "--format", "{{.ServerVersion}}"]).status !== 0) {
        if (daemon.exitCode !== null || Date.now() > deadline) {
            await stop();
            throw new Error(`dockerd did not start:\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    return { docker, stop };
}

/** Shared libraries a binary needs, from ldd. */
function sharedLibraries(binary: string): string[] {
    const out = spawnSync("ldd", [binary], { encoding: "utf8" }).stdout;
    return [...out.matchAll(/(\/[^\s]+\.so[^\s]*)/g)].map((m) => m[1]);
}

function copyInto(rootfs: string, file: string, target = file): void {
    const dest = path.join(rootfs, target);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.cpSync(fs.realpathSync(file), dest, { recursive: true, dereference: true });
}

/**
 * Two stand-in bases: a build base (node, npm, sh, env, CA bundle) and a distroless-like
 * runtime (node at /nodejs/bin/node, no shell, a nonroot user 65532).
 */
export function buildStandInBases(t: TestDocker): { buildImage: string; runtimeImage: string } {
    const node = process.execPath;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-bases-"));
    try {
        const runtime = path.join(work, "runtime");
        copyInto(runtime, node, "/nodejs/bin/node");
        for (const lib of sharedLibraries(node)) copyInto(runtime, lib);
        copyInto(runtime, "/etc/ssl/certs/ca-certificates.crt");
        fs.mkdirSync(path.join(runtime, "etc"), { recursive: true });
        fs.writeFileSync(path.join(runtime, "etc", "passwd"), "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
        fs.writeFileSync(path.join(runtime, "etc", "group"), "root:x:0:\nnonroot:x:65532:\n");
        fs.mkdirSync(path.join(runtime, "tmp"), { mode: 0o1777 });

        const build = path.join(work, "build");
        fs.cpSync(runtime, build, { recursive: true });
        copyInto(build, node, "/usr/local/bin/node");
        copyInto(build, "/usr/lib/node_modules/npm", "/usr/local/lib/node_modules/npm");
        for (const bin of ["/bin/dash", "/usr/bin/env"]) {
            copyInto(build, bin, bin === "/bin/dash" ? "/bin/sh" : bin);
            for (const lib of sharedLibraries(bin)) copyInto(build, lib);
        }
        fs.symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", path.join(build, "usr", "local", "bin", "npm"));

        const images = { buildImage: "devsecops-test/build-base:local", runtimeImage: "devsecops-test/runtime-base:local" };
        for (const [dir, tag, changes] of [
            [build, images.buildImage, ["ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"]],
            [runtime, images.runtimeImage, ["ENV PATH=/nodejs/bin", "USER 65532:65532", 'ENTRYPOINT ["/nodejs/bin/node"]']],
        ] as const) {
            const tar = spawnSync("tar", ["-C", dir, "-cf", path.join(work, "rootfs.tar"), "."]);
            if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
            const r = t.docker(["import", ...changes.flatMap((c) => ["--change", c]), path.join(work, "rootfs.tar"), tag]);
            if (r.status !== 0) throw new Error(`docker import ${tag} failed: ${r.stderr}`);
        }
        return images;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}
