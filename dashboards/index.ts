import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

/**
 * What Grafana is given, whichever mechanism gives it (grafanaProvisioning = provider | file):
 * one datasource, one folder and one dashboard, with the same uids either way.
 */
export const DASHBOARD_PATH = path.join(__dirname, "devsecops-observability-dashboard.json");
export const DASHBOARD_UID = "devsecops-observability";
export const DASHBOARD_FOLDER = { title: "DevSecOps", uid: "devsecops" } as const;

/** Prometheus as Grafana reaches it: on the same host. */
export const PROMETHEUS_DATASOURCE = {
    name: "Prometheus",
    type: "prometheus",
    uid: "devsecops-prometheus",
    url: "http://localhost:9090",
    isDefault: true,
    jsonData: { httpMethod: "POST", timeInterval: "15s" },
} as const;

export function loadDashboardJson(): string {
    return fs.readFileSync(DASHBOARD_PATH, "utf8");
}

/** Where Grafana's image reads provisioning files (GF_PATHS_PROVISIONING); the host mounts the shipped ones here. */
export const GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning";
/** The dashboards' JSON inside that directory, where the dashboard provider below reads it. */
const DASHBOARD_JSON_DIR = "dashboards/json";

/** Files of Grafana's file provisioning, relative to its provisioning directory. */
export type GrafanaProvisioningFiles = Record<string, string>;

/**
 * Grafana's file provisioning (Grafana docs, "Provision Grafana"): the datasource (read at start-up,
 * so a changed file needs a Grafana restart) and a dashboard provider that rescans its folder every
 * 30 s. Provisioned objects cannot be edited in the UI (the file is the source of truth), and a
 * removed file removes its dashboard.
 */
export function renderGrafanaProvisioningFiles(dashboardJson: string = loadDashboardJson()): GrafanaProvisioningFiles {
    const { name, type, uid, url, isDefault, jsonData } = PROMETHEUS_DATASOURCE;
    const dashboard = JSON.parse(dashboardJson) as { uid?: string };
    if (dashboard.uid !== DASHBOARD_UID) throw new Error(`dashboard uid ${JSON.stringify(dashboard.uid)}: expected ${DASHBOARD_UID}`);
    return {
        "datasources/devsecops.yaml": YAML.stringify({
            apiVersion: 1,
            datasources: [{ name, type, uid, url, access: "proxy", isDefault, editable: false, jsonData }],
        }),
        "dashboards/devsecops.yaml": YAML.stringify({
            apiVersion: 1,
            providers: [{
                name: "devsecops",
                orgId: 1,
                folder: DASHBOARD_FOLDER.title,
                folderUid: DASHBOARD_FOLDER.uid,
                type: "file",
                disableDeletion: false,
                allowUiUpdates: false,
                updateIntervalSeconds: 30,
                options: { path: `${GRAFANA_PROVISIONING_DIR}/${DASHBOARD_JSON_DIR}` },
            }],
        }),
        // Compact: the SSM document that ships it holds at most 64 KB.
        [`${DASHBOARD_JSON_DIR}/${DASHBOARD_UID}.json`]: JSON.stringify(dashboard),
    };
}
