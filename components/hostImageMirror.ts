import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { ecrLifecyclePolicy, validateGatedRepositoryArgs } from "./observedAppHost";
import { scanGateCommand } from "./scanGate/scanGateCommand";
import { stackPrefix, standardTags } from "./tags";

export interface HostImageMirrorArgs<K extends string = string> {
    /** Name → upstream reference pinned by tag and digest (HOST_IMAGES): what the hosts run besides the app. */
    images: Record<K, string>;
    ecrKeepImages: number;
    scanMaxCritical: number;
    /** -1: HIGH findings do not gate. */
    scanMaxHigh: number;
    /** What must exist before the first push: the registry's scanning configuration (RegistryScanning). */
    scanPrerequisites?: pulumi.Resource[];
}

export interface PinnedImage {
    /** registry/path, e.g. quay.io/prometheus/prometheus. */
    repository: string;
    tag: string;
    digest: string;
}

/** `registry/path:tag@sha256:<64 hex>`: the tag for readers and Renovate, the digest for what runs. */
export function parsePinnedImage(setting: string, ref: string): PinnedImage {
    const m = /^([a-z0-9.-]+(?::[0-9]+)?\/[a-z0-9._/-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@(sha256:[0-9a-f]{64})$/.exec(ref);
    if (!m) throw new Error(`${setting} = ${JSON.stringify(ref)}: an image pinned by tag and digest, <registry>/<repository>:<tag>@sha256:<64 hex>`);
    return { repository: m[1], tag: m[2], digest: m[3] };
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Where a host image is mirrored: `<prefix>/mirror/<kebab-case name>`. */
export function mirrorRepositoryName(prefix: string, name: string): string {
    return `${prefix}/mirror/${kebab(name)}`.toLowerCase();
}

/** The mirror's immutable tag: the upstream tag and its digest's first 12 hex digits (a new digest is a new tag). */
export function mirrorTag(image: PinnedImage): string {
    return `${image.tag}-${image.digest.slice("sha256:".length, "sha256:".length + 12)}`;
}

/** Bad arguments fail before any resource exists, naming the setting, the value and what is allowed. */
export function validateHostImageMirrorArgs(args: HostImageMirrorArgs): void {
    const names = Object.keys(args.images);
    if (!names.length) throw new Error("images = {}: at least one image to mirror");
    for (const [name, ref] of Object.entries(args.images)) {
        if (!/^[a-z][a-zA-Z0-9]{0,40}$/.test(name)) throw new Error(`images key ${JSON.stringify(name)}: a camelCase name (it names the repository)`);
        parsePinnedImage(`images.${name}`, ref);
    }
    validateGatedRepositoryArgs(args);
}

/** The copy's build context: a Dockerfile that is only `FROM ${SOURCE_IMAGE}`. */
export const MIRROR_BUILD_CONTEXT = path.join(__dirname, "hostImageMirror");

/**
 * The third-party images the hosts run (Prometheus, Alertmanager, Grafana, node_exporter), copied
 * at deploy time from their pinned upstream digests into the stack's own ECR and judged by the
 * same scan gate as the app, before any host runs them. Hosts pull only these copies, by digest:
 * nothing they run comes from the internet, so `privateEgress: endpoints` works too.
 */
export class HostImageMirror<K extends string> extends pulumi.ComponentResource {
    /** Name → the copy's ECR reference by digest (what the hosts run). */
    readonly images: pulumi.Output<Record<K, string>>;
    /** Name → the copy's repository, for the pull grants of the hosts that run it. */
    readonly repositoryArns: Record<K, pulumi.Output<string>>;
    /** Passes only when every copy's scan is within the limits: what runs a copy depends on it. */
    readonly scanGate: command.local.Command;

    constructor(name: string, args: HostImageMirrorArgs<K>, opts?: pulumi.ComponentResourceOptions) {
        validateHostImageMirrorArgs(args);
        super("devsecops:supplychain:HostImageMirror", name, {}, opts);
        const parent = { parent: this };
        const prefix = stackPrefix();
        const tags = standardTags("host-image-mirror");
        const region = aws.getRegionOutput({}, parent).region;

        const copies = {} as Record<K, pulumi.Output<string>>;
        const repositoryArns = {} as Record<K, pulumi.Output<string>>;
        for (const [imageName, ref] of Object.entries(args.images) as [K, string][]) {
            const pinned = parsePinnedImage(`images.${imageName}`, ref);
            const id = `${name}-${kebab(imageName)}`;
            const repository = new aws.ecr.Repository(id, {
                name: mirrorRepositoryName(prefix, imageName),
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "KMS" }],
                // Copies of public images, made again by the next `pulumi up`: destroy may delete them.
                forceDelete: true,
                tags: { ...tags, UpstreamImage: `${pinned.repository}:${pinned.tag}` },
                // Fixed name: a replacement must delete first.
            }, { parent: this, deleteBeforeReplace: true });
            new aws.ecr.LifecyclePolicy(id, { repository: repository.name, policy: ecrLifecyclePolicy(args.ecrKeepImages) }, parent);
            const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, parent);
            const copy = new docker.Image(id, {
                imageName: pulumi.interpolate`${repository.repositoryUrl}:${mirrorTag(pinned)}`,
                build: {
                    context: MIRROR_BUILD_CONTEXT,
                    dockerfile: path.join(MIRROR_BUILD_CONTEXT, "Dockerfile"),
                    // The upstream digest: the copy is exactly what was pinned, whatever the tag points at now.
                    args: { SOURCE_IMAGE: `${pinned.repository}@${pinned.digest}` },
                    platform: "linux/amd64",
                },
                registry: { server: repository.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) },
                // Pushed after the registry scans the way ecrScanning says, so the first scan is the right kind.
            }, { parent: this, dependsOn: args.scanPrerequisites });
            copies[imageName] = copy.repoDigest;
            repositoryArns[imageName] = repository.arn;
        }

        this.images = pulumi.all(copies) as pulumi.Output<Record<K, string>>;
        this.repositoryArns = repositoryArns;
        this.scanGate = scanGateCommand(`${name}-scan-gate`, {
            images: this.images,
            region,
            maxCritical: args.scanMaxCritical,
            maxHigh: args.scanMaxHigh,
            dependsOn: args.scanPrerequisites,
        }, parent);
        this.registerOutputs({ images: this.images, repositoryArns: this.repositoryArns });
    }
}
