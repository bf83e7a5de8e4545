import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PrivateEgress } from "../config/stackConfig";
import { policyDocument, serviceTrustPolicy } from "./policyDocument";
import { standardTags } from "./tags";

export interface NetworkArgs {
    vpcCidr: string;
    /** One per availability zone, in order; two zones. */
    publicSubnetCidrs: string[];
    privateSubnetCidrs: string[];
    /** `nat`: one NAT gateway; `nat-per-az`: one per zone; `endpoints`: no internet egress, AWS services through VPC endpoints. */
    privateEgress: PrivateEgress;
    flowLogRetentionDays: number;
    /** Customer-managed key for the flow-log group (LogsEncryptionKey); CloudWatch's own keys when unset. */
    logsKmsKeyArn?: pulumi.Input<string>;
    /**
     * Prometheus remote-writes to an Amazon Managed Prometheus workspace in this region: with `endpoints`,
     * also the aps-workspaces (data plane) endpoint (AMP User Guide, "Using ... with interface VPC endpoints").
     */
    ampRemoteWrite?: boolean;
}

/**
 * Interface endpoints the hosts need when private subnets have no NAT: ECR pulls, logs, SSM, secrets,
 * and what the monitoring host calls — EC2 (Prometheus discovery), SNS (Alertmanager), CloudWatch
 * (the boot-failure metric). tests/foundation/stack.test.ts derives the list from the hosts' scripts.
 * Service names: VPC PrivateLink guide, "AWS services that integrate with AWS PrivateLink".
 */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "logs", "ssm", "ssmmessages", "ec2messages", "secretsmanager", "ec2", "sns", "monitoring"] as const;

/** The flow-logs role may write to its own log group and nothing else. */
export function flowLogsWritePolicy(logGroupArn: string): string {
    return policyDocument([
        {
            Sid: "WriteFlowLogsToOwnGroup",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: [logGroupArn, `${logGroupArn}:*`],
        },
    ]);
}

/** Trust policy for VPC Flow Logs, limited to this account's flow logs (confused-deputy guard). */
export function flowLogsTrustPolicy(accountId: string): string {
    return serviceTrustPolicy("vpc-flow-logs.amazonaws.com", accountId);
}

/**
 * A VPC over two availability zones: public subnets (IGW) for what operators reach,
 * private subnets for workloads, egress by NAT or by VPC endpoints only, the default
 * security group emptied, and flow logs of ALL traffic to CloudWatch.
 */
export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly vpcCidr: pulumi.Output<string>;
    readonly publicSubnetIds: pulumi.Output<string>[];
    readonly privateSubnetIds: pulumi.Output<string>[];
    readonly flowLogGroupName: pulumi.Output<string>;
    readonly endpointSecurityGroupId?: pulumi.Output<string>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("devsecops:network:Network", name, {}, opts);
        const tags = (extra: Record<string, string> = {}) => standardTags("network", extra);
        const parent = { parent: this };

        const zones = aws.getAvailabilityZonesOutput({ state: "available" }, parent);
        const region = aws.getRegionOutput({}, parent).region;
        const account = aws.getCallerIdentityOutput({}, parent).accountId;

        const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
            cidrBlock: args.vpcCidr,
            enableDnsSupport: true,
            enableDnsHostnames: true,
            tags: tags({ Name: `${name}-vpc` }),
        }, parent);

        // A default security group with rules is an open door for anything launched without one (EC2.2).
        new aws.ec2.DefaultSecurityGroup(`${name}-default-sg`, {
            vpcId: vpc.id,
            ingress: [],
            egress: [],
            tags: tags({ Name: `${name}-default-deny` }),
        }, parent);

        const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tags({ Name: `${name}-igw` }) }, parent);

        const publicRouteTable = new aws.ec2.RouteTable(`${name}-public-rt`, {
            vpcId: vpc.id,
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
            tags: tags({ Name: `${name}-public` }),
        }, parent);

        const publicSubnets = args.publicSubnetCidrs.map((cidr, i) => {
            const subnet = new aws.ec2.Subnet(`${name}-public-${i}`, {
                vpcId: vpc.id,
                cidrBlock: cidr,
                availabilityZone: zones.names[i],
                // Hosts that need a public address ask for one; nothing gets one by default.
                mapPublicIpOnLaunch: false,
                tags: tags({ Name: `${name}-public-${i}`, Tier: "public" }),
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: subnet.id, routeTableId: publicRouteTable.id }, parent);
            return subnet;
        });

        // nat: one gateway in the first zone for both; nat-per-az: one per zone, each zone routed through
        // its own (a zone's outage then cuts only that zone's egress); endpoints: none.
        const natCount = args.privateEgress === "nat-per-az" ? publicSubnets.length : args.privateEgress === "nat" ? 1 : 0;
        const natGateways = publicSubnets.slice(0, natCount).map((subnet, i) => {
            const suffix = args.privateEgress === "nat-per-az" ? `-${i}` : "";
            const eip = new aws.ec2.Eip(`${name}-nat-eip${suffix}`, { domain: "vpc", tags: tags({ Name: `${name}-nat${suffix}` }) }, parent);
            return new aws.ec2.NatGateway(`${name}-nat${suffix}`, {
                subnetId: subnet.id,
                allocationId: eip.id,
                tags: tags({ Name: `${name}-nat${suffix}` }),
            }, { parent: this, dependsOn: [igw] });
        });
        const privateRouteTables = args.privateSubnetCidrs.map((_, i) => {
            // One table per zone only when each zone has its own gateway; otherwise one shared table.
            if (natCount <= 1 && i > 0) return undefined;
            const suffix = natCount > 1 ? `-${i}` : "";
            const nat = natGateways[natCount > 1 ? i : 0];
            return new aws.ec2.RouteTable(`${name}-private-rt${suffix}`, {
                vpcId: vpc.id,
                routes: nat ? [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }] : [],
                tags: tags({ Name: `${name}-private${suffix}` }),
            }, parent);
        }).filter((t): t is aws.ec2.RouteTable => t !== undefined);

        const privateSubnets = args.privateSubnetCidrs.map((cidr, i) => {
            const subnet = new aws.ec2.Subnet(`${name}-private-${i}`, {
                vpcId: vpc.id,
                cidrBlock: cidr,
                availabilityZone: zones.names[i],
                mapPublicIpOnLaunch: false,
                tags: tags({ Name: `${name}-private-${i}`, Tier: "private" }),
            }, parent);
            const table = privateRouteTables[Math.min(i, privateRouteTables.length - 1)];
            new aws.ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: subnet.id, routeTableId: table.id }, parent);
            return subnet;
        });

        // S3 is a free gateway endpoint: ECR layers and the audit bucket stay off the NAT either way.
        new aws.ec2.VpcEndpoint(`${name}-s3`, {
            vpcId: vpc.id,
            serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`,
            vpcEndpointType: "Gateway",
            routeTableIds: [...privateRouteTables.map((t) => t.id), publicRouteTable.id],
            tags: tags({ Name: `${name}-s3` }),
        }, parent);

        if (args.privateEgress === "endpoints") {
            const endpointSg = new aws.ec2.SecurityGroup(`${name}-endpoints`, {
                vpcId: vpc.id,
                description: "HTTPS from inside the VPC to AWS service endpoints",
                ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [args.vpcCidr], description: "HTTPS from the VPC" }],
                egress: [],
                tags: tags({ Name: `${name}-endpoints` }),
            }, parent);
            this.endpointSecurityGroupId = endpointSg.id;
            for (const service of [...INTERFACE_ENDPOINT_SERVICES, ...(args.ampRemoteWrite ? ["aps-workspaces"] : [])]) {
                new aws.ec2.VpcEndpoint(`${name}-${service.replace(".", "-")}`, {
                    vpcId: vpc.id,
                    serviceName: pulumi.interpolate`com.amazonaws.${region}.${service}`,
                    vpcEndpointType: "Interface",
                    privateDnsEnabled: true,
                    subnetIds: privateSubnets.map((s) => s.id),
                    securityGroupIds: [endpointSg.id],
                    tags: tags({ Name: `${name}-${service}` }),
                }, parent);
            }
        }

        const flowLogGroup = new aws.cloudwatch.LogGroup(`${name}-flow-logs`, {
            name: pulumi.interpolate`/aws/vpc/${pulumi.getStack()}/${name}-flow-logs`,
            retentionInDays: args.flowLogRetentionDays,
            kmsKeyId: args.logsKmsKeyArn,
            tags: tags(),
            // A log group's name exists once per account and region: replace it delete-first.
        }, { parent: this, deleteBeforeReplace: true });
        const flowLogRole = new aws.iam.Role(`${name}-flow-logs`, {
            assumeRolePolicy: account.apply(flowLogsTrustPolicy),
            tags: tags(),
        }, parent);
        new aws.iam.RolePolicy(`${name}-flow-logs`, {
            role: flowLogRole.id,
            policy: flowLogGroup.arn.apply(flowLogsWritePolicy),
        }, parent);
        new aws.ec2.FlowLog(`${name}-flow-log`, {
            vpcId: vpc.id,
            trafficType: "ALL",
            logDestinationType: "cloud-watch-logs",
            logDestination: flowLogGroup.arn,
            iamRoleArn: flowLogRole.arn,
            maxAggregationInterval: 60,
            tags: tags({ Name: `${name}-flow-log` }),
        }, parent);

        this.vpcId = vpc.id;
        this.vpcCidr = vpc.cidrBlock;
        this.publicSubnetIds = publicSubnets.map((s) => s.id);
        this.privateSubnetIds = privateSubnets.map((s) => s.id);
        this.flowLogGroupName = flowLogGroup.name;
        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: this.publicSubnetIds,
            privateSubnetIds: this.privateSubnetIds,
            flowLogGroupName: this.flowLogGroupName,
        });
    }
}
