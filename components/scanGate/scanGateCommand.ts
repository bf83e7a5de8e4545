import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface ScanGateArgs {
    /** Name → ECR reference by digest: every image this gate judges. */
    images: pulumi.Input<Record<string, pulumi.Input<string>>>;
    region: pulumi.Input<string>;
    maxCritical: number;
    /** -1: HIGH findings do not gate. */
    maxHigh: number;
    /** What must exist before the gate asks ECR: the registry's scanning configuration. */
    dependsOn?: pulumi.Resource[];
}

/**
 * The deploy-time scan gate as a resource: one `local.Command` running ecrScanGate's main() over
 * every image in `images`, re-run whenever one of the digests changes. What runs an image
 * depends on it, so no host gets an image the gate refused.
 */
export function scanGateCommand(name: string, args: ScanGateArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const images = pulumi.output(args.images).apply((m) => JSON.stringify(Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)))));
    return new command.local.Command(name, {
        // Resolved as a module, so moving or renaming the gate fails here, not at deploy time; ts-node is
        // a runtime dependency of this program (package.json), as Pulumi runs the program itself with it.
        create: `node -r ts-node/register/transpile-only ${JSON.stringify(require.resolve("./ecrScanGate"))}`,
        environment: {
            IMAGES: images,
            AWS_REGION: args.region,
            MAX_CRITICAL: String(args.maxCritical),
            MAX_HIGH: String(args.maxHigh),
        },
        triggers: [images],
    }, { ...opts, dependsOn: args.dependsOn });
}
