import YAML from "yaml";

/**
 * What both hosts' scripts are built from: a cloud-config document and bash quoting for
 * the identifiers (ARNs, digests, log groups) that are the only values these scripts carry.
 */

const SHELL_SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/;

/** Quotes a value for bash; identifiers only ever reach these scripts. */
export function shellQuote(value: string, what: string): string {
    if (!SHELL_SAFE.test(value)) throw new Error(`${what} = ${JSON.stringify(value)}: only letters, digits and @%+=:,./_- are allowed in host scripts`);
    return `'${value}'`;
}

export function cloudConfig(doc: Record<string, unknown>): string {
    return `#cloud-config\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}
