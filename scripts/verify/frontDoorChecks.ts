import { DescribeInstancesCommand, DescribeSecurityGroupsCommand } from "@aws-sdk/client-ec2";
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetWebACLForResourceCommand } from "@aws-sdk/client-wafv2";
import * as tls from "node:tls";
import { AwsClients } from "./awsClients";
import { Check, CheckOutcome, fail, pass } from "./checkResult";
import { explainAwsError } from "./failureHints";
import { joinUrl } from "./httpJson";
import { StackOutputs } from "./stackOutputs";

/**
 * The front door and the fleet after `pulumi up` (issue 12): clients reach the app through the
 * load balancer (200 on /, 404 on the internal paths), HTTP only redirects, TLS ≥ 1.2, every target
 * healthy, the WAF associated, and the security guide's isolation test (no app host has a public
 * address; its security group admits security groups only, never port 22).
 */

const REQUEST_TIMEOUT_MS = 10_000;
const TLS_PROTOCOLS_ACCEPTED = ["TLSv1.2", "TLSv1.3"];

/** Fetch without following redirects, bounded in time. */
async function probe(url: string, signal?: AbortSignal): Promise<{ status: number; location: string | null; body: string }> {
    const r = await fetch(url, { redirect: "manual", signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(signal ? [signal] : [])]) });
    return { status: r.status, location: r.headers.get("location"), body: await r.text() };
}

const unreachable = (url: string, e: unknown): CheckOutcome =>
    fail(`${url} did not answer: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`, "check the load balancer's DNS name resolves and its security group admits 80/443 from your network");

/** 200 on / with the app's JSON; 404 on /metrics and /fault (the listener rule keeps them internal). */
export async function checkAppThroughFrontDoor(appUrl: string, signal?: AbortSignal): Promise<CheckOutcome> {
    const seen: string[] = [];
    try {
        const home = await probe(joinUrl(appUrl, "/"), signal);
        seen.push(`/ → ${home.status}`);
        if (home.status !== 200) return fail(seen.join(", "), "the app hosts are not serving: check the targets' health (the next check) and the app's log group");
        for (const internal of ["/metrics", "/fault"]) {
            const r = await probe(joinUrl(appUrl, internal), signal);
            seen.push(`${internal} → ${r.status}`);
            if (r.status !== 404) return fail(seen.join(", "), `${internal} must not be reachable from the internet: the front door's listener rule for internal paths is missing or changed`);
        }
    } catch (e) {
        return unreachable(appUrl, e);
    }
    return pass(seen.join(", "));
}

/** http:// answers 301 to the same host over https://, and nothing else. */
export async function checkHttpRedirect(appUrl: string, signal?: AbortSignal): Promise<CheckOutcome> {
    const host = new URL(appUrl).host;
    const plain = `http://${host}/`;
    try {
        const r = await probe(plain, signal);
        if (r.status === 301 && r.location !== null && new URL(r.location).protocol === "https:" && new URL(r.location).host === host) return pass(`${plain} → 301 ${r.location}`);
        return fail(`${plain} → ${r.status}${r.location ? ` ${r.location}` : ""}`, "the HTTP listener must only redirect (301) to HTTPS");
    } catch (e) {
        return unreachable(plain, e);
    }
}

/** The TLS version the front door negotiates with a current client. `ca` lets tests trust their own certificate. */
export function checkTlsVersion(appUrl: string, options: { ca?: string | Buffer; signal?: AbortSignal } = {}): Promise<CheckOutcome> {
    const url = new URL(appUrl);
    const port = Number(url.port || 443);
    return new Promise((resolve) => {
        const socket = tls.connect({ host: url.hostname, port, servername: url.hostname, ca: options.ca, timeout: REQUEST_TIMEOUT_MS }, () => {
            const protocol = socket.getProtocol() ?? "unknown";
            const cipher = socket.getCipher()?.name ?? "unknown cipher";
            socket.end();
            resolve(
                TLS_PROTOCOLS_ACCEPTED.includes(protocol)
                    ? pass(`${url.host}: ${protocol}, ${cipher}, certificate valid for ${url.hostname}`)
                    : fail(`${url.host}: ${protocol}`, "the HTTPS listener's security policy must allow only TLS 1.2 and 1.3 (ELBSecurityPolicy-TLS13-1-2-2021-06)"),
            );
        });
        socket.on("timeout", () => socket.destroy(new Error(`no TLS handshake within ${REQUEST_TIMEOUT_MS} ms`)));
        socket.on("error", (e) => resolve(fail(`${url.host}: ${e.message}`, "the certificate must be valid for the host name (ACM, DNS-validated) and the listener reachable on 443")));
        options.signal?.addEventListener("abort", () => socket.destroy(new Error("interrupted")), { once: true });
    });
}

/** DescribeTargetHealth: every registered target healthy, at least one. */
export async function checkTargetHealth(clients: AwsClients, targetGroupArn: string, signal?: AbortSignal): Promise<CheckOutcome> {
    let targets;
    try {
        targets = (await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }), { abortSignal: signal })).TargetHealthDescriptions ?? [];
    } catch (e) {
        return explainAwsError(e, { action: "elasticloadbalancing:DescribeTargetHealth", resource: `target group ${targetGroupArn}`, region: clients.region });
    }
    const healthy = targets.filter((t) => t.TargetHealth?.State === "healthy");
    const others = targets.filter((t) => t.TargetHealth?.State !== "healthy").map((t) => `${t.Target?.Id} ${t.TargetHealth?.State}${t.TargetHealth?.Reason ? ` (${t.TargetHealth.Reason})` : ""}`);
    const evidence = `${healthy.length}/${targets.length} targets healthy${others.length ? `: ${others.join(", ")}` : ""}`;
    if (targets.length === 0) return fail(evidence, "no host is registered: check the Auto Scaling group's activity (aws autoscaling describe-scaling-activities)");
    return others.length === 0 ? pass(evidence) : fail(evidence, "an unhealthy host fails /health on 3000: see its boot unit (journalctl -u devsecops-app.service over Session Manager) and the app's log group");
}

/** The regional web ACL the stack created is the one associated with its load balancer. */
export async function checkWafAssociation(clients: AwsClients, loadBalancerArn: string, webAclArn: string, signal?: AbortSignal): Promise<CheckOutcome> {
    let associated: string | undefined;
    try {
        associated = (await clients.wafv2.send(new GetWebACLForResourceCommand({ ResourceArn: loadBalancerArn }), { abortSignal: signal })).WebACL?.ARN;
    } catch (e) {
        return explainAwsError(e, { action: "wafv2:GetWebACLForResource", resource: `load balancer ${loadBalancerArn}`, region: clients.region });
    }
    if (associated === webAclArn) return pass(`web ACL ${webAclArn.split("/").slice(-2, -1)[0] ?? webAclArn} associated`);
    return fail(associated ? `another web ACL is associated: ${associated}` : "no web ACL associated", "pulumi up restores the stack's association (enableWaf: true)");
}

/** The security guide's isolation test: app hosts have no public address; their group admits security groups only, never 22. */
export async function checkAppIsolation(clients: AwsClients, autoScalingGroupName: string, appSecurityGroupId: string, signal?: AbortSignal): Promise<CheckOutcome> {
    let instances;
    let permissions;
    try {
        const reservations = (
            await clients.ec2.send(
                new DescribeInstancesCommand({ Filters: [{ Name: "tag:aws:autoscaling:groupName", Values: [autoScalingGroupName] }, { Name: "instance-state-name", Values: ["pending", "running"] }] }),
                { abortSignal: signal },
            )
        ).Reservations ?? [];
        instances = reservations.flatMap((r) => r.Instances ?? []);
    } catch (e) {
        return explainAwsError(e, { action: "ec2:DescribeInstances", resource: `instances of ${autoScalingGroupName}`, region: clients.region });
    }
    try {
        permissions = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [appSecurityGroupId] }), { abortSignal: signal })).SecurityGroups?.[0]?.IpPermissions ?? [];
    } catch (e) {
        return explainAwsError(e, { action: "ec2:DescribeSecurityGroups", resource: appSecurityGroupId, region: clients.region });
    }
    const problems: string[] = [];
    for (const i of instances) if (i.PublicIpAddress) problems.push(`${i.InstanceId} has public address ${i.PublicIpAddress}`);
    for (const p of permissions) {
        const ports = p.IpProtocol === "-1" ? "all traffic" : `${p.IpProtocol} ${p.FromPort}-${p.ToPort}`;
        const cidrs = [...(p.IpRanges ?? []).map((r) => r.CidrIp), ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6)];
        if (cidrs.length > 0) problems.push(`${appSecurityGroupId} admits ${cidrs.join(", ")} on ${ports}`);
        if (p.IpProtocol === "-1" || ((p.FromPort ?? 0) <= 22 && 22 <= (p.ToPort ?? 0))) problems.push(`${appSecurityGroupId} opens port 22 (${ports})`);
    }
    if (instances.length === 0) problems.push(`no running instance in ${autoScalingGroupName}`);
    const sources = [...new Set(permissions.flatMap((p) => (p.UserIdGroupPairs ?? []).map((g) => g.GroupId)))];
    if (problems.length > 0) return fail(problems.join("; "), "the app hosts must be reachable only through the load balancer's and the monitoring host's security groups: pulumi up restores them");
    return pass(`${instances.length} hosts without public addresses; ${appSecurityGroupId} admits only security groups ${sources.join(", ")}`);
}

export function frontDoorChecks(outputs: StackOutputs, clients: () => AwsClients): Check[] {
    const tlsOn = outputs.has("appTls") && outputs.string("appTls") === "https";
    const noTls = (): Promise<CheckOutcome> => Promise.resolve(fail(`appTls: ${outputs.has("appTls") ? outputs.string("appTls") : "missing"}`, "set domainName + hostedZoneId (or certificateArn) for HTTPS"));
    const checks: Check[] = [
        { group: "frontdoor", name: "App through the front door: 200 on /, 404 on /metrics and /fault", required: true, timeoutMs: 40_000, run: (signal) => checkAppThroughFrontDoor(outputs.string("appUrl"), signal) },
        { group: "frontdoor", name: "HTTP redirects to HTTPS (301)", required: tlsOn, timeoutMs: 20_000, run: (signal) => (tlsOn ? checkHttpRedirect(outputs.string("appUrl"), signal) : noTls()) },
        { group: "frontdoor", name: "TLS 1.2 or newer negotiated", required: tlsOn, timeoutMs: 20_000, run: (signal) => (tlsOn ? checkTlsVersion(outputs.string("appUrl"), { signal }) : noTls()) },
        { group: "frontdoor", name: "Every target healthy (DescribeTargetHealth)", required: true, timeoutMs: 30_000, run: (signal) => checkTargetHealth(clients(), outputs.string("targetGroupArn"), signal) },
        {
            group: "frontdoor",
            name: "App hosts isolated: no public address, ingress from security groups only",
            required: true,
            timeoutMs: 30_000,
            run: (signal) => checkAppIsolation(clients(), outputs.string("autoScalingGroupName"), outputs.string("appSecurityGroupId"), signal),
        },
    ];
    // Without enableWaf the stack exports no web ACL; nothing to check then.
    if (outputs.has("webAclArn")) {
        checks.push({
            group: "frontdoor",
            name: "WAF web ACL associated with the load balancer",
            required: true,
            timeoutMs: 30_000,
            run: (signal) => checkWafAssociation(clients(), outputs.string("loadBalancerArn"), outputs.string("webAclArn"), signal),
        });
    }
    return checks;
}
