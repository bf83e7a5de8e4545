import { AWS } from "./awsTypes";
import { resourcePolicy } from "./definePolicy";

export const ecrScanOnPush = resourcePolicy(
    {
        name: "ecr-scan-on-push",
        description: "ECR repositories scan images on push. Fix: imageScanningConfiguration: { scanOnPush: true }.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "ECR.1", checkov: "CKV_AWS_163" },
        types: [AWS.ecrRepository],
    },
    (props, _args, report) => {
        if (props.imageScanningConfiguration?.scanOnPush !== true) report("repository does not scan images on push");
    },
);

export const ecrImmutableTags = resourcePolicy(
    {
        name: "ecr-immutable-tags",
        description: 'ECR image tags are immutable, so a deployed tag always names the scanned image. Fix: imageTagMutability: "IMMUTABLE".',
        enforcementLevel: "mandatory",
        controls: { fsbp: "ECR.2", checkov: "CKV_AWS_51" },
        types: [AWS.ecrRepository],
    },
    (props, _args, report) => {
        const mutability = String(props.imageTagMutability ?? "MUTABLE");
        if (!mutability.startsWith("IMMUTABLE")) report(`image tags are ${mutability}`);
    },
);

export const ecrKmsEncryption = resourcePolicy(
    {
        name: "ecr-kms-encryption",
        description: 'ECR repositories are encrypted with KMS. Fix: encryptionConfigurations: [{ encryptionType: "KMS" }].',
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_136" },
        types: [AWS.ecrRepository],
    },
    (props, _args, report) => {
        if (!(props.encryptionConfigurations ?? []).some((e: any) => e.encryptionType === "KMS")) report("repository is not encrypted with KMS");
    },
);
