import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ecrLifecyclePolicy, imageContentTag } from "../../components/observedAppHost";

const APP = path.resolve(__dirname, "..", "..", "app");

describe("image content tag and ECR lifecycle", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "devsecops-app-tag-"));
        for (const f of [".dockerignore", "Dockerfile", "package.json", "package-lock.json", "tsconfig.json", "README.md"]) fs.copyFileSync(path.join(APP, f), path.join(dir, f));
        fs.cpSync(path.join(APP, "src"), path.join(dir, "src"), { recursive: true });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is stable for the same sources and never `latest`", () => {
        const tag = imageContentTag(dir);
        expect(tag).to.match(/^src-[0-9a-f]{16}$/);
        expect(imageContentTag(dir)).to.equal(tag);
        expect(imageContentTag(APP)).to.equal(tag);
    });

    it("changes with every file the Docker build context admits (so no rebuild lands on an existing IMMUTABLE tag)", () => {
        const admitted = fs.readFileSync(path.join(dir, ".dockerignore"), "utf8").split("\n").filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/\*\*$/, ""));
        expect(admitted).to.include.members(["package.json", "package-lock.json", "tsconfig.json", "src"]);
        const files = ["Dockerfile", ".dockerignore", ...admitted.filter((a) => a !== "src"), "src/server.ts"];
        let previous = imageContentTag(dir);
        for (const f of files) {
            fs.appendFileSync(path.join(dir, f), "\n");
            const next = imageContentTag(dir);
            expect(next, f).to.not.equal(previous);
            previous = next;
        }
        fs.writeFileSync(path.join(dir, "src", "added.ts"), "export {};\n");
        expect(imageContentTag(dir), "a new source file").to.not.equal(previous);
    });

    it("ignores files the build never sees", () => {
        const tag = imageContentTag(dir);
        fs.appendFileSync(path.join(dir, "README.md"), "\nmore docs\n");
        fs.mkdirSync(path.join(dir, "dist"));
        fs.writeFileSync(path.join(dir, "dist", "main.js"), "//");
        expect(imageContentTag(dir)).to.equal(tag);
    });

    it("keeps the newest N images", () => {
        expect(JSON.parse(ecrLifecyclePolicy(7)).rules).to.deep.equal([
            { rulePriority: 1, description: "Keep the newest 7 images", selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 7 }, action: { type: "expire" } },
        ]);
    });
});
