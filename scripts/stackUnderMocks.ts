import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { setAllConfig } from "@pulumi/pulumi/runtime/config";
import YAML from "yaml";

/**
 * Runs the real program (`index.ts`) under `pulumi.runtime.setMocks` with a stack's
 * config file and records every resource it registers, so tests and the offline
 * policy gate judge what `pulumi up` would send to the engine.
 */

export const PROJECT = "devsecops-stack";
export const ROOT = path.resolve(__dirname, "..");
export const MOCK_ACCOUNT_ID = "123456789012";
const MOCK_ECR_TOKEN = "mock-ecr-registry-token-9f8e7d";

const NO_OPTIONS: RecordedOptions = { deleteBeforeReplace: false, ignoreChanges: [], replaceOnChanges: [], retainOnDelete: false, protect: false };

/** The marker Pulumi's wire format wraps secret values in. */
const SIG_KEY = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

export interface RecordedResource {
    type: string;
    name: string;
    urn: string;
    id: string;
    /** Inputs as plain values (secrets unwrapped). */
    inputs: Record<string, any>;
    /** Inputs as the engine receives them: secret values still wrapped. */
    rawInputs: Record<string, any>;
    provider?: string;
    custom: boolean;
    /** Type of the parent resource (from the URN), undefined for top-level resources. */
    parentType?: string;
    /** URNs of the resources this one depends on (dependsOn and input dependencies). */
    dependencies: string[];
    /** The resource options the engine receives (mocks never see them; recorded from the registration request). */
    options: RecordedOptions;
    /** The mocked provider state (outputs), e.g. the ARN other resources' inputs refer to. */
    state: Record<string, any>;
}

/** The resource options that decide how the engine replaces and deletes a resource. */
export interface RecordedOptions {
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    retainOnDelete: boolean;
    protect: boolean;
}

export interface StackRun {
    resources: RecordedResource[];
    /** The program's exports, resolved; secret outputs are reported as `{ secret: true, value }`. */
    outputs: Record<string, unknown>;
    /** Every secret value the run produced or was given: generated passwords, secret config, the registry token. */
    secretValues: string[];
}

export interface RunOptions {
    /** Stack whose `Pulumi.<stack>.yaml` supplies config; default `prod`. */
    stack?: string;
    /** Extra or overriding settings; keys without a namespace belong to the project. Values as `pulumi config` stores them (strings; lists/objects as JSON). */
    config?: Record<string, string>;
    /** Settings given as secrets (`pulumi config set --secret`), e.g. the `appSecrets` object as JSON. */
    secretConfig?: Record<string, string>;
    /** Settings to remove from the stack file's config (keys as in `config`). */
    unset?: string[];
}

export function isSecretWrapper(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function unwrapSecrets(v: any): any {
    if (isSecretWrapper(v)) return unwrapSecrets(v.value);
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    return v;
}

function qualify(key: string): string {
    return key.includes(":") ? key : `${PROJECT}:${key}`;
}

/** Config as the Pulumi CLI hands it to a program: strings, with lists and objects as JSON. */
export function readStackConfig(stack: string): { config: Record<string, string>; secretKeys: string[] } {
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries<any>(doc.config ?? {})) {
        if (value && typeof value === "object" && "secure" in value) {
            // Ciphertext can't be decrypted here: stand in a recognisable test value.
            config[key] = `mock-secret-for-${key}`;
            secretKeys.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys };
}

/** Deterministic fake state for what the provider would compute. */
function mockState(type: string, name: string, inputs: Record<string, any>, region: string): Record<string, any> {
    const [pkg, mod] = type.split(":");
    const service = (mod ?? "").split("/")[0];
    const arn = `arn:aws:${service}:${region}:${MOCK_ACCOUNT_ID}:${name}`;
    const state: Record<string, any> = { arn, name: inputs.name ?? name, ...inputs };
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
        case "random:index/randomString:RandomString":
            state.result = `mock-generated-${name}-Zq7`;
            break;
        case "aws:s3/bucket:Bucket":
            state.bucket = inputs.bucket ?? `${inputs.bucketPrefix ?? name}mock`;
            state.arn = `arn:aws:s3:::${state.bucket}`;
            break;
        case "aws:sns/topic:Topic":
            state.arn = `arn:aws:sns:${region}:${MOCK_ACCOUNT_ID}:${inputs.name ?? name}`;
            break;
        case "aws:cloudtrail/trail:Trail":
            state.arn = `arn:aws:cloudtrail:${region}:${MOCK_ACCOUNT_ID}:trail/${inputs.name ?? name}`;
            break;
        case "aws:secretsmanager/secret:Secret":
            state.arn = `arn:aws:secretsmanager:${region}:${MOCK_ACCOUNT_ID}:secret:${inputs.name ?? name}-AbCdEf`;
            break;
        case "aws:cloudwatch/eventRule:EventRule":
            state.arn = `arn:aws:events:${region}:${MOCK_ACCOUNT_ID}:rule/${inputs.name ?? name}`;
            break;
        case "aws:cloudwatch/logGroup:LogGroup":
            state.arn = `arn:aws:logs:${region}:${MOCK_ACCOUNT_ID}:log-group:${inputs.name ?? name}`;
            break;
        case "aws:kms/key:Key":
            state.keyId = `${name}-key-id`;
            state.arn = `arn:aws:kms:${region}:${MOCK_ACCOUNT_ID}:key/${name}-key-id`;
            break;
        case "aws:ssm/document:Document":
            state.latestVersion = "1";
            break;
        case "aws:ssm/association:Association":
            state.associationId = `${name}-association-id`;
            break;
        case "aws:ec2/instance:Instance":
            state.privateIp = "10.40.10.10";
            state.privateDns = `ip-10-40-10-10.${region}.compute.internal`;
            state.publicIp = "198.51.100.10";
            state.publicDns = `ec2-198-51-100-10.${region}.compute.amazonaws.com`;
            break;
        case "aws:acm/certificate:Certificate":
            state.domainValidationOptions = [inputs.domainName, ...(inputs.subjectAlternativeNames ?? [])].map((d: string) => ({
                domainName: d,
                resourceRecordName: `_mock.${d}.`,
                resourceRecordType: "CNAME",
                resourceRecordValue: `_mock.acm-validations.aws.`,
            }));
            break;
        case "aws:lb/loadBalancer:LoadBalancer":
            state.arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:loadbalancer/app/${name}/0123456789abcdef`;
            state.arnSuffix = `app/${name}/0123456789abcdef`;
            state.dnsName = `${name}-123456789.${region}.elb.amazonaws.com`;
            state.zoneId = "Z32O12XQLNTSW2";
            break;
        case "aws:lb/targetGroup:TargetGroup":
            state.arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:targetgroup/${name}/0123456789abcdef`;
            state.arnSuffix = `targetgroup/${name}/0123456789abcdef`;
            break;
        case "aws:ec2/launchTemplate:LaunchTemplate":
            state.latestVersion = 1;
            break;
        case "aws:ecr/repository:Repository":
            state.registryId = MOCK_ACCOUNT_ID;
            state.repositoryUrl = `${MOCK_ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com/${inputs.name ?? name}`;
            break;
        case "docker:index/image:Image":
            state.repoDigest = `${String(inputs.imageName ?? name).replace(/:[^/:]+$/, "")}@sha256:${"ab".repeat(32)}`;
            state.imageName = inputs.imageName;
            break;
        case "command:local:Command":
            state.stdout = "";
            state.stderr = "";
            break;
    }
    if (pkg === "aws" && service === "ec2" && type.endsWith(":Vpc")) state.cidrBlock = inputs.cidrBlock;
    return state;
}

function mockCall(token: string, args: Record<string, any>, region: string): Record<string, any> {
    switch (token) {
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: MOCK_ACCOUNT_ID, arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mock`, userId: "AIDAMOCK" };
        case "aws:index/getRegion:getRegion":
            return { region, name: region, id: region, endpoint: `ec2.${region}.amazonaws.com` };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws", reverseDnsPrefix: "com.amazonaws" };
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return { names: [`${region}a`, `${region}b`, `${region}c`], zoneIds: ["z1", "z2", "z3"], id: region };
        case "aws:ssm/getParameter:getParameter":
            return { ...args, value: "ami-0123456789abcdef0", insecureValue: "ami-0123456789abcdef0", type: "String" };
        case "aws:ec2/getSubnet:getSubnet":
            return { ...args, availabilityZone: `${region}a`, vpcId: "network-vpc-id" };
        case "aws:ec2/getAmi:getAmi":
            return { id: "ami-0123456789abcdef0", imageId: "ami-0123456789abcdef0", ...args };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                userName: "AWS",
                password: MOCK_ECR_TOKEN,
                authorizationToken: "bW9jaw==",
                proxyEndpoint: `https://${MOCK_ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com`,
                expiresAt: "2030-01-01T00:00:00Z",
                id: region,
            };
        default:
            return args;
    }
}

function waitForRegistrations(): Promise<void> {
    // Internal to @pulumi/pulumi but stable: resolves when no RPC (resource registration) is in flight.
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    return settings.waitForRPCs();
}

/** The mock monitor knows each resource's real URN, which carries its parent's type. */
function attachUrns(resources: RecordedResource[]): void {
    const settings = require("@pulumi/pulumi/runtime/settings") as { getMonitor(): { resources?: Map<string, unknown> } | undefined };
    const urns = [...(settings.getMonitor()?.resources?.keys() ?? [])];
    for (const r of resources) {
        const urn = urns.find((u) => {
            const [, , qualifiedType, name] = u.split("::");
            const types = qualifiedType.split("$");
            return name === r.name && types[types.length - 1] === r.type;
        });
        if (!urn) continue;
        r.urn = urn;
        const types = urn.split("::")[2].split("$");
        r.parentType = types.length > 1 ? types[types.length - 2] : undefined;
    }
}

async function resolveOutput(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const o = value as pulumi.Output<unknown>;
        const [v, secret] = await Promise.all([(o as any).promise(), (o as any).isSecret]);
        const resolved = await resolveOutput(v);
        return secret ? { secret: true, value: resolved } : resolved;
    }
    if (Array.isArray(value)) return Promise.all(value.map(resolveOutput));
    if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveOutput(v)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}

/** Runs index.ts once under mocks. Runs are sequential: mocks and config are process-global. */
export async function runStack(options: RunOptions = {}): Promise<StackRun> {
    const stack = options.stack ?? "prod";
    const { config, secretKeys } = readStackConfig(stack);
    for (const key of options.unset ?? []) delete config[qualify(key)];
    for (const [key, value] of Object.entries(options.config ?? {})) config[qualify(key)] = value;
    for (const [key, value] of Object.entries(options.secretConfig ?? {})) {
        config[qualify(key)] = value;
        secretKeys.push(qualify(key));
    }
    const region = config["aws:region"] ?? "us-east-1";

    const resources: RecordedResource[] = [];
    const secretValues: string[] = [MOCK_ECR_TOKEN];
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const state = mockState(args.type, args.name, args.inputs, region);
                const id = args.type === "aws:s3/bucket:Bucket" ? state.bucket : `${args.name}-id`;
                const parentless = `urn:pulumi:${stack}::${PROJECT}::${args.type}::${args.name}`;
                resources.push({
                    type: args.type,
                    name: args.name,
                    urn: parentless,
                    id,
                    inputs: unwrapSecrets(args.inputs),
                    rawInputs: args.inputs,
                    provider: args.provider,
                    custom: args.custom ?? true,
                    dependencies: dependencies.get(`${args.type}::${args.name}`) ?? [],
                    options: resourceOptions.get(`${args.type}::${args.name}`) ?? NO_OPTIONS,
                    state: unwrapSecrets(state),
                });
                if (args.type.startsWith("random:")) secretValues.push(state.result);
                return { id, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return mockCall(args.token, args.inputs, region);
            },
        },
        PROJECT,
        stack,
        false,
    );
    // The mock API hides each registration's dependencies and resource options; the request
    // carries them exactly as the engine would receive them (after every transform).
    const dependencies = new Map<string, string[]>();
    const resourceOptions = new Map<string, RecordedOptions>();
    const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): any }).getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: unknown) => {
        const key = `${req.getType()}::${req.getName()}`;
        dependencies.set(key, req.getDependenciesList());
        resourceOptions.set(key, {
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            retainOnDelete: req.getRetainondelete?.() ?? false,
            protect: req.getProtect?.() ?? false,
        });
        return register(req, callback);
    };
    setAllConfig(config, secretKeys);
    for (const key of secretKeys) {
        const value = config[key];
        secretValues.push(value);
        // Secret objects (appSecrets) carry their values one level down.
        try {
            const parsed = JSON.parse(value);
            if (parsed && typeof parsed === "object") Object.values(parsed).forEach((v) => typeof v === "string" && secretValues.push(v));
        } catch {
            /* a plain string secret */
        }
    }

    const entry = require.resolve(path.join(ROOT, "index.ts"));
    delete require.cache[entry];
    let program: Record<string, unknown>;
    try {
        program = require(entry) as Record<string, unknown>;
    } catch (e) {
        // Tests check that a bad config stops the program before any resource exists.
        await waitForRegistrations();
        throw Object.assign(e as Error, { recordedResources: resources });
    }
    const outputs = (await resolveOutput({ ...program })) as Record<string, unknown>;
    await waitForRegistrations();
    attachUrns(resources);
    return { resources, outputs, secretValues: [...new Set(secretValues)] };
}

export async function runStackUnderMocks(options: RunOptions = {}): Promise<RecordedResource[]> {
    return (await runStack(options)).resources;
}

/** Resources of one type token, e.g. `aws:s3/bucket:Bucket`. */
export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
    return resources.filter((r) => r.type === type);
}
