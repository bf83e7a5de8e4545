import { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";

/** The benchmark controls a policy implements; the README's control table is built from these. */
export interface Controls {
    /** CIS AWS Foundations Benchmark recommendation(s). */
    cis?: string;
    /** AWS Foundational Security Best Practices control(s). */
    fsbp?: string;
    /** Checkov check id(s). */
    checkov?: string;
}

export type DevSecOpsPolicy = (ResourceValidationPolicy | StackValidationPolicy) & { controls: Controls };

type Props = Record<string, any>;

/** A resource policy that applies to the listed type tokens only. */
export function resourcePolicy(
    definition: Omit<ResourceValidationPolicy, "validateResource"> & { controls: Controls; types: readonly string[] },
    check: (props: Props, args: ResourceValidationArgs, report: ReportViolation) => void,
): DevSecOpsPolicy {
    const { types, ...policy } = definition;
    return {
        ...policy,
        validateResource: (args, report) => {
            if (types.includes(args.type)) check(args.props, args, report);
        },
    };
}

export function stackPolicy(
    definition: Omit<StackValidationPolicy, "validateStack"> & { controls: Controls },
    check: (args: StackValidationArgs, report: ReportViolation) => void,
): DevSecOpsPolicy {
    return { ...definition, validateStack: check };
}

/** A value that may be one item or a list, as a list of strings. */
export function asList(value: unknown): string[] {
    return value === undefined || value === null ? [] : [value].flat().map(String);
}

export function resourcesOfType(args: StackValidationArgs, ...types: string[]): PolicyResource[] {
    return args.resources.filter((r) => types.includes(r.type));
}

/**
 * Whether `child` belongs to `owner`: it depends on it (known even during preview) or names
 * it by one of `ownerKeys` through its `childKey` property. Dependencies are checked first so a
 * preview, where the owner's id is still unknown, reads no unknown value when it need not.
 */
export function belongsTo(child: PolicyResource, owner: PolicyResource, childKey: string, ownerKeys: string[]): boolean {
    if (child.dependencies.some((d) => d.urn === owner.urn)) return true;
    const reference = child.props[childKey];
    if (reference === undefined || reference === null) return false;
    return ownerKeys.some((k) => owner.props[k] !== undefined && owner.props[k] === reference);
}
