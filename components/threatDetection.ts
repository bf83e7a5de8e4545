import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { FindingFrequency } from "../config/stackConfig";
import { accountAdminKeyStatement, policyDocument, PolicyStatement, serviceTrustPolicy } from "./policyDocument";
import { stackPrefix, standardTags } from "./tags";

export interface ThreatDetectionArgs {
    /**
     * Adopt this existing detector instead of creating one. An account holds one
     * GuardDuty detector per region: creating a second fails with "a detector
     * already exists for the current account", so stacks sharing an account/region
     * set `guardDutyDetectorId` to the id from `aws guardduty list-detectors`.
     */
    existingDetectorId?: string;
    findingPublishingFrequency: FindingFrequency;
    /** GuardDuty severity (1.0–10.0) at or above which a finding is sent to the alerts topic. */
    findingMinSeverity: number;
    alertEmail?: string;
    enableSecurityHub: boolean;
    /** An AWS Config recorder whose delivery channel writes into this bucket (which must allow it). */
    configRecorder?: ConfigDeliveryTarget;
}

export interface ConfigDeliveryTarget {
    deliveryBucketName: pulumi.Input<string>;
    deliveryBucketArn: pulumi.Input<string>;
    /** The bucket's default-encryption key, when it is a customer-managed KMS key. */
    deliveryKeyArn?: pulumi.Input<string>;
    /** The bucket policy that admits AWS Config: the delivery channel is created after it. */
    deliveryReady: pulumi.Input<pulumi.Resource>[];
}

export interface ConfigDeliveryPolicyInput {
    bucketArn: string;
    accountId: string;
    region: string;
    keyArn?: string;
}

/**
 * What the recorder's role needs to deliver (same-account delivery uses the role, not the
 * service principal; AWS Config Developer Guide, "Permissions for the IAM role assigned to AWS
 * Config" — S3 bucket and KMS key role policies): PutObject under AWSLogs/<account>/Config/
 * with bucket-owner-full-control, GetBucketAcl on the bucket, and GenerateDataKey/Decrypt on
 * the bucket's key, only through S3. AWS_ConfigRole covers reading resource configurations only.
 */
export function configDeliveryPolicy(p: ConfigDeliveryPolicyInput): string {
    const statements: PolicyStatement[] = [
        {
            Sid: "DeliverConfigItems",
            Effect: "Allow",
            Action: ["s3:PutObject", "s3:PutObjectAcl"],
            Resource: `${p.bucketArn}/AWSLogs/${p.accountId}/Config/*`,
            Condition: { StringLike: { "s3:x-amz-acl": "bucket-owner-full-control" } },
        },
        { Sid: "CheckBucketAcl", Effect: "Allow", Action: "s3:GetBucketAcl", Resource: p.bucketArn },
    ];
    if (p.keyArn) {
        statements.push({
            Sid: "EncryptDeliveries",
            Effect: "Allow",
            Action: ["kms:GenerateDataKey", "kms:Decrypt"],
            Resource: p.keyArn,
            Condition: { StringEquals: { "kms:ViaService": `s3.${p.region}.amazonaws.com` } },
        });
    }
    return policyDocument(statements);
}

/** EventBridge pattern for GuardDuty findings at or above a severity. */
export function findingsEventPattern(minSeverity: number): string {
    return JSON.stringify({
        source: ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        detail: { severity: [{ numeric: [">=", minSeverity] }] },
    });
}

/**
 * The alerts topic's key: EventBridge and CloudWatch alarms must be able to use it,
 * or their publishes fail silently (the AWS-managed aws/sns key admits neither).
 */
export function alertsKeyPolicy(accountId: string, partition = "aws"): string {
    return policyDocument([
        accountAdminKeyStatement(accountId, partition),
        {
            Sid: "AlertPublishersUseKey",
            Effect: "Allow",
            Principal: { Service: ["events.amazonaws.com", "cloudwatch.amazonaws.com"] },
            Action: ["kms:GenerateDataKey*", "kms:Decrypt"],
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceAccount": accountId } },
        },
    ]);
}

export interface AlertsTopicPolicyInput {
    topicArn: string;
    accountId: string;
    region: string;
    findingsRuleArn: string;
    partition?: string;
}

/** Who may publish to the alerts topic: the findings rule and this account's alarms, over TLS only. */
export function alertsTopicPolicy(p: AlertsTopicPolicyInput): string {
    const partition = p.partition ?? "aws";
    return policyDocument([
        {
            Sid: "GuardDutyFindingsRulePublishes",
            Effect: "Allow",
            Principal: { Service: "events.amazonaws.com" },
            Action: "sns:Publish",
            Resource: p.topicArn,
            Condition: { ArnEquals: { "aws:SourceArn": p.findingsRuleArn } },
        },
        {
            Sid: "AccountAlarmsPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: p.topicArn,
            Condition: {
                ArnLike: { "aws:SourceArn": `arn:${partition}:cloudwatch:${p.region}:${p.accountId}:alarm:*` },
                StringEquals: { "aws:SourceAccount": p.accountId },
            },
        },
        {
            Sid: "DenyWithoutTls",
            Effect: "Deny",
            Principal: "*",
            Action: "sns:Publish",
            Resource: p.topicArn,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
    ]);
}

/**
 * GuardDuty (created or adopted) with S3 threat detection (S3 data events) and EBS malware
 * protection — in this stack's region only; the trail records every region — findings at or
 * above a severity sent through EventBridge to a KMS-encrypted SNS topic that the
 * hosts' CloudWatch alarms and Alertmanager share; Security Hub and an AWS Config
 * recorder on request.
 */
export class ThreatDetection extends pulumi.ComponentResource {
    readonly detectorId: pulumi.Output<string>;
    readonly alertTopicArn: pulumi.Output<string>;
    readonly alertTopicKeyArn: pulumi.Output<string>;
    readonly findingsRuleArn: pulumi.Output<string>;

    constructor(name: string, args: ThreatDetectionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("devsecops:security:ThreatDetection", name, {}, opts);
        const parent = { parent: this };
        const tags = standardTags("threat-detection");
        const prefix = stackPrefix();
        const identity = aws.getCallerIdentityOutput({}, parent);
        const partition = aws.getPartitionOutput({}, parent).partition;
        const region = aws.getRegionOutput({}, parent).region;

        if (args.existingDetectorId) {
            // Adopted detectors keep their owner's feature settings: we only route their findings.
            this.detectorId = pulumi.output(args.existingDetectorId);
        } else {
            // One detector per account and region: never two at once.
            const detector = new aws.guardduty.Detector(`${name}-detector`, {
                enable: true,
                findingPublishingFrequency: args.findingPublishingFrequency,
                tags,
            }, { parent: this, deleteBeforeReplace: true });
            for (const feature of ["S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION"]) {
                new aws.guardduty.DetectorFeature(`${name}-${feature.toLowerCase().replace(/_/g, "-")}`, {
                    detectorId: detector.id,
                    name: feature,
                    status: "ENABLED",
                }, parent);
            }
            this.detectorId = detector.id;
        }

        const key = new aws.kms.Key(`${name}-alerts-key`, {
            description: `${prefix} alerts topic: EventBridge and CloudWatch alarms may encrypt`,
            enableKeyRotation: true,
            deletionWindowInDays: 30,
            policy: pulumi.all([identity.accountId, partition]).apply(([account, part]) => alertsKeyPolicy(account, part)),
            tags,
        }, parent);
        // Fixed names exist once per account and region: replace them delete-first.
        new aws.kms.Alias(`${name}-alerts-key`, { name: `alias/${prefix}-alerts`, targetKeyId: key.keyId }, { parent: this, deleteBeforeReplace: true });

        const topic = new aws.sns.Topic(`${name}-alerts`, {
            name: `${prefix}-alerts`,
            kmsMasterKeyId: key.arn,
            tags,
        }, { parent: this, deleteBeforeReplace: true });

        const rule = new aws.cloudwatch.EventRule(`${name}-findings`, {
            description: `GuardDuty findings with severity >= ${args.findingMinSeverity} to the alerts topic`,
            eventPattern: findingsEventPattern(args.findingMinSeverity),
            tags,
        }, parent);

        const topicPolicy = new aws.sns.TopicPolicy(`${name}-alerts`, {
            arn: topic.arn,
            policy: pulumi
                .all([topic.arn, identity.accountId, region, rule.arn, partition])
                .apply(([topicArn, accountId, reg, findingsRuleArn, part]) =>
                    alertsTopicPolicy({ topicArn, accountId, region: reg, findingsRuleArn, partition: part }),
                ),
        }, parent);

        new aws.cloudwatch.EventTarget(`${name}-findings`, {
            rule: rule.name,
            arn: topic.arn,
        }, { parent: this, dependsOn: [topicPolicy] });

        if (args.alertEmail) {
            new aws.sns.TopicSubscription(`${name}-email`, {
                topic: topic.arn,
                protocol: "email",
                endpoint: args.alertEmail,
            }, parent);
        }

        if (args.enableSecurityHub) {
            const hub = new aws.securityhub.Account(`${name}-security-hub`, { enableDefaultStandards: false }, { parent: this, deleteBeforeReplace: true });
            const standards = {
                fsbp: "standards/aws-foundational-security-best-practices/v/1.0.0",
                cis: "standards/cis-aws-foundations-benchmark/v/1.4.0",
            };
            for (const [id, path] of Object.entries(standards)) {
                new aws.securityhub.StandardsSubscription(`${name}-${id}`, {
                    standardsArn: pulumi.interpolate`arn:${partition}:securityhub:${region}::${path}`,
                }, { parent: this, dependsOn: [hub] });
            }
        }

        if (args.configRecorder) {
            const target = args.configRecorder;
            // AWS Config documents aws:SourceAccount for its role trust (confused-deputy guard).
            const role = new aws.iam.Role(`${name}-config`, {
                assumeRolePolicy: identity.accountId.apply((accountId) => serviceTrustPolicy("config.amazonaws.com", accountId)),
                managedPolicyArns: [pulumi.interpolate`arn:${partition}:iam::aws:policy/service-role/AWS_ConfigRole`],
                tags,
            }, parent);
            const delivery = new aws.iam.RolePolicy(`${name}-config-delivery`, {
                role: role.id,
                policy: pulumi
                    .all([target.deliveryBucketArn, identity.accountId, region, target.deliveryKeyArn])
                    .apply(([bucketArn, accountId, reg, keyArn]) => configDeliveryPolicy({ bucketArn, accountId, region: reg, keyArn })),
            }, parent);
            // One recorder and one delivery channel per account and region: replace delete-first.
            const recorder = new aws.cfg.Recorder(`${name}-config`, {
                name: `${prefix}-recorder`,
                roleArn: role.arn,
                recordingGroup: { allSupported: true, includeGlobalResourceTypes: true },
            }, { parent: this, deleteBeforeReplace: true });
            const channel = new aws.cfg.DeliveryChannel(`${name}-config`, {
                name: `${prefix}-delivery`,
                s3BucketName: target.deliveryBucketName,
            }, { parent: this, dependsOn: [recorder, delivery, ...target.deliveryReady], deleteBeforeReplace: true });
            new aws.cfg.RecorderStatus(`${name}-config`, {
                name: recorder.name,
                isEnabled: true,
            }, { parent: this, dependsOn: [channel], deleteBeforeReplace: true });
        }

        this.alertTopicArn = topic.arn;
        this.alertTopicKeyArn = key.arn;
        this.findingsRuleArn = rule.arn;
        this.registerOutputs({
            detectorId: this.detectorId,
            alertTopicArn: this.alertTopicArn,
            alertTopicKeyArn: this.alertTopicKeyArn,
            findingsRuleArn: this.findingsRuleArn,
        });
    }
}
