import { shellQuote as q } from "./cloudConfig";
import { ECR_REGISTRY_HOST } from "../ecrImageReference";

/** An ECR registry host (private registries; `public.ecr.aws` is a public one and does not match). */
const ECR_REGISTRY = new RegExp(`^${ECR_REGISTRY_HOST}$`);

/** What a host runs is named by digest: a re-pushed tag can never change it. */
export function requireDigest(setting: string, ref: string): string {
    if (!/^[a-z0-9.-]+(?::[0-9]+)?\/[a-z0-9._/-]+(?::[A-Za-z0-9_.-]+)?@sha256:[0-9a-f]{64}$/.test(ref)) {
        throw new Error(`${setting} = ${JSON.stringify(ref)}: an image reference by digest, <registry>/<repository>@sha256:<64 hex>`);
    }
    return ref;
}

/**
 * `docker login` to each ECR registry the images come from, with the host role's token
 * (`aws ecr get-login-password`), so private pulls work; public references need none.
 */
export function ecrLogins(regionVar: string, refs: string[]): string {
    const registries = [...new Set(refs.map((r) => r.split("/")[0]))].filter((r) => ECR_REGISTRY.test(r)).sort();
    return registries.map((r) => `aws ecr get-login-password --region "$${regionVar}" | docker login --username AWS --password-stdin ${q(r, "registry")}`).join("\n");
}
