/**
 * The offline policy gate: runs the program under mocks with a stack's config and
 * evaluates the CrossGuard pack in process. No Pulumi CLI, cloud credentials or
 * network, so it runs on pull requests from forks too.
 *
 *   npm run policy:check -- --stack prod
 */
import { devsecopsPolicies } from "../policy/policies";
import { runStack } from "./stackUnderMocks";
import { evaluatePack, formatViolations, fromRecorded } from "./policy/evaluate";

function parseArgs(argv: string[]): { stack: string } {
    let stack = "prod";
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--stack" && argv[i + 1]) stack = argv[++i];
        else throw new Error(`unknown argument ${JSON.stringify(argv[i])}: allowed: --stack <name> (a Pulumi.<name>.yaml in the project)`);
    }
    return { stack };
}

async function main(): Promise<number> {
    const { stack } = parseArgs(process.argv.slice(2));
    const { resources } = await runStack({ stack });
    const violations = evaluatePack(devsecopsPolicies, fromRecorded(resources));
    const mandatory = violations.filter((v) => v.level === "mandatory");
    console.log(`policy pack over stack ${stack}: ${resources.length} resources, ${devsecopsPolicies.length} policies`);
    console.log(formatViolations(violations));
    console.log(`\n${mandatory.length} mandatory, ${violations.length - mandatory.length} advisory violations`);
    return mandatory.length > 0 ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        console.error((e as Error).message);
        process.exit(2);
    },
);
