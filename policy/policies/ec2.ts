import { AWS } from "./awsTypes";
import { belongsTo, resourcePolicy, resourcesOfType, stackPolicy } from "./definePolicy";

export const imdsv2Required = resourcePolicy(
    {
        name: "ec2-imdsv2-required",
        description: 'Instances and launch templates require IMDSv2 session tokens. Fix: metadataOptions: { httpTokens: "required" }.',
        enforcementLevel: "mandatory",
        controls: { cis: "CIS 5.6", fsbp: "EC2.8", checkov: "CKV_AWS_79" },
        types: [AWS.instance, AWS.launchTemplate],
    },
    (props, _args, report) => {
        const options = props.metadataOptions;
        if (options?.httpEndpoint === "disabled") return; // no metadata service at all
        if (options?.httpTokens !== "required") report(`IMDSv1 allowed: metadataOptions.httpTokens is ${JSON.stringify(options?.httpTokens ?? "optional")}, not "required"`);
    },
);

export const ebsEncrypted = resourcePolicy(
    {
        name: "ec2-ebs-encrypted",
        description:
            "Root and attached EBS volumes are encrypted. Fix: rootBlockDevice.encrypted and every ebsBlockDevices[].encrypted true on instances, encrypted: true on aws.ebs.Volume, blockDeviceMappings[].ebs.encrypted on launch templates.",
        enforcementLevel: "mandatory",
        controls: { fsbp: "EC2.3, EC2.7", checkov: "CKV_AWS_3, CKV_AWS_8, CKV2_AWS_2" },
        types: [AWS.instance, AWS.volume, AWS.launchTemplate],
    },
    (props, args, report) => {
        if (args.type === AWS.volume) {
            if (props.encrypted !== true) report("EBS volume is not encrypted");
            return;
        }
        if (args.type === AWS.launchTemplate) {
            for (const m of props.blockDeviceMappings ?? []) if (m.ebs && String(m.ebs.encrypted) !== "true") report(`block device ${m.deviceName} is not encrypted`);
            return;
        }
        if (props.rootBlockDevice?.encrypted !== true) report("root volume is not encrypted (rootBlockDevice.encrypted is not true)");
        for (const d of props.ebsBlockDevices ?? []) if (d.encrypted !== true) report(`EBS block device ${d.deviceName} is not encrypted`);
    },
);

export const OPERATOR_FACING_TAG = "OperatorFacing";

export const noPublicIp = stackPolicy(
    {
        name: "ec2-no-public-ip",
        description: `Only hosts that serve operators (tag ${OPERATOR_FACING_TAG}=true) get a public IP, whether asked for or given by the subnet's mapPublicIpOnLaunch. Fix: associatePublicIpAddress: false and a private subnet.`,
        enforcementLevel: "advisory",
        controls: { fsbp: "EC2.9, EC2.15", checkov: "CKV_AWS_88, CKV_AWS_130" },
    },
    (args, report) => {
        const subnets = resourcesOfType(args, AWS.subnet);
        for (const instance of resourcesOfType(args, AWS.instance)) {
            if (instance.props.tags?.[OPERATOR_FACING_TAG] === "true") continue;
            const asked = instance.props.associatePublicIpAddress;
            const subnet = subnets.find((s) => belongsTo(instance, s, "subnetId", ["id"]));
            const fromSubnet = asked === undefined && subnet?.props.mapPublicIpOnLaunch === true;
            if (asked === true || fromSubnet) {
                report(`instance ${instance.name} gets a public IP${fromSubnet ? ` from subnet ${subnet!.name}` : ""} but is not tagged ${OPERATOR_FACING_TAG}=true`, instance.urn);
            }
        }
    },
);

/** What plaintext secrets look like in user data. */
export const USER_DATA_SECRET_PATTERNS: { what: string; pattern: RegExp }[] = [
    { what: "an AWS access key id", pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
    { what: "an AWS secret access key", pattern: /aws_secret_access_key\s*[=:]/i },
    { what: "a private key", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
    // A literal value after password= / passwd: — references ($VAR, ${...}) are what the hosts should use.
    { what: "a password assignment", pattern: /(^|[^a-z])pass(word|wd)?\s*[=:]\s*['"]?[^\s'"$]{4,}/im },
];

export const userDataNoSecrets = resourcePolicy(
    {
        name: "ec2-user-data-no-secrets",
        description:
            "User data carries no plaintext secrets (AWS access keys, private keys, password=…): anyone with ec2:DescribeInstanceAttribute can read it. Fix: keep the secret in Secrets Manager and read it at boot with the instance role.",
        enforcementLevel: "mandatory",
        controls: { checkov: "CKV_AWS_46" },
        types: [AWS.instance, AWS.launchTemplate],
    },
    (props, args, report) => {
        // Launch templates take user data base64-encoded; instances take text or userDataBase64.
        const texts = [args.type === AWS.launchTemplate ? decodeBase64(props.userData) : String(props.userData ?? ""), decodeBase64(props.userDataBase64)];
        const text = texts.join("\n");
        for (const { what, pattern } of USER_DATA_SECRET_PATTERNS) if (pattern.test(text)) report(`user data contains ${what}`);
    },
);

function decodeBase64(value: unknown): string {
    return value ? Buffer.from(String(value), "base64").toString("utf8") : "";
}
