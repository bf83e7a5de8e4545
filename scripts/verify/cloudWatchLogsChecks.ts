import { DescribeLogGroupsCommand, DescribeLogStreamsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { ageText, AwsClients } from "./awsClients";
import { Check, CheckOutcome, fail, MissingOutputError, pass } from "./checkResult";
import { explainAwsError } from "./failureHints";
import { StackOutputs } from "./stackOutputs";

/** §4.5: the log groups exist with the configured retention, and the app's group is being written to. */

export interface LogGroupExpectation {
    logGroupName: string;
    /** Days from the stack's logRetentionDays output. */
    retentionDays: number;
    /** The newest stream must have been written within this many minutes; undefined: report only. */
    freshWithinMinutes?: number;
}

export async function checkLogGroup(clients: AwsClients, expected: LogGroupExpectation, signal?: AbortSignal, now = Date.now()): Promise<CheckOutcome> {
    const name = expected.logGroupName;
    const call = (action: string) => ({ action, resource: `log group ${name}`, region: clients.region });
    let group;
    try {
        const groups = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, limit: 50 }), { abortSignal: signal });
        group = (groups.logGroups ?? []).find((g) => g.logGroupName === name);
    } catch (e) {
        return explainAwsError(e, call("logs:DescribeLogGroups"));
    }
    if (!group) return fail(`log group ${name} does not exist in ${clients.region}`, "the stack creates it: run `pulumi up`, and check the outputs are from this account and region");

    const parts: string[] = [];
    const retention = group.retentionInDays;
    if (retention !== expected.retentionDays) {
        return fail(
            `retention ${retention === undefined ? "never expire" : `${retention} d`}, configured ${expected.retentionDays} d`,
            "someone changed it outside Pulumi: run `pulumi up` to restore it (or `pulumi refresh` to see the drift)",
        );
    }
    parts.push(`retention ${retention} d as configured`);

    let latest;
    try {
        const streams = await clients.logs.send(new DescribeLogStreamsCommand({ logGroupName: name, orderBy: "LastEventTime", descending: true, limit: 1 }), { abortSignal: signal });
        latest = streams.logStreams?.[0];
    } catch (e) {
        return explainAwsError(e, call("logs:DescribeLogStreams"));
    }
    // lastEventTimestamp is updated eventually (up to an hour); lastIngestionTime is prompt.
    const written = Math.max(latest?.lastIngestionTime ?? 0, latest?.lastEventTimestamp ?? 0);
    if (!latest || written === 0) {
        const evidence = `${parts.join(", ")}; no log streams yet`;
        if (expected.freshWithinMinutes === undefined) return pass(evidence);
        return fail(evidence, "nothing has logged here: check the container runs with the awslogs driver and the host role may logs:CreateLogStream/PutLogEvents");
    }
    const age = now - written;
    parts.push(`latest stream ${latest.logStreamName} written ${ageText(age)}`);
    if (expected.freshWithinMinutes !== undefined && age > expected.freshWithinMinutes * 60_000) {
        return fail(`${parts.join(", ")} (more than ${expected.freshWithinMinutes} min)`, "the app has stopped logging: check the container (docker ps, docker logs via SSM) and that it serves requests");
    }
    return pass(parts.join(", "));
}

export function cloudWatchLogsChecks(outputs: StackOutputs, clients: () => AwsClients, freshWithinMinutes: number): Check[] {
    const retentionOf = (group: string): number => {
        const days = outputs.numberMap("logRetentionDays")[group];
        if (days === undefined) throw new MissingOutputError(`logRetentionDays["${group}"]`, "the configured retention in days");
        return days;
    };
    const groupCheck = (label: string, groupName: () => string, fresh: boolean, required: boolean): Check => ({
        group: "logs",
        name: `CloudWatch Logs: ${label}`,
        required,
        timeoutMs: 30_000,
        run: (signal) => {
            const name = groupName();
            return checkLogGroup(clients(), { logGroupName: name, retentionDays: retentionOf(name), freshWithinMinutes: fresh ? freshWithinMinutes : undefined }, signal);
        },
    });
    const checks: Check[] = [groupCheck("app log group", () => outputs.string("appLogGroupName"), true, true)];
    if (outputs.has("platformLogGroupNames")) {
        for (const name of outputs.stringArray("platformLogGroupNames")) checks.push(groupCheck(name, () => name, false, true));
    } else {
        checks.push(groupCheck("platform log groups", () => outputs.stringArray("platformLogGroupNames")[0], false, true));
    }
    checks.push(groupCheck("VPC flow log group", () => outputs.string("flowLogGroupName"), false, true));
    return checks;
}
