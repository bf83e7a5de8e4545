/**
 * The deployment's image scan gate (run by a `local.Command` during `pulumi up`):
 * waits for ECR's scan of each pushed digest, prints each image's finding counts and exits
 * non-zero when CRITICAL (or, if gated, HIGH) findings exceed the limits — before any
 * host runs the image.
 *
 * One run judges every image a host will run (the app, or all the mirrored host images), each
 * by its digest, with the same limits; see main() for the environment it reads.
 */
import { DescribeImageScanFindingsCommand, DescribeImageScanFindingsCommandOutput, ECRClient, ScanStatus } from "@aws-sdk/client-ecr";
import { ECR_REGISTRY_HOST, ECR_REPOSITORY_NAME, IMAGE_DIGEST } from "../ecrImageReference";

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

type ScanFindings = DescribeImageScanFindingsCommandOutput["imageScanFindings"];

/**
 * Whether the answer carries a filed scan: a summary, a completion time, or findings. ECR has answered
 * COMPLETE with none of these while Inspector was still filing them (aws/aws-sdk#289); that is a wait.
 */
function isFiled(findings: ScanFindings): boolean {
    return findings?.findingSeverityCounts !== undefined || findings?.imageScanCompletedAt !== undefined || !!findings?.findings?.length || !!findings?.enhancedFindings?.length;
}

/** Severity counts: ECR's summary, or (enhanced scanning without one) the findings' own severities. */
function severityCounts(findings: ScanFindings, moreEnhancedFindings: { severity?: string }[] = []): SeverityCounts {
    if (findings?.findingSeverityCounts && Object.keys(findings.findingSeverityCounts).length) return findings.findingSeverityCounts as SeverityCounts;
    const counts: Record<string, number> = {};
    for (const f of [...(findings?.enhancedFindings ?? []), ...moreEnhancedFindings]) {
        const severity = (f.severity ?? "UNDEFINED").toUpperCase();
        counts[severity] = (counts[severity] ?? 0) + 1;
    }
    return counts as SeverityCounts;
}

/** The enhanced findings on the pages after the first, when ECR gave no summary to count from. */
async function laterPages(client: ECRClient, repositoryName: string, imageDigest: string, first: DescribeImageScanFindingsCommandOutput): Promise<{ severity?: string }[]> {
    const summary = first.imageScanFindings?.findingSeverityCounts;
    if (summary && Object.keys(summary).length) return [];
    const more: { severity?: string }[] = [];
    // Same request as the first page (a token belongs to the request that returned it).
    for (let token = first.nextToken; token; ) {
        const page = await client.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: { imageDigest }, nextToken: token }));
        more.push(...(page.imageScanFindings?.enhancedFindings ?? []));
        token = page.nextToken;
    }
    return more;
}

/**
 * Polls until the scan of `digest` has filed findings, and the same counts twice in a row: ECR can
 * report COMPLETE (or ACTIVE) before Inspector has filed them (aws/aws-sdk#289), so an answer with
 * nothing filed is a wait, and a first answer is confirmed by the next poll. Without a summary the
 * enhanced findings are counted over every page. Throws on a terminal status, an unknown one, or timeout.
 */
export async function waitForScan(client: ECRClient, repositoryName: string, imageDigest: string, opts: WaitOptions): Promise<SeverityCounts> {
    const deadline = Date.now() + opts.timeoutMs;
    let previous: string | undefined;
    for (;;) {
        let status: string | undefined;
        try {
            const r = await client.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: { imageDigest } }));
            status = r.imageScanStatus?.status;
            const outcome = status ? SCAN_STATUS_OUTCOME[status as ScanStatus] : "wait";
            if (outcome === "findings" && !isFiled(r.imageScanFindings)) {
                previous = undefined;
                status = `${status} (findings not filed yet)`;
            } else if (outcome === "findings") {
                const counts = severityCounts(r.imageScanFindings, await laterPages(client, repositoryName, imageDigest, r));
                const key = JSON.stringify(Object.entries(counts).sort());
                if (key === previous) return counts;
                previous = key;
                status = `${status} (confirming the counts)`;
            } else if (outcome !== "wait") {
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

export interface GatedImage {
    /** What the report calls it (app, prometheus, …). */
    name: string;
    repository: string;
    digest: string;
}

/** An ECR reference by digest: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>`. */
const ECR_DIGEST_REF = new RegExp(`^${ECR_REGISTRY_HOST}/(${ECR_REPOSITORY_NAME})@(${IMAGE_DIGEST})$`);

/** IMAGES: a JSON object naming each image the gate judges, name → its ECR reference by digest. */
export function parseGatedImages(raw: string | undefined): GatedImage[] {
    const allowed = "a JSON object of name → <registry>/<repository>@sha256:<64 hex>, at least one";
    let parsed: unknown;
    try {
        parsed = JSON.parse(raw ?? "");
    } catch {
        throw new Error(`IMAGES=${JSON.stringify(raw)}: ${allowed}`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || !Object.keys(parsed).length) throw new Error(`IMAGES=${JSON.stringify(raw)}: ${allowed}`);
    return Object.entries(parsed as Record<string, unknown>).map(([name, ref]) => {
        const m = typeof ref === "string" ? ECR_DIGEST_REF.exec(ref) : null;
        if (!m) throw new Error(`IMAGES.${name}=${JSON.stringify(ref)}: an ECR reference by digest, <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>`);
        return { name, repository: m[1], digest: m[2] };
    });
}

/** Basic scanning reads OS packages only; images without a package database it cannot scan at all. */
function hint(message: string): string {
    return message.includes("UNSUPPORTED_IMAGE") ? `${message} (basic scanning cannot read this image; ecrScanning: enhanced scans it)` : message;
}

/**
 * Judges every image in IMAGES (scans awaited together), prints one line per image with its
 * counts and verdict, and exits 1 if any is rejected or its scan did not finish — naming each.
 * Env: IMAGES, AWS_REGION, MAX_CRITICAL (default 0), MAX_HIGH (-1 = HIGH does not gate),
 * SCAN_TIMEOUT_SECONDS (default 600), SCAN_POLL_SECONDS (default 5).
 */
export async function main(): Promise<number> {
    let images: GatedImage[];
    try {
        images = parseGatedImages(process.env.IMAGES);
    } catch (e) {
        console.error((e as Error).message);
        return 2;
    }
    const limits = { maxCritical: intFromEnv("MAX_CRITICAL", 0, 0), maxHigh: intFromEnv("MAX_HIGH", -1, -1) };
    const timeoutMs = intFromEnv("SCAN_TIMEOUT_SECONDS", 600, 1) * 1000;
    const pollMs = intFromEnv("SCAN_POLL_SECONDS", 5, 1) * 1000;
    const client = new ECRClient({ region: process.env.AWS_REGION });
    const results = await Promise.allSettled(
        images.map((image) => waitForScan(client, image.repository, image.digest, { pollMs, timeoutMs, log: (l) => console.log(`${image.name}: ${l}`) })),
    );
    const refused: string[] = [];
    images.forEach((image, i) => {
        const result = results[i];
        const what = `${image.name} ${image.repository}@${image.digest}`;
        if (result.status === "rejected") {
            const message = hint((result.reason as Error).message);
            console.error(`${what}: not judged: ${message}`);
            refused.push(`${image.name} (${message})`);
            return;
        }
        const verdict = judgeScan(result.value, limits);
        console.log(`${what}: ${JSON.stringify(result.value)} ${verdict.pass ? "accepted" : "rejected"}`);
        if (!verdict.pass) {
            console.error(`${what} rejected: ${verdict.reasons.join("; ")}`);
            refused.push(`${image.name} (${verdict.reasons.join("; ")})`);
        }
    });
    if (refused.length) {
        console.error(`scan gate: ${images.length - refused.length} of ${images.length} images accepted; refused: ${refused.join(", ")}`);
        return 1;
    }
    console.log(`scan gate: all ${images.length} images accepted`);
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
