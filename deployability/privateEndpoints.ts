import { requiredActions } from "./bootPermissions";
import { HostView, hostViews } from "./hostRoles";
import { DeployabilityFinding, resourceKey, StackResource } from "./stackResource";

/**
 * Without a NAT gateway (`privateEgress: endpoints`) a host reaches an AWS service only through a VPC
 * endpoint of that service in the region it calls; a missing one is a call that never answers, and
 * mocks accept it. The calls are read off the hosts' rendered scripts and configs, as the
 * boot-permission check reads them, plus the AWS URLs they name (e.g. a remote-write workspace).
 * Endpoint service names: VPC PrivateLink guide, "AWS services that integrate with AWS PrivateLink".
 */

/** The endpoint a service's API is served by, where its name is not the IAM prefix. */
const ENDPOINTS_OF: Record<string, string[]> = {
    ecr: ["ecr.api", "ecr.dkr"],
    cloudwatch: ["monitoring"],
    // Remote write is the data plane (aps-workspaces.*); aps.* is the control plane.
    aps: ["aps-workspaces"],
};
/** Every host runs the SSM agent (operators' only way in): Systems Manager's three endpoints. */
const SSM_AGENT = ["ssm", "ssmmessages", "ec2messages"];
const AWS_URL = /https:\/\/([a-z0-9-]+)\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?\b/g;
const ENDPOINT_SERVICE = /^com\.amazonaws\.([a-z]{2}(?:-[a-z]+)+-\d)\.(.+)$/;

export function checkPrivateEndpoints(resources: StackResource[], views: HostView[] = hostViews(resources)): DeployabilityFinding[] {
    if (resources.some((r) => r.type === "aws:ec2/natGateway:NatGateway")) return [];
    const endpoints = new Set<string>();
    const regions = new Set<string>();
    for (const r of resources.filter((x) => x.type === "aws:ec2/vpcEndpoint:VpcEndpoint")) {
        const m = ENDPOINT_SERVICE.exec(String(r.inputs.serviceName ?? ""));
        if (!m) continue;
        endpoints.add(`${m[1]}/${m[2]}`);
        regions.add(m[1]);
    }
    // The VPC's region: the one its endpoints are in (the S3 gateway endpoint is always there).
    const [region] = regions;
    const findings: DeployabilityFinding[] = [];
    if (!region) {
        for (const view of views) {
            findings.push({ check: "private-endpoints", resource: resourceKey(view.host), message: "the VPC has no NAT gateway and no VPC endpoints: no AWS call the host makes answers" });
        }
        return findings;
    }
    for (const view of views) {
        const needed = new Map<string, string>();
        for (const service of SSM_AGENT) needed.set(`${region}/${service}`, "the SSM agent");
        for (const action of requiredActions(view.bootTexts).keys()) {
            const prefix = action.split(":")[0];
            for (const service of ENDPOINTS_OF[prefix] ?? [prefix]) needed.set(`${region}/${service}`, action);
        }
        for (const m of view.bootTexts.join("\n").matchAll(AWS_URL)) needed.set(`${m[2]}/${m[1]}`, m[0]);
        for (const [endpoint, why] of needed) {
            if (endpoints.has(endpoint)) continue;
            const [where, service] = endpoint.split("/");
            findings.push({
                check: "private-endpoints",
                resource: resourceKey(view.host),
                message: `calls ${service} in ${where} (${why}), and the VPC has no NAT gateway and no com.amazonaws.${where}.${service} endpoint: the call never answers`,
            });
        }
    }
    return findings;
}
