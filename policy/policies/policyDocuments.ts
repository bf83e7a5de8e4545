import { asList } from "./definePolicy";

/** IAM / resource policy documents arrive as JSON strings or, from @pulumi/aws inputs, as objects. */
export interface PolicyStatement {
    Sid?: string;
    Effect?: string;
    Action?: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
    [key: string]: unknown;
}

/** Principal "*", or AWS "*" among the principals: anyone, in any account, or anonymous. */
export function isAnyPrincipal(principal: unknown): boolean {
    if (principal === "*") return true;
    return asList((principal as { AWS?: unknown } | undefined)?.AWS).includes("*");
}

export function statementsOf(document: unknown): PolicyStatement[] {
    if (document === undefined || document === null || document === "") return [];
    const parsed = typeof document === "string" ? JSON.parse(document) : document;
    return [parsed.Statement ?? []].flat();
}
