import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "./policyDocument";

/** Amazon Linux 2023, resolved at deploy time from AWS's public SSM parameter. */
export const AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/**
 * What every host gets: the current AL2023 AMI, detailed monitoring, IMDSv2 only (hop
 * limit 2 so containers on the host still reach it) and an encrypted gp3 root volume.
 */
export function hardenedInstanceArgs(parent: pulumi.Resource): Pick<aws.ec2.InstanceArgs, "ami" | "monitoring" | "metadataOptions" | "rootBlockDevice"> {
    return {
        ami: aws.ssm.getParameterOutput({ name: AL2023_AMI_PARAMETER }, { parent }).value,
        monitoring: true,
        metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 2 },
        rootBlockDevice: { volumeType: "gp3", volumeSize: 16, encrypted: true, deleteOnTermination: true },
    };
}

/** An instance role reachable by SSM Session Manager (no SSH), and its instance profile. */
export function instanceRole(name: string, tags: Record<string, string>, parent: pulumi.Resource): { role: aws.iam.Role; profile: aws.iam.InstanceProfile } {
    const account = aws.getCallerIdentityOutput({}, { parent }).accountId;
    const role = new aws.iam.Role(`${name}-role`, {
        assumeRolePolicy: account.apply((a) => serviceTrustPolicy("ec2.amazonaws.com", a)),
        managedPolicyArns: [aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore],
        tags,
    }, { parent });
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, { parent });
    return { role, profile };
}
