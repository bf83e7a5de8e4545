import { GetDetectorCommand, GetFindingsCommand, ListFindingsCommand } from "@aws-sdk/client-guardduty";
import { AwsClients } from "./awsClients";
import { Check, CheckOutcome, fail, pass } from "./checkResult";
import { explainAwsError } from "./failureHints";
import { StackOutputs } from "./stackOutputs";

/** §4.7: the detector is ENABLED and findings can be listed and read (zero findings is a pass). */

export async function checkGuardDuty(clients: AwsClients, detectorId: string, signal?: AbortSignal): Promise<CheckOutcome> {
    const call = (action: string) => ({ action, resource: `detector ${detectorId}`, region: clients.region });
    let status: string | undefined;
    try {
        status = (await clients.guardDuty.send(new GetDetectorCommand({ DetectorId: detectorId }), { abortSignal: signal })).Status;
    } catch (e) {
        return explainAwsError(e, call("guardduty:GetDetector"));
    }
    if (status !== "ENABLED") return fail(`detector ${status ?? "without status"}`, `enable it: aws guardduty update-detector --detector-id ${detectorId} --enable (or pulumi up)`);

    let ids: string[];
    let more: boolean;
    try {
        const listed = await clients.guardDuty.send(
            new ListFindingsCommand({ DetectorId: detectorId, MaxResults: 50, FindingCriteria: { Criterion: { "service.archived": { Equals: ["false"] } } } }),
            { abortSignal: signal },
        );
        ids = listed.FindingIds ?? [];
        more = Boolean(listed.NextToken);
    } catch (e) {
        return explainAwsError(e, call("guardduty:ListFindings"));
    }
    if (ids.length === 0) return pass("detector ENABLED, 0 findings");

    let findings;
    try {
        findings = (await clients.guardDuty.send(new GetFindingsCommand({ DetectorId: detectorId, FindingIds: ids.slice(0, 5) }), { abortSignal: signal })).Findings ?? [];
    } catch (e) {
        return explainAwsError(e, call("guardduty:GetFindings"));
    }
    const worst = [...findings].sort((a, b) => (b.Severity ?? 0) - (a.Severity ?? 0))[0];
    const worstText = worst ? `; highest of the first ${findings.length}: severity ${worst.Severity} ${worst.Type}` : "";
    return pass(`detector ENABLED, ${ids.length}${more ? "+" : ""} findings${worstText}`);
}

export function guardDutyChecks(outputs: StackOutputs, clients: () => AwsClients): Check[] {
    return [{ group: "guardduty", name: "GuardDuty detector and findings", required: true, timeoutMs: 30_000, run: (signal) => checkGuardDuty(clients(), outputs.string("detectorId"), signal) }];
}
