import { CheckOutcome, fail } from "./checkResult";
import { StackOutputs } from "./stackOutputs";

/** Where verify reaches Prometheus or Grafana, and how (said in each check's evidence). */
export interface MonitoringEndpoint {
    url: string;
    how: string;
}

const SERVICES = {
    prometheus: { output: "prometheusUrl", flag: "--prometheus-url", what: "Prometheus", localUrl: "http://127.0.0.1:9090" },
    grafana: { output: "grafanaUrl", flag: "--grafana-url", what: "Grafana", localUrl: "http://127.0.0.1:3000" },
} as const;

/**
 * The operator's way in: the flag (a tunnel's URL, or Grafana's HTTPS name), else the stack output
 * when it is a URL (Grafana's HTTPS name). Where the output is the tunnel command, the check fails
 * saying which tunnel to open and which flag takes its URL.
 */
export function monitoringEndpoint(service: keyof typeof SERVICES, outputs: StackOutputs, flagUrl: string | undefined): MonitoringEndpoint | CheckOutcome {
    const s = SERVICES[service];
    if (flagUrl !== undefined) return { url: flagUrl, how: `reached at ${flagUrl} (${s.flag})` };
    const output = outputs.string(s.output);
    if (/^https?:\/\//.test(output)) return { url: output, how: `reached at ${output} (output ${s.output})` };
    return fail(
        `${s.what} has no public URL (output ${s.output}: ${JSON.stringify(output)})`,
        `open the tunnel in another terminal (${output}) and pass its URL: ${s.flag} ${s.localUrl}`,
    );
}

/** Runs a check at the endpoint and says in its evidence how the endpoint was reached. */
export async function atMonitoringEndpoint(endpoint: MonitoringEndpoint | CheckOutcome, check: (url: string) => Promise<CheckOutcome>): Promise<CheckOutcome> {
    if (!("url" in endpoint)) return endpoint;
    const outcome = await check(endpoint.url);
    return { ...outcome, evidence: `${outcome.evidence}; ${endpoint.how}` };
}
