import * as pulumi from "@pulumi/pulumi";

/**
 * The tags every taggable resource carries, so that cost reports, the policy pack
 * and EC2 service discovery can all find a stack's resources by the same keys.
 */
export function standardTags(component: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
        Project: pulumi.getProject(),
        Stack: pulumi.getStack(),
        Component: component,
        ManagedBy: "pulumi",
        ...extra,
    };
}

/** A readable, stack-unique prefix for resource names: `<project>-<stack>`. */
export function stackPrefix(): string {
    return `${pulumi.getProject()}-${pulumi.getStack()}`;
}
