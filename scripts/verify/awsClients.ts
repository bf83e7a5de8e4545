import { CloudTrailClient } from "@aws-sdk/client-cloudtrail";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { GuardDutyClient } from "@aws-sdk/client-guardduty";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { WAFV2Client } from "@aws-sdk/client-wafv2";

/** One set of SDK v3 clients for the stack's region, each call bounded in time. */
export interface AwsClients {
    region: string;
    cloudTrail: CloudTrailClient;
    logs: CloudWatchLogsClient;
    guardDuty: GuardDutyClient;
    s3: S3Client;
    secrets: SecretsManagerClient;
    elbv2: ElasticLoadBalancingV2Client;
    wafv2: WAFV2Client;
    ec2: EC2Client;
}

export function createAwsClients(region: string): AwsClients {
    const config = { region, maxAttempts: 2, requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 } };
    return {
        region,
        cloudTrail: new CloudTrailClient(config),
        logs: new CloudWatchLogsClient(config),
        guardDuty: new GuardDutyClient(config),
        s3: new S3Client(config),
        secrets: new SecretsManagerClient(config),
        elbv2: new ElasticLoadBalancingV2Client(config),
        wafv2: new WAFV2Client(config),
        ec2: new EC2Client(config),
    };
}

export function destroyAwsClients(clients: AwsClients): void {
    for (const c of [clients.cloudTrail, clients.logs, clients.guardDuty, clients.s3, clients.secrets, clients.elbv2, clients.wafv2, clients.ec2]) c.destroy();
}

export function ageText(ms: number): string {
    const minutes = Math.floor(ms / 60_000);
    if (minutes < 1) return "under a minute ago";
    if (minutes < 120) return `${minutes} min ago`;
    const hours = Math.floor(minutes / 60);
    return hours < 48 ? `${hours} h ago` : `${Math.floor(hours / 24)} days ago`;
}
