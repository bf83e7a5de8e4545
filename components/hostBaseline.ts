import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BOOT_FAILURE_METRIC } from "./cloudInit/cloudConfig";
import { serviceTrustPolicy } from "./policyDocument";

/** Amazon Linux 2023, resolved at deploy time from AWS's public SSM parameter. */
export const AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/**
 * What every host gets: the current AL2023 AMI, detailed monitoring, IMDSv2 only with hop
 * limit 1 and an encrypted gp3 root volume. Hop limit 1: a container on a bridge network is
 * one hop further and gets no token, so the app cannot take the host role's credentials;
 * every AWS-calling process (CLI, awslogs driver, Prometheus, Alertmanager) runs on the host
 * network. (EC2 User Guide, "Configure the instance metadata options": hop limit.)
 */
export function hardenedInstanceArgs(parent: pulumi.Resource): Pick<aws.ec2.InstanceArgs, "ami" | "monitoring" | "metadataOptions" | "rootBlockDevice"> {
    return {
        ami: currentAmi(parent),
        monitoring: true,
        metadataOptions: IMDS_V2_ONLY,
        rootBlockDevice: { volumeType: "gp3", volumeSize: ROOT_VOLUME_GIB, encrypted: true, deleteOnTermination: true },
    };
}

const IMDS_V2_ONLY = { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 };
const ROOT_VOLUME_GIB = 16;

/**
 * The AMI id itself, read from the parameter at deploy time: a launch template that names the
 * parameter (resolve:ssm:) cannot be rolled back by an instance refresh (EC2 Auto Scaling User
 * Guide, "Undo changes with a manual or auto rollback", considerations).
 */
function currentAmi(parent: pulumi.Resource): pulumi.Output<string> {
    return aws.ssm.getParameterOutput({ name: AL2023_AMI_PARAMETER }, { parent }).value;
}

/** The same baseline for a launch template: AL2023's root device is /dev/xvda. */
export function hardenedLaunchTemplateArgs(parent: pulumi.Resource): Pick<aws.ec2.LaunchTemplateArgs, "imageId" | "monitoring" | "metadataOptions" | "blockDeviceMappings"> {
    return {
        imageId: currentAmi(parent),
        monitoring: { enabled: true },
        metadataOptions: IMDS_V2_ONLY,
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeType: "gp3", volumeSize: ROOT_VOLUME_GIB, encrypted: "true", deleteOnTermination: "true" } }],
    };
}

/**
 * An instance role reachable by SSM Session Manager (no SSH), and its instance profile.
 * The trust is the documented EC2 one, without conditions (IAM User Guide, "Use an IAM role to
 * grant permissions to applications running on Amazon EC2 instances"): nothing documents EC2
 * sending aws:SourceAccount when it hands credentials to an instance profile, and a condition
 * that does not match leaves IMDS without credentials.
 */
export function instanceRole(name: string, tags: Record<string, string>, parent: pulumi.Resource): { role: aws.iam.Role; profile: aws.iam.InstanceProfile } {
    const role = new aws.iam.Role(`${name}-role`, {
        assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
        managedPolicyArns: [aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore],
        tags,
    }, { parent });
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, { parent });
    return { role, profile };
}

/**
 * Alarm when a host's boot service gave up (BootFailed from the failure unit, see
 * cloudInit/cloudConfig.ts bootService): a host that could not start its containers is
 * otherwise silent. Keyed by the stack's host name, not the instance, so it survives replacements and
 * covers every member of a group. No data is the healthy case.
 */
export function bootFailureAlarm(
    name: string,
    args: { bootServiceName: string; hostName: string; alertTopicArn: pulumi.Input<string>; tags: Record<string, string> },
    parent: pulumi.Resource,
): aws.cloudwatch.MetricAlarm {
    return new aws.cloudwatch.MetricAlarm(`${name}-boot-failed`, {
        alarmDescription: `A ${args.hostName} host could not start its containers at boot (journalctl -u ${args.bootServiceName}.service on the host)`,
        namespace: BOOT_FAILURE_METRIC.namespace,
        metricName: BOOT_FAILURE_METRIC.metricName,
        dimensions: { [BOOT_FAILURE_METRIC.dimension]: args.hostName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [args.alertTopicArn],
        tags: args.tags,
    }, { parent });
}
