import { expect } from "chai";
import { DescribeImageScanFindingsCommand, ECRClient, ScanNotFoundException } from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { judgeScan, waitForScan } from "../../scripts/ecr-scan-gate";

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
        expect(lines).to.deep.equal(["scan NOT_STARTED; waiting", "scan IN_PROGRESS; waiting"]);
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
});
