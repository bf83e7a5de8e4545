import * as fs from "node:fs";
import { checkDeployability } from "../../deployability";
import { PACK_NAME, packArgs } from "../../policy/pack";
import { runStack } from "../stackUnderMocks";
import { evaluatePack, formatViolations, fromRecorded, PackConfigFile } from "./evaluate";

/** What `npm run policy:check` accepts. */
export interface GateOptions {
    stack: string;
    /** A policy-pack config file, the same one `pulumi preview --policy-pack-config` takes. */
    policyConfig?: string;
}

export class UsageError extends Error {}

const USAGE = "usage: npm run policy:check -- [--stack <name>] [--policy-config <file.json>]";

export function parseGateArgs(argv: string[]): GateOptions {
    const options: GateOptions = { stack: "prod" };
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].split(/=(.*)/s, 2);
        const value = () => {
            const v = inline ?? argv[++i];
            if (!v || v.startsWith("--")) throw new UsageError(`${flag} needs a value\n${USAGE}`);
            return v;
        };
        if (flag === "--stack") options.stack = value();
        else if (flag === "--policy-config") options.policyConfig = value();
        else throw new UsageError(`unknown argument ${JSON.stringify(argv[i])}: allowed are --stack <name> (a Pulumi.<name>.yaml in the project) and --policy-config <file.json>\n${USAGE}`);
    }
    return options;
}

function readPolicyConfig(file: string): PackConfigFile {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        throw new UsageError(`--policy-config ${file}: ${(e as Error).message}`);
    }
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new UsageError(`--policy-config ${file} is not JSON: ${(e as Error).message}`);
    }
}

/**
 * Runs the program under mocks with the stack's config, evaluates the pack, prints the table.
 * Exit code: 0 no mandatory violation, 1 mandatory violations, 2 bad usage or the program failed.
 */
export async function runPolicyGate(argv: string[], print: (line: string) => void = console.log): Promise<number> {
    try {
        const options = parseGateArgs(argv);
        const packConfig = options.policyConfig ? readPolicyConfig(options.policyConfig) : {};
        const { resources } = await runStack({ stack: options.stack });
        const violations = evaluatePack(packArgs, fromRecorded(resources), packConfig);
        const mandatory = violations.filter((v) => v.level === "mandatory").length;
        print(`policy pack ${PACK_NAME} (${packArgs.policies.length} policies) over stack ${options.stack} under mocks: ${resources.length} resources`);
        print(formatViolations(violations));
        print(`${mandatory} mandatory, ${violations.length - mandatory} advisory violation(s)${mandatory > 0 ? ": fix the mandatory ones (each policy's description in policy/README.md says how)" : ""}`);
        // Advisory here (npm test fails on them): what a real account would reject that mocks accept.
        const deployability = checkDeployability(resources);
        for (const f of deployability) print(`  advisory  deployability/${f.check}  ${f.resource}: ${f.message}`);
        print(`deployability checks: ${deployability.length} finding(s)${deployability.length ? " (advisory here; npm test fails on them)" : ""}`);
        return mandatory > 0 ? 1 : 0;
    } catch (e) {
        print(`policy:check: ${(e as Error).message}`);
        return 2;
    }
}
