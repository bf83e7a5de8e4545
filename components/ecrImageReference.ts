/**
 * The parts of a private ECR image reference, `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>@sha256:<64 hex>`,
 * as regular-expression sources: the boot scripts' logins, the scan gate and the deployability checks build their
 * patterns from these, so they agree on what an ECR reference is. `public.ecr.aws` is a public registry and does not match.
 * (ECR User Guide, "Private registry concepts"; repository names: CreateRepository, `repositoryName` pattern.)
 */
export const ECR_REGISTRY_HOST = String.raw`[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?`;
export const ECR_REPOSITORY_NAME = String.raw`[a-z0-9][a-z0-9._/-]*`;
export const IMAGE_DIGEST = String.raw`sha256:[0-9a-f]{64}`;
