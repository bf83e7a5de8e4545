import { DescribeInstancesCommand, DescribeSecurityGroupsCommand } from "@aws-sdk/client-ec2";
import { DescribeTargetHealthCommand, TargetHealthReasonEnum, TargetHealthStateEnum } from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetWebACLForResourceCommand } from "@aws-sdk/client-wafv2";
import { AwsStub, mockClient } from "aws-sdk-client-mock";
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { AwsClients, createAwsClients, destroyAwsClients } from "../../scripts/verify/awsClients";
import { checkAppIsolation, checkAppThroughFrontDoor, checkHttpRedirect, checkTargetHealth, checkTlsVersion, checkWafAssociation, frontDoorChecks } from "../../scripts/verify/frontDoorChecks";
import { StackOutputs } from "../../scripts/verify/stackOutputs";

// Example identifiers in the SDK's shapes; no real account.
const REGION = "eu-west-1";
const TG = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/devsecops-app/0123456789abcdef";
const LB = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/devsecops/0123456789abcdef";
const ACL = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/devsecops-stack-prod/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111";
const APP_SG = "sg-0aaaaaaaaaaaaaaa1";

const servers: (http.Server | https.Server)[] = [];
afterEach(() => servers.splice(0).forEach((s) => (s.closeAllConnections(), s.close())));

async function serve(handler: http.RequestListener, host = "127.0.0.1"): Promise<number> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, host, r));
    return (server.address() as AddressInfo).port;
}

describe("verify: the front door over HTTP and TLS (local stand-ins)", function () {
    this.timeout(30_000);

    it("passes 200 on / and 404 on /metrics and /fault; fails naming an internal path that answers", async () => {
        let metricsStatus = 404;
        const port = await serve((req, res) => {
            res.statusCode = req.url === "/" ? 200 : req.url === "/metrics" ? metricsStatus : 404;
            res.end("{}");
        });
        const url = `http://127.0.0.1:${port}`;
        const ok = await checkAppThroughFrontDoor(url);
        expect(ok).to.deep.include({ ok: true, evidence: "/ → 200, /metrics → 404, /fault → 404" });
        metricsStatus = 200;
        const leaked = await checkAppThroughFrontDoor(url);
        expect(leaked.ok).to.equal(false);
        expect(leaked.hint).to.contain("/metrics must not be reachable");
    });

    it("passes a 301 to https on the same host; fails a plain 200 and a redirect elsewhere", async () => {
        let location = "";
        const port = await serve((_req, res) => {
            res.statusCode = location ? 301 : 200;
            if (location) res.setHeader("location", location);
            res.end();
        });
        const appUrl = `https://127.0.0.1:${port}`;
        location = `https://127.0.0.1:${port}/`;
        expect((await checkHttpRedirect(appUrl)).ok).to.equal(true);
        location = "https://elsewhere.example/";
        expect((await checkHttpRedirect(appUrl)).ok).to.equal(false);
        location = "";
        expect(await checkHttpRedirect(appUrl)).to.deep.include({ ok: false, evidence: `http://127.0.0.1:${port}/ → 200` });
    });

    it("reports the negotiated TLS version with a verified certificate; a TLS 1.1-only server fails", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frontdoor-tls-"));
        try {
            const key = path.join(dir, "key.pem");
            const cert = path.join(dir, "cert.pem");
            const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], { encoding: "utf8" });
            if (made.error) throw new Error(`openssl could not run (${made.error.message}): install Debian's openssl package`);
            expect(made.status, made.stderr).to.equal(0);
            const tlsServer = async (maxVersion?: "TLSv1.1") => {
                const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), ...(maxVersion ? { maxVersion, minVersion: "TLSv1" as const } : {}) }, (_q, s) => s.end());
                servers.push(server);
                await new Promise<void>((r) => server.listen(0, "localhost", r));
                return `https://localhost:${(server.address() as AddressInfo).port}`;
            };
            const ca = fs.readFileSync(cert);
            const modern = await checkTlsVersion(await tlsServer(), { ca });
            expect(modern.ok, modern.evidence).to.equal(true);
            expect(modern.evidence).to.match(/TLSv1\.3/);
            expect((await checkTlsVersion(await tlsServer("TLSv1.1"), { ca })).ok).to.equal(false);
            // Without trusting the stand-in's certificate the handshake is refused: the check verifies certificates.
            expect((await checkTlsVersion(await tlsServer())).ok).to.equal(false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("verify: the fleet and the WAF against aws-sdk-client-mock", () => {
    let clients: AwsClients;
    let stubs: AwsStub<any, any, any>[];
    let elb: AwsStub<any, any, any>;
    let waf: AwsStub<any, any, any>;
    let ec2: AwsStub<any, any, any>;
    beforeEach(() => {
        clients = createAwsClients(REGION);
        stubs = [(elb = mockClient(clients.elbv2)), (waf = mockClient(clients.wafv2)), (ec2 = mockClient(clients.ec2))];
    });
    afterEach(() => {
        stubs.forEach((s) => s.restore());
        destroyAwsClients(clients);
    });

    it("targets: N/N healthy passes; an unhealthy one fails with its reason; none registered fails", async () => {
        const target = (id: string, State: TargetHealthStateEnum, Reason?: TargetHealthReasonEnum) => ({ Target: { Id: id, Port: 3000 }, TargetHealth: { State, Reason } });
        elb.on(DescribeTargetHealthCommand, { TargetGroupArn: TG }).resolves({ TargetHealthDescriptions: [target("i-01", "healthy"), target("i-02", "healthy")] });
        expect(await checkTargetHealth(clients, TG)).to.deep.include({ ok: true, evidence: "2/2 targets healthy" });
        elb.on(DescribeTargetHealthCommand, { TargetGroupArn: TG }).resolves({ TargetHealthDescriptions: [target("i-01", "healthy"), target("i-02", "unhealthy", "Target.FailedHealthChecks")] });
        expect(await checkTargetHealth(clients, TG)).to.deep.include({ ok: false, evidence: "1/2 targets healthy: i-02 unhealthy (Target.FailedHealthChecks)" });
        elb.on(DescribeTargetHealthCommand, { TargetGroupArn: TG }).resolves({ TargetHealthDescriptions: [] });
        expect((await checkTargetHealth(clients, TG)).ok).to.equal(false);
    });

    it("WAF: the stack's web ACL associated passes; none or another fails", async () => {
        waf.on(GetWebACLForResourceCommand, { ResourceArn: LB }).resolves({ WebACL: { ARN: ACL, Name: "devsecops-stack-prod", Id: "a1b2", DefaultAction: {}, VisibilityConfig: undefined as any } });
        expect((await checkWafAssociation(clients, LB, ACL)).ok).to.equal(true);
        waf.on(GetWebACLForResourceCommand, { ResourceArn: LB }).resolves({});
        expect(await checkWafAssociation(clients, LB, ACL)).to.deep.include({ ok: false, evidence: "no web ACL associated" });
    });

    it("isolation: private hosts behind security groups pass; a public address, a CIDR or port 22 fails", async () => {
        const instances = (publicIp?: string) => ({ Reservations: [{ Instances: [{ InstanceId: "i-01", PrivateIpAddress: "10.40.10.5", PublicIpAddress: publicIp }, { InstanceId: "i-02", PrivateIpAddress: "10.40.11.5" }] }] });
        const fromGroup = (port: number, group: string) => ({ IpProtocol: "tcp", FromPort: port, ToPort: port, UserIdGroupPairs: [{ GroupId: group }], IpRanges: [], Ipv6Ranges: [] });
        const groups = (...extra: object[]) => ({ SecurityGroups: [{ GroupId: APP_SG, IpPermissions: [fromGroup(3000, "sg-0lb"), fromGroup(3000, "sg-0mon"), fromGroup(9100, "sg-0mon"), ...extra] }] });
        ec2.on(DescribeInstancesCommand).resolves(instances());
        ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [APP_SG] }).resolves(groups());
        const ok = await checkAppIsolation(clients, "devsecops-app-hosts", APP_SG);
        expect(ok).to.deep.include({ ok: true, evidence: `2 hosts without public addresses; ${APP_SG} admits only security groups sg-0lb, sg-0mon` });
        expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters).to.deep.include({ Name: "tag:aws:autoscaling:groupName", Values: ["devsecops-app-hosts"] });

        ec2.on(DescribeInstancesCommand).resolves(instances("203.0.113.7"));
        expect((await checkAppIsolation(clients, "devsecops-app-hosts", APP_SG)).evidence).to.contain("i-01 has public address 203.0.113.7");
        ec2.on(DescribeInstancesCommand).resolves(instances());
        ec2.on(DescribeSecurityGroupsCommand, { GroupIds: [APP_SG] }).resolves(groups({ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "10.0.0.0/8" }] }));
        const open = await checkAppIsolation(clients, "devsecops-app-hosts", APP_SG);
        expect(open.ok).to.equal(false);
        expect(open.evidence).to.contain("admits 10.0.0.0/8 on tcp 22-22").and.contain("opens port 22");
    });

    it("builds the redirect and TLS checks as required only when the stack serves HTTPS, and the WAF check only with a web ACL", () => {
        const names = (values: Record<string, unknown>) => frontDoorChecks(new StackOutputs(values), () => clients).map((c) => `${c.required ? "required" : "optional"} ${c.name}`);
        const plain = names({ appUrl: "http://lb.example", appTls: "plain HTTP: set domainName + hostedZoneId or certificateArn for HTTPS" });
        expect(plain).to.include.members(["optional HTTP redirects to HTTPS (301)", "optional TLS 1.2 or newer negotiated"]);
        expect(plain.some((n) => n.includes("WAF"))).to.equal(false);
        const secure = names({ appUrl: "https://app.example.com", appTls: "https", webAclArn: ACL, loadBalancerArn: LB });
        expect(secure).to.include.members(["required HTTP redirects to HTTPS (301)", "required TLS 1.2 or newer negotiated", "required WAF web ACL associated with the load balancer"]);
    });
});
