import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { HOST_IMAGES } from "../../components/cloudInit/hostImages";

const ROOT = path.join(__dirname, "..", "..");
interface RegexManager {
    customType: string;
    managerFilePatterns: string[];
    matchStrings: string[];
    datasourceTemplate: string;
}
const renovate = JSON.parse(fs.readFileSync(path.join(ROOT, "renovate.json"), "utf8")) as { customManagers: RegexManager[]; extends: string[]; schedule: string[] };

/** Renovate's `/…/` pattern strings as JS regular expressions. */
const asRegex = (p: string) => new RegExp(p.replace(/^\/(.*)\/$/, "$1"));

/** What Renovate's regex managers extract from a repository file. */
function extracted(file: string): { depName: string; currentValue: string; currentDigest?: string }[] {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    return renovate.customManagers
        .filter((m) => m.managerFilePatterns.some((p) => asRegex(p).test(file)))
        .flatMap((m) =>
            m.matchStrings.flatMap((s) =>
                [...text.matchAll(new RegExp(s, "g"))].map((x) => ({ depName: x.groups!.depName, currentValue: x.groups!.currentValue, currentDigest: x.groups!.currentDigest })),
            ),
        );
}

/** An image reference `<repository>:<tag>[@<digest>]` as a regex manager should extract it. */
function asPin(image: string): { depName: string; currentValue: string; currentDigest?: string } {
    const [ref, currentDigest] = image.split("@");
    const [depName, currentValue] = ref.split(/:(?=[^:]+$)/);
    return { depName, currentValue, currentDigest };
}

describe("Renovate manages every pin (issue 14)", () => {
    it("each host image (hostImages.ts) matches the host-image regex manager, with its repository, tag and digest", () => {
        const found = extracted("components/cloudInit/hostImages.ts");
        for (const image of Object.values(HOST_IMAGES)) {
            expect(found, image).to.deep.include(asPin(image));
        }
        expect(found).to.have.length(Object.keys(HOST_IMAGES).length);
    });

    it("the app's base images (Dockerfile ARGs) match the Dockerfile regex manager", () => {
        const dockerfile = fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8");
        const args = [...dockerfile.matchAll(/^ARG ([A-Z_]+_IMAGE)=(\S+)$/gm)].map((m) => m[2]);
        expect(args.length).to.be.greaterThan(1);
        const found = extracted("app/Dockerfile");
        for (const image of args) {
            expect(found, image).to.deep.include(asPin(image));
        }
    });

    it("the Pulumi Deployments executor image matches the deploy-settings manager, which pins its digest", () => {
        const file = "Pulumi.prod.deploy.yaml";
        const reference = /reference: (\S+)/.exec(fs.readFileSync(path.join(ROOT, file), "utf8"))![1];
        expect(extracted(file)).to.deep.equal([asPin(reference)]);
        // The executor runs the program: it moves with the SDK's pin.
        expect(asPin(reference).currentValue).to.equal(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies["@pulumi/pulumi"]);
    });

    it("workflow actions and npm dependencies are left to Renovate's own managers, digests pinned, on a schedule", () => {
        expect(renovate.extends).to.include("helpers:pinGitHubActionDigests");
        expect(renovate.schedule).to.have.length.greaterThan(0);
        for (const f of fs.readdirSync(path.join(ROOT, ".github", "workflows"))) {
            const uses = [...fs.readFileSync(path.join(ROOT, ".github", "workflows", f), "utf8").matchAll(/uses:\s*(\S+)/g)].map((m) => m[1]);
            // The github-actions manager reads owner/repo@ref references.
            for (const u of uses) expect(u, `${f}: ${u}`).to.match(/^[A-Za-z0-9-]+\/[A-Za-z0-9._/-]+@\S+$/);
        }
    });
});

describe("The app's base images: pinned by digest, on Node 24 (issue 14)", () => {
    it("each base-image ARG default is <image>:<tag>@sha256:<64 hex> on a Node 24 image", () => {
        const dockerfile = fs.readFileSync(path.join(ROOT, "app", "Dockerfile"), "utf8");
        const args = Object.fromEntries([...dockerfile.matchAll(/^ARG ([A-Z_]+_IMAGE)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
        expect(Object.keys(args)).to.deep.equal(["BUILD_IMAGE", "RUNTIME_IMAGE"]);
        for (const [name, image] of Object.entries(args)) expect(image, name).to.match(/^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$/);
        expect(args.BUILD_IMAGE).to.match(/^node:24[.-]/);
        expect(args.RUNTIME_IMAGE).to.match(/^gcr\.io\/distroless\/nodejs24-/);
    });
});

describe("Host images: pinned by digest, on supported releases (issue 14)", () => {
    it("every host image is <registry>/<repository>:<tag>@sha256:<64 hex>, the tag kept readable beside the digest", () => {
        // Renovate reading tag and digest from each pin is the test above; here: none goes without a digest.
        for (const [name, image] of Object.entries(HOST_IMAGES)) {
            expect(image, name).to.match(/^[a-z0-9.-]+\.[a-z]{2,}\/[a-z0-9._/-]+:[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$/);
        }
    });
    it("Prometheus is on 3.x and Grafana on 12 or newer (2.x and Grafana 11.2 are out of support)", () => {
        const major = (image: string) => Number(/:v?(\d+)\./.exec(image)?.[1]);
        expect(major(HOST_IMAGES.prometheus)).to.be.at.least(3);
        expect(major(HOST_IMAGES.grafana)).to.be.at.least(12);
    });
});
