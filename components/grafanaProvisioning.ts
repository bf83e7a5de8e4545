import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as grafana from "@pulumiverse/grafana";
import { DASHBOARD_FOLDER, DASHBOARD_UID, PROMETHEUS_DATASOURCE, loadDashboardJson } from "../dashboards";

export interface GrafanaProvisioningArgs {
    /** Grafana's URL as the deployer reaches it: its HTTPS name through the front door, from operatorCidrs. */
    grafanaUrl: pulumi.Input<string>;
    /** The generated admin password: a Pulumi secret. */
    adminPassword: pulumi.Input<string>;
    /** How long to wait for Grafana to answer /api/health on a fresh host. */
    healthTimeoutSeconds?: number;
}

/** A bounded wait for Grafana's /api/health, in Node so it runs wherever `pulumi up` does. */
export function healthWaitScript(timeoutSeconds: number): string {
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
        throw new Error(`healthTimeoutSeconds = ${JSON.stringify(timeoutSeconds)}: a whole number of seconds, at least 1`);
    }
    return [
        "const deadline = Date.now() + " + timeoutSeconds * 1000 + ";",
        "const url = process.env.GRAFANA_URL.replace(/\\/$/, '') + '/api/health';",
        "(async () => {",
        "  for (;;) {",
        "    try { const r = await fetch(url, { signal: AbortSignal.timeout(10000) }); if (r.ok) { console.log('grafana healthy: ' + url); return; } } catch {}",
        "    if (Date.now() > deadline) { console.error('grafana not healthy at ' + url + ' after " + timeoutSeconds + " s'); process.exit(1); }",
        "    await new Promise((r) => setTimeout(r, 5000));",
        "  }",
        "})();",
    ].join("\n");
}

/**
 * Grafana's Prometheus datasource and the dashboard (grafanaProvisioning = provider), through an
 * explicit provider authenticated with the vault's admin password over HTTPS, after Grafana answers
 * /api/health.
 */
export class GrafanaProvisioning extends pulumi.ComponentResource {
    readonly dashboardUid: pulumi.Output<string>;
    readonly dashboardUrl: pulumi.Output<string>;

    constructor(name: string, args: GrafanaProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
        super("devsecops:grafana:GrafanaProvisioning", name, {}, opts);
        const wait = new command.local.Command(`${name}-health-wait`, {
            // The script travels in the environment: no shell quoting can mangle it.
            create: 'node -e "$GRAFANA_HEALTH_WAIT_JS"',
            environment: { GRAFANA_URL: args.grafanaUrl, GRAFANA_HEALTH_WAIT_JS: healthWaitScript(args.healthTimeoutSeconds ?? 600) },
            triggers: [args.grafanaUrl],
        }, { parent: this });

        const provider = new grafana.Provider(`${name}-provider`, {
            url: args.grafanaUrl,
            auth: pulumi.secret(pulumi.interpolate`admin:${args.adminPassword}`),
            retries: 5,
            retryStatusCodes: ["429", "5xx"],
            retryWait: 5,
        }, { parent: this });
        const afterHealthy = { parent: this, provider, dependsOn: [wait] };

        // The same folder, datasource and dashboard as the file mechanism (dashboards/index.ts).
        const folder = new grafana.oss.Folder(`${name}-folder`, { ...DASHBOARD_FOLDER }, afterHealthy);
        const { jsonData, ...datasource } = PROMETHEUS_DATASOURCE;
        new grafana.oss.DataSource(`${name}-prometheus`, { ...datasource, jsonDataEncoded: JSON.stringify(jsonData) }, afterHealthy);
        const dashboard = new grafana.oss.Dashboard(`${name}-dashboard`, {
            folder: folder.uid,
            configJson: loadDashboardJson(),
            overwrite: true,
            message: "Provisioned by pulumi",
        }, afterHealthy);

        this.dashboardUid = dashboard.uid.apply((uid) => uid || DASHBOARD_UID);
        this.dashboardUrl = pulumi.interpolate`${args.grafanaUrl}/d/${DASHBOARD_UID}`;
        this.registerOutputs({ dashboardUid: this.dashboardUid, dashboardUrl: this.dashboardUrl });
    }
}
