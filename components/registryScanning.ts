import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ECR_SCANNING_MODES, EcrScanning } from "../config/stackConfig";

export interface RegistryScanningArgs {
    mode: EcrScanning;
    /** Every repository of this stack starts with it (`<prefix>/…`). */
    repositoryPrefix: string;
}

/** ScanningRepositoryFilter.filter's pattern (ECR API Reference). */
export const ECR_SCAN_FILTER = /^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$/;

/**
 * The registry's scanning rules under `enhanced`: Amazon Inspector scans this stack's repositories
 * continuously (OS and language packages, npm included; new CVEs re-judge images already pushed).
 * CONTINUOUS_SCAN and SCAN_ON_PUSH are the two ENHANCED frequencies (ECR API Reference, RegistryScanningRule).
 */
export function enhancedScanningRules(repositoryPrefix: string): aws.types.input.ecr.RegistryScanningConfigurationRule[] {
    const filter = `${repositoryPrefix}/*`;
    if (!ECR_SCAN_FILTER.test(filter)) throw new Error(`repositoryPrefix = ${JSON.stringify(repositoryPrefix)}: lower-case letters, digits, '.', '_', '-' and '/' (an ECR scanning filter)`);
    return [{ scanFrequency: "CONTINUOUS_SCAN", repositoryFilters: [{ filter, filterType: "WILDCARD" }] }];
}

/**
 * How ECR scans this stack's images (`ecrScanning`). `basic`: each repository's scan on push (ECR's
 * own scanner: OS packages only, no charge). `enhanced`: the registry's scanning configuration set to
 * ENHANCED for this stack's repositories (Amazon Inspector; charged per image scanned and re-scanned).
 *
 * The configuration is one per account and region: `enhanced` replaces whatever it was, and removing
 * it (destroy, or back to `basic`) reverts the registry to BASIC without rules (Pulumi registry,
 * aws.ecr.RegistryScanningConfiguration). Repositories outside these rules are not scanned while
 * ENHANCED is set: share an account only with stacks that use the same setting.
 */
export class RegistryScanning extends pulumi.ComponentResource {
    readonly mode: EcrScanning;
    /** What a push waits for, so its first scan is the configured kind: empty under `basic`. */
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: RegistryScanningArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!ECR_SCANNING_MODES.includes(args.mode)) throw new Error(`ecrScanning = ${JSON.stringify(args.mode)}: one of ${ECR_SCANNING_MODES.join(", ")}`);
        const rules = args.mode === "enhanced" ? enhancedScanningRules(args.repositoryPrefix) : undefined;
        super("devsecops:supplychain:RegistryScanning", name, {}, opts);
        this.mode = args.mode;
        this.ready = rules ? [new aws.ecr.RegistryScanningConfiguration(`${name}-enhanced`, { scanType: "ENHANCED", rules }, { parent: this })] : [];
        this.registerOutputs({ mode: this.mode });
    }
}
