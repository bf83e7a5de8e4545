import { AWS } from "./awsTypes";
import { asList, belongsTo, resourcePolicy, resourcesOfType, stackPolicy } from "./definePolicy";

/** One ingress permission, whichever of the four provider shapes declared it. */
interface Ingress {
    from: number;
    to: number;
    protocol: string;
    cidrs: string[];
}

const port = (value: unknown, fallback: number) => (value === undefined || value === null ? fallback : Number(value));

function ingressOf(type: string, props: Record<string, any>): Ingress[] {
    const inline = (r: any): Ingress => ({ from: port(r.fromPort, 0), to: port(r.toPort, 65535), protocol: String(r.protocol), cidrs: [...asList(r.cidrBlocks), ...asList(r.ipv6CidrBlocks)] });
    switch (type) {
        case AWS.securityGroup:
        case AWS.defaultSecurityGroup:
            return (props.ingress ?? []).map(inline);
        case AWS.securityGroupRule:
            return props.type === "ingress" ? [inline(props)] : [];
        case AWS.securityGroupIngressRule:
            return [{ from: port(props.fromPort, 0), to: port(props.toPort, 65535), protocol: String(props.ipProtocol), cidrs: [...asList(props.cidrIpv4), ...asList(props.cidrIpv6)] }];
        default:
            return [];
    }
}

const INGRESS_TYPES = [AWS.securityGroup, AWS.defaultSecurityGroup, AWS.securityGroupRule, AWS.securityGroupIngressRule];
const ANYWHERE = ["0.0.0.0/0", "::/0"];
const WEB_PORTS = [80, 443];
const allProtocols = (r: Ingress) => r.protocol === "-1" || r.protocol === "all";
const isTcp = (r: Ingress) => r.protocol === "tcp" || r.protocol === "6";
const covers = (r: Ingress, p: number) => allProtocols(r) || (r.from <= p && p <= r.to);
const describePorts = (r: Ingress) => (allProtocols(r) ? "all ports" : r.from === r.to ? `${r.protocol} ${r.from}` : `${r.protocol} ${r.from}-${r.to}`);

export const noOpenIngress = resourcePolicy(
    {
        name: "sg-no-open-ingress",
        description: "No ingress from 0.0.0.0/0 or ::/0 except TCP 80 and 443. Fix: admit the source security group (referencedSecurityGroupId) or the operators' CIDRs.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "EC2.18, EC2.19", checkov: "CKV_AWS_24, CKV_AWS_25, CKV_AWS_277" },
        types: INGRESS_TYPES,
    },
    (props, args, report) => {
        for (const r of ingressOf(args.type, props)) {
            const open = r.cidrs.filter((c) => ANYWHERE.includes(c));
            const webOnly = isTcp(r) && r.from === r.to && WEB_PORTS.includes(r.from);
            if (open.length > 0 && !webOnly) report(`ingress on ${describePorts(r)} from ${open.join(", ")}`);
        }
    },
);

/** Every rule, inline or separate, with whether it says what it is for. */
function ruleDescriptions(type: string, props: Record<string, any>): { what: string; description?: string }[] {
    const inline = (direction: string) => (r: any, i: number) => ({ what: `${direction}[${i}]`, description: r.description });
    switch (type) {
        case AWS.securityGroup:
            return [...(props.ingress ?? []).map(inline("ingress")), ...(props.egress ?? []).map(inline("egress"))];
        case AWS.securityGroupRule:
        case AWS.securityGroupIngressRule:
        case AWS.securityGroupEgressRule:
            return [{ what: "rule", description: props.description }];
        default:
            return [];
    }
}

export const sgRuleDescriptions = resourcePolicy(
    {
        name: "sg-rule-descriptions",
        description: "Every security group rule says what it admits and why (reviewers and incident responders read rules, not code). Fix: description: \"<who> to <what>\" on the rule.",
        enforcementLevel: "advisory",
        controls: { checkov: "CKV_AWS_23" },
        types: [AWS.securityGroup, AWS.securityGroupRule, AWS.securityGroupIngressRule, AWS.securityGroupEgressRule],
    },
    (props, args, report) => {
        for (const r of ruleDescriptions(args.type, props)) if (!String(r.description ?? "").trim()) report(`${r.what} has no description`);
    },
);

const REMOTE_ADMIN_PORTS = [22, 3389];

export const noRemoteAdminPorts = resourcePolicy(
    {
        name: "sg-no-remote-admin-ports",
        description: "No ingress on 22 (SSH) or 3389 (RDP) from any source: the hosts are reached with SSM Session Manager. Fix: remove the rule.",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 5.2, CIS 5.3", fsbp: "EC2.13, EC2.14", checkov: "CKV_AWS_24, CKV_AWS_25" },
        types: INGRESS_TYPES,
    },
    (props, args, report) => {
        for (const r of ingressOf(args.type, props)) for (const p of REMOTE_ADMIN_PORTS) if (covers(r, p)) report(`ingress admits port ${p}`);
    },
);

export const defaultSecurityGroupClosed = stackPolicy(
    {
        name: "vpc-default-sg-closed",
        description: "Every VPC's default security group is adopted and allows no traffic, so nothing placed in it by mistake is reachable. Fix: an aws.ec2.DefaultSecurityGroup for the VPC with ingress: [] and egress: [].",
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 5.4", fsbp: "EC2.2", checkov: "CKV2_AWS_12" },
    },
    (args, report) => {
        const defaults = resourcesOfType(args, AWS.defaultSecurityGroup);
        for (const d of defaults) {
            const rules = (d.props.ingress ?? []).length + (d.props.egress ?? []).length;
            if (rules > 0) report(`default security group ${d.name} has ${rules} rule(s)`, d.urn);
        }
        // Rules added to the default group as separate resources open it just the same.
        const separate = resourcesOfType(args, AWS.securityGroupRule, AWS.securityGroupIngressRule, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule");
        for (const d of defaults) {
            for (const rule of separate) if (belongsTo(rule, d, "securityGroupId", ["id"])) report(`default security group ${d.name} is opened by rule ${rule.name}`, d.urn);
        }
        for (const vpc of resourcesOfType(args, AWS.vpc)) {
            if (!defaults.some((d) => belongsTo(d, vpc, "vpcId", ["id"]))) report(`VPC ${vpc.name}'s default security group is not adopted (it allows traffic within itself)`, vpc.urn);
        }
    },
);
