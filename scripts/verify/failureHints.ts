import { CheckOutcome, fail } from "./checkResult";

/** Turns the usual failures into evidence an operator can act on: which credential, permission or network rule is missing. */

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET"]);

function errorCode(e: unknown): string | undefined {
    const err = e as { code?: unknown; cause?: { code?: unknown; errors?: { code?: unknown }[] } };
    if (typeof err?.code === "string") return err.code;
    if (typeof err?.cause?.code === "string") return err.cause.code;
    const inner = err?.cause?.errors?.find((x) => typeof x?.code === "string");
    return inner?.code as string | undefined;
}

function isTimeout(e: unknown): boolean {
    const name = (e as Error)?.name;
    return name === "TimeoutError" || name === "AbortError" || errorCode(e) === "ETIMEDOUT" || errorCode(e) === "UND_ERR_CONNECT_TIMEOUT";
}

/** How an operator reaches the monitoring host, so an unreachable endpoint names the way in. */
export const MONITORING_REACH_HINT =
    "the monitoring host has no public address and its security group (Pulumi resource monitoring-sg) admits only the front door: " +
    "open a tunnel (npm run tunnel -- prometheus, or -- grafana) and pass its URL (--prometheus-url http://127.0.0.1:9090, --grafana-url http://127.0.0.1:3000); " +
    "Grafana's HTTPS name answers only the stack setting operatorCidrs (listener rules grafana-route-operators-*). Check the monitoring instance is running";

export interface HttpTarget {
    /** e.g. "Prometheus" */
    service: string;
    url: string;
    /** Which security group / setting must admit the caller. */
    reachHint: string;
}

export function explainHttpError(e: unknown, target: HttpTarget, timeoutMs: number): CheckOutcome {
    const code = errorCode(e);
    if (isTimeout(e)) {
        return fail(`${target.service} did not answer at ${target.url} within ${Math.round(timeoutMs / 1000)} s`, `a security group drops packets silently, so a time-out usually means ${target.reachHint}`);
    }
    if (code && NETWORK_CODES.has(code)) {
        return fail(`${target.service} unreachable at ${target.url} (${code})`, code === "ENOTFOUND" || code === "EAI_AGAIN" ? `the host name does not resolve: is the stack output current? Otherwise ${target.reachHint}` : target.reachHint);
    }
    const cause = (e as { cause?: { message?: string } })?.cause?.message;
    return fail(`${target.service} at ${target.url}: ${(e as Error)?.message ?? String(e)}${cause ? ` (${cause})` : ""}`, target.reachHint);
}

const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthorizationError", "Forbidden"]);
const BAD_CREDENTIALS = new Set(["ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "TokenRefreshRequired"]);
const NOT_FOUND = new Set(["ResourceNotFoundException", "TrailNotFoundException", "NoSuchBucket", "NotFound", "NoSuchKey"]);

export interface AwsCall {
    /** The IAM action the call needs, e.g. "cloudtrail:GetTrailStatus". */
    action: string;
    /** What it was called on, e.g. the trail ARN. */
    resource: string;
    region: string;
}

export function explainAwsError(e: unknown, call: AwsCall): CheckOutcome {
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const name = err?.name ?? "Error";
    const message = err?.message ?? String(e);
    if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
        return fail(
            "no AWS credentials",
            "give verify credentials for the stack's account: AWS_PROFILE=<profile> (after `aws sso login --profile <profile>`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then rerun",
        );
    }
    if (BAD_CREDENTIALS.has(name)) {
        return fail(`AWS credentials rejected (${name})`, "the credentials are expired or invalid: refresh them (`aws sso login`, or new keys) and rerun");
    }
    if (ACCESS_DENIED.has(name) || err?.$metadata?.httpStatusCode === 403) {
        return fail(`access denied: ${call.action} on ${call.resource}`, `grant ${call.action} on ${call.resource} to the identity verify runs as (aws sts get-caller-identity shows it)`);
    }
    // GuardDuty answers an unknown detector id with BadRequestException.
    const unknownResource = name === "BadRequestException" && /not owned|not found|does not exist/i.test(message);
    if (NOT_FOUND.has(name) || unknownResource || err?.$metadata?.httpStatusCode === 404) {
        return fail(`${call.resource} not found in ${call.region} (${name}: ${message})`, "the stack outputs may be stale or from another account/region: run `pulumi up`, or check AWS_PROFILE points at the stack's account");
    }
    if (isTimeout(e)) {
        return fail(`AWS ${call.action} did not answer within the time limit`, `check this machine reaches the AWS API endpoints of ${call.region} (proxy, VPN, firewall)`);
    }
    const code = errorCode(e);
    if (code && NETWORK_CODES.has(code)) {
        return fail(`AWS endpoint for ${call.action} unreachable (${code})`, `check this machine reaches the AWS API endpoints of ${call.region} (proxy, VPN, firewall)`);
    }
    return fail(`${call.action} failed: ${name}: ${message}`, `see the AWS error above; the call was ${call.action} on ${call.resource} in ${call.region}`);
}
