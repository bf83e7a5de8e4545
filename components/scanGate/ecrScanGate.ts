/**
 * The deployment's image scan gate (run by a `local.Command` during `pulumi up`):
 * waits for ECR's scan of the pushed digest, prints the finding counts and exits
 * non-zero when CRITICAL (or, if gated, HIGH) findings exceed the limits — before any
 * host runs the image.
 *
 * Env: REPOSITORY, IMAGE_DIGEST, AWS_REGION, MAX_CRITICAL (default 0),
 * MAX_HIGH (-1 = HIGH does not gate), SCAN_TIMEOUT_SECONDS (default 600).
 */
import { DescribeImageScanFindingsCommand, DescribeImageScanFindingsCommandOutput, ECRClient, ScanStatus } from "@aws-sdk/client-ecr";

export type SeverityCounts = Partial<Record<"CRITICAL" | "HIGH" | "MEDIUM" | "LOW" | "INFORMATIONAL" | "UNDEFINED", number>>;

export interface ScanLimits {
    maxCritical: number;
    /** -1: HIGH findings do not gate. */
    maxHigh: number;
}

export interface ScanVerdict {
    pass: boolean;
    reasons: string[];
}

export function judgeScan(counts: SeverityCounts, limits: ScanLimits): ScanVerdict {
    const reasons: string[] = [];
    const critical = counts.CRITICAL ?? 0;
    const high = counts.HIGH ?? 0;
    if (critical > limits.maxCritical) reasons.push(`${critical} CRITICAL findings exceed scanMaxCritical=${limits.maxCritical}`);
    if (limits.maxHigh >= 0 && high > limits.maxHigh) reasons.push(`${high} HIGH findings exceed scanMaxHigh=${limits.maxHigh}`);
    return { pass: reasons.length === 0, reasons };
}

export interface WaitOptions {
    pollMs: number;
    timeoutMs: number;
    log: (line: string) => void;
}

/**
 * What the gate does with each status ECR reports (ImageScanStatus, ECR API Reference), typed over
 * the SDK's own enum so a status added to the SDK fails the type check until it is placed here.
 * Basic scanning ends COMPLETE; enhanced (Inspector) scanning reports ACTIVE once findings are
 * available and keeps them current.
 */
export const SCAN_STATUS_OUTCOME: Record<ScanStatus, "findings" | "wait" | "fail"> = {
    COMPLETE: "findings",
    ACTIVE: "findings",
    PENDING: "wait",
    IN_PROGRESS: "wait",
    FAILED: "fail",
    UNSUPPORTED_IMAGE: "fail",
    SCAN_ELIGIBILITY_EXPIRED: "fail",
    FINDINGS_UNAVAILABLE: "fail",
    LIMIT_EXCEEDED: "fail",
    IMAGE_ARCHIVED: "fail",
};

/** Severity counts: ECR's summary, or (enhanced scanning without one) the findings' own severities. */
function severityCounts(findings: DescribeImageScanFindingsCommandOutput["imageScanFindings"]): SeverityCounts {
    if (findings?.findingSeverityCounts && Object.keys(findings.findingSeverityCounts).length) return findings.findingSeverityCounts as SeverityCounts;
    const counts: Record<string, number> = {};
    for (const f of findings?.enhancedFindings ?? []) {
        const severity = (f.severity ?? "UNDEFINED").toUpperCase();
        counts[severity] = (counts[severity] ?? 0) + 1;
    }
    return counts as SeverityCounts;
}

/** Polls until the scan of `digest` has findings; throws on a terminal status, an unknown one, or timeout. */
export async function waitForScan(client: ECRClient, repositoryName: string, imageDigest: string, opts: WaitOptions): Promise<SeverityCounts> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
        let status: string | undefined;
        try {
            const r = await client.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: { imageDigest } }));
            status = r.imageScanStatus?.status;
            const outcome = status ? SCAN_STATUS_OUTCOME[status as ScanStatus] : "wait";
            if (outcome === "findings") return severityCounts(r.imageScanFindings);
            if (outcome !== "wait") {
                const what = outcome === "fail" ? "ended" : "reported a status this gate does not know:";
                throw new Error(`scan of ${repositoryName}@${imageDigest} ${what} ${status}: ${r.imageScanStatus?.description ?? "no description"}`);
            }
        } catch (e) {
            // Right after a push the scan may not exist yet.
            if ((e as { name?: string }).name !== "ScanNotFoundException") throw e;
            status = "NOT_STARTED";
        }
        if (Date.now() >= deadline) throw new Error(`scan of ${repositoryName}@${imageDigest} still ${status ?? "PENDING"} after ${opts.timeoutMs / 1000} s`);
        opts.log(`scan ${status ?? "PENDING"}; waiting`);
        await new Promise((r) => setTimeout(r, opts.pollMs));
    }
}

function intFromEnv(name: string, fallback: number, min: number): number {
    const raw = process.env[name];
    if (raw === undefined || raw === "") return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) throw new Error(`${name}=${JSON.stringify(raw)}: a whole number, at least ${min}`);
    return v;
}

export async function main(): Promise<number> {
    const repository = process.env.REPOSITORY;
    const digest = process.env.IMAGE_DIGEST?.split("@").pop();
    if (!repository || !digest?.startsWith("sha256:")) {
        console.error(`REPOSITORY=${JSON.stringify(repository)} IMAGE_DIGEST=${JSON.stringify(process.env.IMAGE_DIGEST)}: a repository name and a sha256: digest are required`);
        return 2;
    }
    const limits = { maxCritical: intFromEnv("MAX_CRITICAL", 0, 0), maxHigh: intFromEnv("MAX_HIGH", -1, -1) };
    const client = new ECRClient({ region: process.env.AWS_REGION });
    const counts = await waitForScan(client, repository, digest, {
        pollMs: 5000,
        timeoutMs: intFromEnv("SCAN_TIMEOUT_SECONDS", 600, 1) * 1000,
        log: (l) => console.log(l),
    });
    console.log(`scan findings for ${repository}@${digest}: ${JSON.stringify(counts)}`);
    const verdict = judgeScan(counts, limits);
    if (!verdict.pass) {
        console.error(`image rejected: ${verdict.reasons.join("; ")}`);
        return 1;
    }
    console.log("image accepted by the scan gate");
    return 0;
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (e) => {
            console.error(`scan gate failed: ${(e as Error).message}`);
            process.exit(1);
        },
    );
}
