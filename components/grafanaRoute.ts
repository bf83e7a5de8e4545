import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { instanceTargetGroupArgs } from "./appLoadBalancer";
import { stackPrefix, standardTags } from "./tags";

export interface GrafanaRouteArgs {
    vpcId: pulumi.Input<string>;
    /** The front door's HTTPS listener: Grafana is never served in plain HTTP. */
    listenerArn: pulumi.Input<string>;
    loadBalancerSecurityGroupId: pulumi.Input<string>;
    loadBalancerDnsName: pulumi.Input<string>;
    loadBalancerZoneId: pulumi.Input<string>;
    /** Grafana's own name (e.g. grafana.<domainName>), on the listener's certificate, and its Route 53 zone. */
    hostName: string;
    hostedZoneId: string;
    /** The only client networks the rule forwards (the stack setting operatorCidrs). */
    sourceCidrs: string[];
    instanceId: pulumi.Input<string>;
    instanceSecurityGroupId: pulumi.Input<string>;
    port: number;
    healthPath: string;
}

/** A source-ip condition takes at most three values (ELB User Guide, "Condition types for listener rules"). */
export const SOURCES_PER_RULE = 3;
/** Operator rules take priorities from here up; the refusal for every other source comes after them. */
export const GRAFANA_RULE_PRIORITY = 20;
export const GRAFANA_REFUSAL_PRIORITY = 40;

/** The operators' CIDRs in groups one listener rule can hold. */
export function sourceCidrGroups(cidrs: string[]): string[][] {
    const groups: string[][] = [];
    for (let i = 0; i < cidrs.length; i += SOURCES_PER_RULE) groups.push(cidrs.slice(i, i + SOURCES_PER_RULE));
    return groups;
}

export function validateGrafanaRouteArgs(args: Pick<GrafanaRouteArgs, "hostName" | "sourceCidrs" | "port">): void {
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(args.hostName) || !args.hostName.includes(".")) {
        throw new Error(`hostName = ${JSON.stringify(args.hostName)}: a DNS name such as grafana.app.example.com`);
    }
    const groups = sourceCidrGroups(args.sourceCidrs);
    if (groups.length === 0 || GRAFANA_RULE_PRIORITY + groups.length > GRAFANA_REFUSAL_PRIORITY) {
        throw new Error(`sourceCidrs = ${JSON.stringify(args.sourceCidrs)}: from 1 to ${(GRAFANA_REFUSAL_PRIORITY - GRAFANA_RULE_PRIORITY) * SOURCES_PER_RULE} operator CIDRs (the whole internet never)`);
    }
    if (args.sourceCidrs.some((c) => /\/0$/.test(c))) throw new Error(`sourceCidrs = ${JSON.stringify(args.sourceCidrs)}: the whole internet is not an operator network`);
    if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) throw new Error(`port = ${args.port}: a TCP port`);
}

/**
 * Grafana at its own HTTPS name through the front door: listener rules that forward only requests
 * with that Host header from the operators' networks (the host header and source IP are one rule's
 * conditions, so both must match), a 403 for the name from anywhere else (else it would fall through
 * to the app), a target group holding only the monitoring host, the security-group pair that lets
 * the load balancer reach Grafana's port and nothing else, and the alias record.
 */
export class GrafanaRoute extends pulumi.ComponentResource {
    readonly url: string;
    readonly targetGroupArn: pulumi.Output<string>;

    constructor(name: string, args: GrafanaRouteArgs, opts?: pulumi.ComponentResourceOptions) {
        validateGrafanaRouteArgs(args);
        super("devsecops:frontdoor:GrafanaRoute", name, {}, opts);
        const parent = { parent: this };
        const tags = (extra: Record<string, string> = {}) => standardTags("grafana-route", extra);
        const prefix = stackPrefix();

        const targetGroup = new aws.lb.TargetGroup(`${name}-grafana`, {
            ...instanceTargetGroupArgs({
                vpcId: args.vpcId,
                port: args.port,
                healthPath: args.healthPath,
                deregistrationDelaySeconds: 5,
                healthCheckIntervalSeconds: 15,
                unhealthyThreshold: 3,
            }),
            tags: tags({ Name: `${prefix}-grafana` }),
        }, parent);
        new aws.lb.TargetGroupAttachment(`${name}-grafana`, { targetGroupArn: targetGroup.arn, targetId: args.instanceId, port: args.port }, parent);

        new aws.vpc.SecurityGroupIngressRule(`${name}-from-front-door`, {
            securityGroupId: args.instanceSecurityGroupId,
            referencedSecurityGroupId: args.loadBalancerSecurityGroupId,
            ipProtocol: "tcp",
            fromPort: args.port,
            toPort: args.port,
            description: "Grafana from the front door (operators' networks only, by listener rule)",
            tags: tags(),
        }, parent);
        new aws.vpc.SecurityGroupEgressRule(`${name}-front-door-to-grafana`, {
            securityGroupId: args.loadBalancerSecurityGroupId,
            referencedSecurityGroupId: args.instanceSecurityGroupId,
            ipProtocol: "tcp",
            fromPort: args.port,
            toPort: args.port,
            description: "requests and health checks to Grafana",
            tags: tags(),
        }, parent);

        const host = { hostHeader: { values: [args.hostName] } };
        sourceCidrGroups(args.sourceCidrs).forEach((group, i) => {
            new aws.lb.ListenerRule(`${name}-operators-${i}`, {
                listenerArn: args.listenerArn,
                priority: GRAFANA_RULE_PRIORITY + i,
                conditions: [host, { sourceIp: { values: group } }],
                actions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
                tags: tags(),
            }, parent);
        });
        new aws.lb.ListenerRule(`${name}-others`, {
            listenerArn: args.listenerArn,
            priority: GRAFANA_REFUSAL_PRIORITY,
            conditions: [host],
            actions: [{ type: "fixed-response", fixedResponse: { statusCode: "403", contentType: "text/plain", messageBody: "Forbidden" } }],
            tags: tags(),
        }, parent);

        new aws.route53.Record(`${name}-alias`, {
            zoneId: args.hostedZoneId,
            name: args.hostName,
            type: "A",
            aliases: [{ name: args.loadBalancerDnsName, zoneId: args.loadBalancerZoneId, evaluateTargetHealth: false }],
        }, parent);

        this.url = `https://${args.hostName}`;
        this.targetGroupArn = targetGroup.arn;
        this.registerOutputs({ url: this.url, targetGroupArn: this.targetGroupArn });
    }
}
