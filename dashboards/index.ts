import * as fs from "node:fs";
import * as path from "node:path";

/** The Grafana dashboard, provisioned through the API by GrafanaProvisioning. */
export const DASHBOARD_PATH = path.join(__dirname, "devsecops-observability-dashboard.json");
export const DASHBOARD_UID = "devsecops-observability";

export function loadDashboardJson(): string {
    return fs.readFileSync(DASHBOARD_PATH, "utf8");
}
