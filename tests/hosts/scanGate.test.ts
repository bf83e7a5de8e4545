import { expect } from "chai";
import { DescribeImageScanFindingsCommand, ECRClient, ScanNotFoundException } from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { judgeScan, main, SCAN_STATUS_OUTCOME, waitForScan } from "../../components/scanGate/ecrScanGate";
import { ScanStatus } from "@aws-sdk/client-ecr";

const DIGEST = "sha256:" + "cd".repeat(32);
const fast = { pollMs: 1, timeoutMs: 2000, log: () => undefined };

function complete(counts: Record<string, number>) {
    return {
        imageScanStatus: { status: "COMPLETE" as const, description: "The scan was completed successfully." },
        imageScanFindings: { findingSeverityCounts: counts, findings: [] },
        repositoryName: "devsecops-stack-prod/devsecops-app",
        imageId: { imageDigest: DIGEST },
    };
}

describe("ECR scan gate", () => {
    const ecr = mockClient(ECRClient);
    afterEach(() => ecr.reset());

    it("passes a clean image and one under the limits; HIGH does not gate at -1", () => {
        expect(judgeScan({}, { maxCritical: 0, maxHigh: -1 })).to.deep.equal({ pass: true, reasons: [] });
        expect(judgeScan({ HIGH: 12, MEDIUM: 40 }, { maxCritical: 0, maxHigh: -1 }).pass).to.equal(true);
        expect(judgeScan({ CRITICAL: 1 }, { maxCritical: 1, maxHigh: -1 }).pass).to.equal(true);
    });

    it("rejects CRITICAL over the limit, and HIGH over its limit when gated, saying why", () => {
        expect(judgeScan({ CRITICAL: 2 }, { maxCritical: 0, maxHigh: -1 })).to.deep.equal({ pass: false, reasons: ["2 CRITICAL findings exceed scanMaxCritical=0"] });
        expect(judgeScan({ HIGH: 3 }, { maxCritical: 0, maxHigh: 2 }).reasons).to.deep.equal(["3 HIGH findings exceed scanMaxHigh=2"]);
    });

    it("waits while the scan is missing or in progress, then returns the counts", async () => {
        ecr.on(DescribeImageScanFindingsCommand)
            .rejectsOnce(new ScanNotFoundException({ message: "not yet", $metadata: {} }))
            .resolvesOnce({ imageScanStatus: { status: "IN_PROGRESS" } })
            .resolves(complete({ CRITICAL: 1, HIGH: 4 }));
        const lines: string[] = [];
        const counts = await waitForScan(new ECRClient({ region: "eu-west-1" }), "devsecops-stack-prod/devsecops-app", DIGEST, { ...fast, log: (l) => lines.push(l) });
        expect(counts).to.deep.equal({ CRITICAL: 1, HIGH: 4 });
        expect(lines).to.deep.equal(["scan NOT_STARTED; waiting", "scan IN_PROGRESS; waiting", "scan COMPLETE (confirming the counts); waiting"]);
        expect(ecr.commandCalls(DescribeImageScanFindingsCommand)[0].args[0].input).to.deep.equal({ repositoryName: "devsecops-stack-prod/devsecops-app", imageId: { imageDigest: DIGEST } });
    });

    it("fails when the scan fails or the image is unsupported", async () => {
        ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "UNSUPPORTED_IMAGE", description: "UnsupportedImageError: unsupported OS" } });
        const err = await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, fast).catch((e) => e);
        expect(err.message).to.contain("ended UNSUPPORTED_IMAGE: UnsupportedImageError");
    });

    it("gives up after the timeout", async () => {
        ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "IN_PROGRESS" } });
        const err = await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, { pollMs: 5, timeoutMs: 30, log: () => undefined }).catch((e) => e);
        expect(err.message).to.match(/still IN_PROGRESS after 0.03 s/);
    });

    it("passes other AWS errors through (e.g. access denied)", async () => {
        const denied = Object.assign(new Error("User is not authorized to perform: ecr:DescribeImageScanFindings"), { name: "AccessDeniedException" });
        ecr.on(DescribeImageScanFindingsCommand).rejects(denied);
        const err = await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, fast).catch((e) => e);
        expect(err.message).to.contain("ecr:DescribeImageScanFindings");
    });

    it("fails when the scan itself failed, naming the status and ECR's description", async () => {
        ecr.on(DescribeImageScanFindingsCommand)
            .resolvesOnce({ imageScanStatus: { status: "IN_PROGRESS" } })
            .resolves({ imageScanStatus: { status: "FAILED", description: "ScanFailed: internal error" } });
        const err = await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, fast).catch((e) => e);
        expect(err).to.be.instanceOf(Error);
        expect(err.message).to.equal(`scan of repo@${DIGEST} ended FAILED: ScanFailed: internal error`);
    });

    describe("under Inspector enhanced scanning (issue 11 item 11)", () => {
        it("accepts ACTIVE as done and judges its counts, from the summary or from the enhanced findings", async () => {
            ecr.on(DescribeImageScanFindingsCommand)
                .resolvesOnce({ imageScanStatus: { status: "PENDING" } })
                .resolves({ imageScanStatus: { status: "ACTIVE" }, imageScanFindings: { findingSeverityCounts: { HIGH: 2 } } });
            const client = new ECRClient({ region: "eu-west-1" });
            expect(await waitForScan(client, "repo", DIGEST, fast)).to.deep.equal({ HIGH: 2 });
            ecr.reset();
            ecr.on(DescribeImageScanFindingsCommand).resolves({
                imageScanStatus: { status: "ACTIVE" },
                imageScanFindings: { enhancedFindings: [{ severity: "CRITICAL" }, { severity: "HIGH" }, { severity: "HIGH" }] },
            });
            expect(await waitForScan(client, "repo", DIGEST, fast)).to.deep.equal({ CRITICAL: 1, HIGH: 2 });
        });

        for (const status of ["FINDINGS_UNAVAILABLE", "LIMIT_EXCEEDED", "SCAN_ELIGIBILITY_EXPIRED", "IMAGE_ARCHIVED"] as const) {
            it(`fails at once on ${status} instead of waiting for the timeout`, async () => {
                ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status, description: "from ECR" } });
                const err = await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, { pollMs: 1, timeoutMs: 60_000, log: () => undefined }).catch((e) => e);
                expect(err.message).to.equal(`scan of repo@${DIGEST} ended ${status}: from ECR`);
                expect(ecr.commandCalls(DescribeImageScanFindingsCommand)).to.have.length(1);
            });
        }

        it("does not take a first ACTIVE answer for the findings: the counts must repeat on the next poll (Inspector files them after ACTIVE)", async () => {
            const active = (counts: Record<string, number>) => ({ ...complete(counts), imageScanStatus: { status: "ACTIVE" as const } });
            ecr.on(DescribeImageScanFindingsCommand).resolvesOnce(active({})).resolvesOnce(active({ CRITICAL: 1 })).resolves(active({ CRITICAL: 1 }));
            expect(await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, fast)).to.deep.equal({ CRITICAL: 1 });
            expect(ecr.commandCalls(DescribeImageScanFindingsCommand)).to.have.length(3);
        });

        it("waits while ECR answers COMPLETE with nothing filed, however often it repeats (aws/aws-sdk#289)", async () => {
            const unfiled = { imageScanStatus: { status: "COMPLETE" as const, description: "The scan was completed successfully." }, imageScanFindings: { findings: [] } };
            ecr.on(DescribeImageScanFindingsCommand).resolvesOnce(unfiled).resolvesOnce(unfiled).resolvesOnce(unfiled).resolves(complete({ CRITICAL: 1 }));
            const lines: string[] = [];
            expect(await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, { ...fast, log: (l) => lines.push(l) })).to.deep.equal({ CRITICAL: 1 });
            expect(lines.filter((l) => l.includes("not filed yet"))).to.have.length(3);
        });

        it("counts the enhanced findings of every page when ECR gives no summary", async () => {
            ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "ACTIVE" }, imageScanFindings: { enhancedFindings: [{ severity: "HIGH" }] }, nextToken: "page-2" });
            ecr.on(DescribeImageScanFindingsCommand, { nextToken: "page-2" }).resolves({ imageScanStatus: { status: "ACTIVE" }, imageScanFindings: { enhancedFindings: [{ severity: "CRITICAL" }, { severity: "CRITICAL" }] } });
            expect(await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, fast)).to.deep.equal({ HIGH: 1, CRITICAL: 2 });
        });

        it("places every status of the SDK's ScanStatus enum, and refuses one it does not know", async () => {
            expect(Object.keys(SCAN_STATUS_OUTCOME).sort()).to.deep.equal(Object.values(ScanStatus).sort());
            ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "SOMETHING_NEW" as any } });
            const err = await waitForScan(new ECRClient({ region: "eu-west-1" }), "repo", DIGEST, fast).catch((e) => e);
            expect(err.message).to.match(/does not know: SOMETHING_NEW/);
        });
    });

    describe("main (what the local.Command runs)", () => {
        const saved = { ...process.env };
        const REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        const APP = { app: `${REGISTRY}/devsecops-stack-prod/devsecops-app@${DIGEST}` };
        const OTHER = "sha256:" + "ef".repeat(32);
        const HOSTS = {
            prometheus: `${REGISTRY}/devsecops-stack-prod/mirror/prometheus@${DIGEST}`,
            grafana: `${REGISTRY}/devsecops-stack-prod/mirror/grafana@${OTHER}`,
        };
        let out: string[];
        let err: string[];
        const origLog = console.log;
        const origError = console.error;
        beforeEach(() => {
            out = [];
            err = [];
            console.log = (...a: unknown[]) => void out.push(a.join(" "));
            console.error = (...a: unknown[]) => void err.push(a.join(" "));
            Object.assign(process.env, { IMAGES: JSON.stringify(APP), AWS_REGION: "eu-west-1", MAX_CRITICAL: "0", MAX_HIGH: "-1", SCAN_POLL_SECONDS: "1" });
        });
        afterEach(() => {
            console.log = origLog;
            console.error = origError;
            for (const k of ["IMAGES", "AWS_REGION", "MAX_CRITICAL", "MAX_HIGH", "SCAN_TIMEOUT_SECONDS", "SCAN_POLL_SECONDS"]) {
                if (saved[k] === undefined) delete process.env[k];
                else process.env[k] = saved[k];
            }
        });

        it("exit 0 under the limits, printing the counts; asks ECR about the digest in its repository, not a tag", async () => {
            ecr.on(DescribeImageScanFindingsCommand).resolves(complete({ HIGH: 7, MEDIUM: 3 }));
            expect(await main()).to.equal(0);
            expect(out.join("\n")).to.contain(`app devsecops-stack-prod/devsecops-app@${DIGEST}: {"HIGH":7,"MEDIUM":3} accepted`);
            expect(ecr.commandCalls(DescribeImageScanFindingsCommand)[0].args[0].input).to.deep.equal({ repositoryName: "devsecops-stack-prod/devsecops-app", imageId: { imageDigest: DIGEST } });
        });

        it("exit 1 over the CRITICAL limit, printing the counts and the reason", async () => {
            ecr.on(DescribeImageScanFindingsCommand).resolves(complete({ CRITICAL: 2, HIGH: 1 }));
            expect(await main()).to.equal(1);
            expect(out.join("\n")).to.contain('"CRITICAL":2');
            expect(err.join("\n")).to.contain("2 CRITICAL findings exceed scanMaxCritical=0");
        });

        it("exit 1 over a HIGH limit when HIGH gates; the same scan passes with MAX_HIGH=-1", async () => {
            ecr.on(DescribeImageScanFindingsCommand).resolves(complete({ HIGH: 5 }));
            process.env.MAX_HIGH = "4";
            expect(await main()).to.equal(1);
            expect(err.join("\n")).to.contain("5 HIGH findings exceed scanMaxHigh=4");
            process.env.MAX_HIGH = "-1";
            expect(await main()).to.equal(0);
        });

        it("judges every image with the same limits, one line each, and names each one it refuses", async () => {
            process.env.IMAGES = JSON.stringify(HOSTS);
            ecr.on(DescribeImageScanFindingsCommand, { repositoryName: "devsecops-stack-prod/mirror/prometheus" }).resolves(complete({ MEDIUM: 1 }));
            ecr.on(DescribeImageScanFindingsCommand, { repositoryName: "devsecops-stack-prod/mirror/grafana" }).resolves(complete({ CRITICAL: 1 }));
            expect(await main()).to.equal(1);
            expect(out.join("\n")).to.contain(`prometheus devsecops-stack-prod/mirror/prometheus@${DIGEST}: {"MEDIUM":1} accepted`);
            expect(out.join("\n")).to.contain(`grafana devsecops-stack-prod/mirror/grafana@${OTHER}: {"CRITICAL":1} rejected`);
            expect(err.join("\n")).to.contain("scan gate: 1 of 2 images accepted; refused: grafana (1 CRITICAL findings exceed scanMaxCritical=0)");
            // Each image's digest is asked about (twice: the counts are confirmed by a second poll).
            expect([...new Set(ecr.commandCalls(DescribeImageScanFindingsCommand).map((c) => c.args[0].input.imageId?.imageDigest))].sort()).to.deep.equal([DIGEST, OTHER].sort());
        });

        it("an image basic scanning cannot read is refused, with the setting that scans it", async () => {
            process.env.IMAGES = JSON.stringify(HOSTS);
            ecr.on(DescribeImageScanFindingsCommand, { repositoryName: "devsecops-stack-prod/mirror/prometheus" }).resolves({
                imageScanStatus: { status: "UNSUPPORTED_IMAGE", description: "The operating system and/or package manager are not supported." },
            });
            ecr.on(DescribeImageScanFindingsCommand, { repositoryName: "devsecops-stack-prod/mirror/grafana" }).resolves(complete({}));
            expect(await main()).to.equal(1);
            expect(err.join("\n")).to.contain("prometheus devsecops-stack-prod/mirror/prometheus").and.contain("UNSUPPORTED_IMAGE").and.contain("ecrScanning: enhanced");
            expect(err.join("\n")).to.contain("1 of 2 images accepted; refused: prometheus");
        });

        it("exit 2 for IMAGES that are not ECR references by digest, naming the entry; a clear error for a bad limit", async () => {
            for (const [images, says] of [
                [JSON.stringify({ app: `${REGISTRY}/devsecops-stack-prod/devsecops-app:latest` }), "IMAGES.app="],
                [JSON.stringify({ grafana: `docker.io/grafana/grafana@${DIGEST}` }), "IMAGES.grafana="],
                ["{}", `IMAGES="{}"`],
                ["", 'IMAGES=""'],
            ]) {
                err = [];
                process.env.IMAGES = images;
                expect(await main(), images).to.equal(2);
                expect(err.join("\n")).to.contain(says);
            }
            process.env.IMAGES = JSON.stringify(APP);
            process.env.MAX_CRITICAL = "-3";
            const e = await main().catch((x) => x);
            expect(e.message).to.equal('MAX_CRITICAL="-3": a whole number, at least 0');
            process.env.MAX_CRITICAL = "0";
            process.env.SCAN_POLL_SECONDS = "0.5";
            expect(((await main().catch((x) => x)) as Error).message).to.equal('SCAN_POLL_SECONDS="0.5": a whole number, at least 1');
            expect(ecr.commandCalls(DescribeImageScanFindingsCommand)).to.have.length(0);
        });
    });
});
