import { expect } from "chai";
import { packArgs } from "../../policy/pack";
import { EvaluatedResource, evaluatePack, PackConfigFile, Violation } from "../../scripts/policy/evaluate";

/** Resources in the provider's input shapes, evaluated through the same evaluator the gate uses. */

let counter = 0;
export function resource(type: string, props: Record<string, any>, extra: Partial<EvaluatedResource> = {}): EvaluatedResource {
    const name = extra.name ?? `r${++counter}`;
    return { type, name, urn: `urn:pulumi:test::devsecops-stack::${type}::${name}`, props: { id: `${name}-id`, ...props }, dependencies: [], ...extra };
}

export function policyNamed(name: string) {
    const policy = packArgs.policies.find((p) => p.name === name);
    expect(policy, `policy ${name}`).to.not.equal(undefined);
    return policy!;
}

/** Violations of one policy only, as the engine would report them with the pack's config. */
export function violationsOf(name: string, resources: EvaluatedResource[], config: PackConfigFile = {}): Violation[] {
    return evaluatePack({ ...packArgs, policies: [policyNamed(name)] }, resources, config);
}

export function messagesOf(name: string, resources: EvaluatedResource[], config?: PackConfigFile): string[] {
    return violationsOf(name, resources, config).map((v) => v.message);
}
