/**
 * What the deployability checks read of a registered resource: the shape
 * `scripts/stackUnderMocks.ts` records (inputs, resource options, dependencies, mocked state).
 */
export interface StackResource {
    type: string;
    name: string;
    urn: string;
    id: string;
    inputs: Record<string, any>;
    dependencies: string[];
    options: { deleteBeforeReplace: boolean; retainOnDelete?: boolean };
    state: Record<string, any>;
}

export interface DeployabilityFinding {
    check: "trust-conditions" | "replacement-safety" | "boot-prerequisites" | "boot-permissions";
    /** `<type>::<name>` of the resource the finding is about. */
    resource: string;
    message: string;
}

export function resourceKey(r: Pick<StackResource, "type" | "name">): string {
    return `${r.type}::${r.name}`;
}

/** Policy documents arrive as JSON strings (or, from some components, as objects). */
export function parseDocument(doc: unknown): { Statement?: any[] } | undefined {
    if (typeof doc === "string") {
        try {
            return JSON.parse(doc);
        } catch {
            return undefined;
        }
    }
    return doc && typeof doc === "object" ? (doc as { Statement?: any[] }) : undefined;
}

export function asList<T>(v: T | T[] | undefined): T[] {
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
