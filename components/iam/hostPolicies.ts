import { BOOT_FAILURE_METRIC } from "../cloudInit/cloudConfig";
import { policyDocument, PolicyStatement } from "../policyDocument";

/**
 * The hosts' inline IAM policies as pure functions. Every statement names its
 * resources; `*` appears only where AWS offers no resource-level permission
 * (ecr:GetAuthorizationToken, ec2:DescribeInstances, ec2:DescribeAvailabilityZones;
 * cloudwatch:PutMetricData, narrowed to one namespace by condition).
 */

/**
 * The boot service's failure report. PutMetricData has no resource-level permission: "*" narrowed
 * by the cloudwatch:namespace condition key (CloudWatch User Guide, "Using condition keys to limit
 * access to CloudWatch namespaces").
 */
function bootFailureMetric(): PolicyStatement {
    return {
        Sid: "ReportBootFailure",
        Effect: "Allow",
        Action: "cloudwatch:PutMetricData",
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": BOOT_FAILURE_METRIC.namespace } },
    };
}

function logWrite(logGroupArns: string[]): PolicyStatement {
    return {
        Sid: "WriteOwnLogGroups",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        Resource: logGroupArns.flatMap((arn) => [arn, `${arn}:*`]),
    };
}

/** Pulls from exactly these repositories (the app's, the host-image mirrors), and the registry login they need. */
function imagePulls(repositoryArns: string[]): PolicyStatement[] {
    if (!repositoryArns.length) throw new Error("repositoryArns = []: a host pulls its images from at least one repository");
    return [
        {
            Sid: "PullOwnRepositories",
            Effect: "Allow",
            Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            Resource: repositoryArns,
        },
        // AWS grants registry login only on "*"; pulls are still limited to the repositories above.
        { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    ];
}

export interface AppHostPolicyInput {
    /** The app's repository and node_exporter's mirror. */
    repositoryArns: string[];
    logGroupArns: string[];
}

export function appHostPolicy(p: AppHostPolicyInput): string {
    return policyDocument([...imagePulls(p.repositoryArns), logWrite(p.logGroupArns), bootFailureMetric()]);
}

export interface MonitoringHostPolicyInput {
    logGroupArns: string[];
    alertTopicArn: string;
    /** The topic's KMS key: publishing to an encrypted topic needs GenerateDataKey and Decrypt on it. */
    alertTopicKeyArn: string;
    ampWorkspaceArn?: string;
    /** The mirrors of Prometheus, Alertmanager and Grafana (HostImageMirror). */
    imageRepositoryArns: string[];
}

export function monitoringHostPolicy(p: MonitoringHostPolicyInput): string {
    const statements: PolicyStatement[] = [
        // EC2 service discovery (Prometheus docs, <ec2_sd_config>): DescribeInstances finds targets,
        // DescribeAvailabilityZones maps zone ids (current releases fail the refresh without it).
        // Neither action has resource-level permissions.
        { Sid: "DiscoverTargets", Effect: "Allow", Action: ["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"], Resource: "*" },
        ...imagePulls(p.imageRepositoryArns),
        logWrite(p.logGroupArns),
        { Sid: "PublishAlerts", Effect: "Allow", Action: "sns:Publish", Resource: p.alertTopicArn },
        { Sid: "EncryptAlerts", Effect: "Allow", Action: ["kms:GenerateDataKey*", "kms:Decrypt"], Resource: p.alertTopicKeyArn },
        bootFailureMetric(),
    ];
    if (p.ampWorkspaceArn) {
        statements.push({ Sid: "RemoteWriteMetrics", Effect: "Allow", Action: "aps:RemoteWrite", Resource: p.ampWorkspaceArn });
    }
    return policyDocument(statements);
}
