/**
 * The offline policy gate: runs the program under mocks with a stack's config and evaluates the
 * CrossGuard pack in process. It needs no Pulumi CLI, cloud credentials or network, so it also
 * runs on pull requests from forks.
 *
 *   npm run policy:check -- --stack prod [--policy-config policy-config.json]
 */
import { runPolicyGate } from "./policy/gate";

runPolicyGate(process.argv.slice(2)).then((code) => process.exit(code));
