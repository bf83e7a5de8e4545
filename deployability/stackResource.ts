import type { RecordedResource } from "../scripts/stackUnderMocks";

/**
 * What the deployability checks read of a registered resource, as `scripts/stackUnderMocks.ts`
 * records it (inputs, resource options, dependencies, mocked state).
 */
export type StackResource = Pick<RecordedResource, "type" | "name" | "urn" | "id" | "inputs" | "dependencies" | "options" | "state">;

export interface DeployabilityFinding {
    check: "trust-conditions" | "replacement-safety" | "boot-prerequisites" | "boot-permissions" | "listener-rules" | "gated-images" | "security-group-rules" | "private-endpoints";
    /** `<type>::<name>` of the resource the finding is about. */
    resource: string;
    message: string;
}

export function resourceKey(r: Pick<StackResource, "type" | "name">): string {
    return `${r.type}::${r.name}`;
}
