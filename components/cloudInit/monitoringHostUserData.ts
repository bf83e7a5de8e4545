import { bootService, cloudConfig, shellQuote as q } from "./cloudConfig";
import { GRAFANA_PROVISIONING_DIR, GrafanaProvisioningFiles } from "../../dashboards";
import { HOST_IMAGES } from "./hostImages";
import { ecrLogins, requireDigest } from "./imagePulls";

/**
 * The monitoring host's cloud-init user data and the config-shipping script its SSM
 * document runs, as pure functions: tests run `cloud-init schema` and `shellcheck` on them.
 */

/** The monitoring host's boot unit (cloudConfig.ts bootService); its BootFailed alarm is keyed by it. */
export const MONITORING_BOOT_SERVICE = "devsecops-monitoring";

/**
 * Prometheus's size-based retention for a data volume of `volumeGiB`: 80 % of it, in MB (Prometheus
 * units are powers of two). The cap counts blocks only, so the rest is room for the WAL, a compaction
 * in progress and Alertmanager's data on the same volume; whichever of time and size is reached first
 * deletes the oldest block (Prometheus docs, "Storage": --storage.tsdb.retention.size).
 */
export function prometheusRetentionSize(volumeGiB: number): string {
    return `${Math.floor(volumeGiB * 1024 * 0.8)}MB`;
}

export interface MonitoringHostUserDataInput {
    region: string;
    /** The stack-prefixed host name: the BootFailed metric's Host dimension. */
    hostName: string;
    /** The encrypted TSDB volume, found by its id (NVMe device names are not stable). */
    dataVolumeId: string;
    prometheusRetentionDays: number;
    /** The data volume's size: Prometheus's blocks are capped below it (prometheusRetentionSize). */
    prometheusVolumeGiB: number;
    grafanaAdminSecretArn: string;
    prometheusLogGroup: string;
    grafanaLogGroup: string;
    platformLogGroup: string;
    /** Prometheus, Alertmanager and Grafana by digest: the stack's mirrors of HOST_IMAGES (HostImageMirror). */
    images: Pick<Record<keyof typeof HOST_IMAGES, string>, "prometheus" | "alertmanager" | "grafana">;
}

/** Where the config-shipping document writes what Prometheus and Alertmanager read. */
export const MONITORING_CONFIG_DIR = "/etc/devsecops/monitoring";

export function renderMonitoringHostScript(input: MonitoringHostUserDataInput): string {
    const images = {
        prometheus: requireDigest("images.prometheus", input.images.prometheus),
        alertmanager: requireDigest("images.alertmanager", input.images.alertmanager),
        grafana: requireDigest("images.grafana", input.images.grafana),
    };
    if (!Number.isInteger(input.prometheusRetentionDays) || input.prometheusRetentionDays < 1) {
        throw new Error(`prometheusRetentionDays = ${input.prometheusRetentionDays}: a whole number of days, at least 1`);
    }
    return `#!/bin/bash
# Mounts the encrypted data volume and runs Prometheus, Alertmanager and Grafana. Their
# configs arrive through the SSM config-shipping document, so changing rules or
# thresholds never replaces this instance.
set -euo pipefail

region=${q(input.region, "region")}
volume_serial=${q(input.dataVolumeId.replace("-", ""), "dataVolumeId")}
config_dir=${q(MONITORING_CONFIG_DIR, "config dir")}
data_dir=/var/lib/devsecops-monitoring

systemctl enable --now docker
${ecrLogins("region", Object.values(images))}

# The volume is attached after boot starts: wait for it (up to 5 minutes), by serial number.
device=""
for _ in $(seq 1 60); do
    device="$(lsblk -ndo PATH,SERIAL | awk -v s="$volume_serial" '$2 == s { print $1 }')"
    [ -n "$device" ] && break
    sleep 5
done
[ -n "$device" ] || { echo "data volume $volume_serial not attached" >&2; exit 1; }
blkid "$device" >/dev/null 2>&1 || mkfs.xfs -q "$device"
install -d -m 0755 "$data_dir"
grep -q " $data_dir " /etc/fstab || echo "UUID=$(blkid -s UUID -o value "$device") $data_dir xfs defaults,nofail 0 2" >> /etc/fstab
mountpoint -q "$data_dir" || mount "$data_dir"
# A larger volume (prometheusVolumeGiB raised) is grown in place by EBS; the filesystem follows here.
xfs_growfs "$data_dir" >/dev/null
install -d -o 65534 -g 65534 -m 0750 "$data_dir/prometheus" "$data_dir/alertmanager"
install -d -o 472 -g 0 -m 0750 "$data_dir/grafana"
install -d -m 0755 "$config_dir" "$config_dir/rules" "$config_dir/grafana"

# The Grafana admin secret is read by the instance role and handed over as a root-and-grafana-only file.
umask 077
secret_file=/etc/devsecops/grafana-admin-password
install -d -m 0700 /etc/devsecops
aws secretsmanager get-secret-value --region "$region" --secret-id ${q(input.grafanaAdminSecretArn, "grafanaAdminSecretArn")} --query SecretString --output text > "$secret_file"
chown 472:0 "$secret_file"
chmod 0400 "$secret_file"
umask 022

# Until the first config arrives, start from minimal valid files.
[ -f "$config_dir/prometheus.yml" ] || printf 'global:\\n  scrape_interval: 15s\\n' > "$config_dir/prometheus.yml"
[ -f "$config_dir/alertmanager.yml" ] || printf 'route:\\n  receiver: "null"\\nreceivers:\\n  - name: "null"\\n' > "$config_dir/alertmanager.yml"

docker rm -f prometheus alertmanager grafana >/dev/null 2>&1 || true
log_opts=(--log-driver awslogs --log-opt awslogs-region="$region" --log-opt awslogs-create-group=false --log-opt tag='{{.Name}}/{{.ID}}')

docker run -d --name prometheus --restart unless-stopped --net host \\
    --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges --read-only \\
    --volume "$config_dir:/etc/prometheus:ro" --volume "$data_dir/prometheus:/prometheus" \\
    "\${log_opts[@]}" --log-opt awslogs-group=${q(input.prometheusLogGroup, "prometheusLogGroup")} \\
    ${q(images.prometheus, "prometheus image")} \\
    --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \\
    --storage.tsdb.retention.time=${input.prometheusRetentionDays}d --storage.tsdb.retention.size=${prometheusRetentionSize(input.prometheusVolumeGiB)}

docker run -d --name alertmanager --restart unless-stopped --net host \\
    --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges --read-only \\
    --volume "$config_dir:/etc/alertmanager:ro" --volume "$data_dir/alertmanager:/alertmanager" \\
    "\${log_opts[@]}" --log-opt awslogs-group=${q(input.platformLogGroup, "platformLogGroup")} \\
    ${q(images.alertmanager, "alertmanager image")} \\
    --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager --cluster.listen-address=

docker run -d --name grafana --restart unless-stopped --net host \\
    --user 472:0 --cap-drop ALL --security-opt no-new-privileges \\
    --volume "$data_dir/grafana:/var/lib/grafana" --volume "$secret_file:/run/secrets/admin-password:ro" \\
    --volume "$config_dir/grafana:${GRAFANA_PROVISIONING_DIR}:ro" \\
    --env GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/admin-password \\
    --env GF_USERS_ALLOW_SIGN_UP=false --env GF_AUTH_ANONYMOUS_ENABLED=false --env GF_ANALYTICS_REPORTING_ENABLED=false \\
    "\${log_opts[@]}" --log-opt awslogs-group=${q(input.grafanaLogGroup, "grafanaLogGroup")} \\
    ${q(images.grafana, "grafana image")}
`;
}

export function renderMonitoringHostUserData(input: MonitoringHostUserDataInput): string {
    return cloudConfig({
        package_update: true,
        // Boot patched: the AMI is current at launch, packages are brought current at first boot.
        package_upgrade: true,
        packages: ["docker"],
        ...bootService({ name: MONITORING_BOOT_SERVICE, description: "Mount the data volume and start Prometheus, Alertmanager and Grafana", script: renderMonitoringHostScript(input), region: input.region, hostName: input.hostName }),
    });
}

export interface ShippedMonitoringConfig {
    prometheusYml: string;
    alertRulesYml: string;
    recordingRulesYml: string;
    alertmanagerYml: string;
    /**
     * Grafana's provisioning files (grafanaProvisioning = file), relative to its provisioning directory.
     * Absent (provider): the directory is emptied, so only one mechanism ever gives Grafana its dashboard.
     */
    grafanaProvisioning?: GrafanaProvisioningFiles;
}

/** Subdirectories Grafana expects under its provisioning directory (an absent one is logged as an error). */
const GRAFANA_PROVISIONING_SUBDIRS = ["datasources", "dashboards", "plugins", "alerting"];

/** The shipped files, relative to the config directory (mounted at /etc/prometheus and /etc/alertmanager). */
const SHIPPED_FILES = ["prometheus.yml", "rules/alert_rules.yml", "rules/recording_rules.yml", "alertmanager.yml"] as const;

/**
 * The script the SSM document runs on the monitoring host: stages the rendered configs
 * (base64, so no quoting problems), validates them with the running containers' own
 * promtool and amtool, and only then swaps them in and reloads Prometheus and
 * Alertmanager — a bad config never replaces a good one. Configs are not secret.
 * `configDir` is for tests; the host uses MONITORING_CONFIG_DIR.
 */
export function renderConfigShippingScript(files: ShippedMonitoringConfig, configDir: string = MONITORING_CONFIG_DIR): string {
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    const contents = [files.prometheusYml, files.alertRulesYml, files.recordingRulesYml, files.alertmanagerYml];
    const stage = SHIPPED_FILES.map((f, i) => `stage ${f} ${q(b64(contents[i]), f)}`).join("\n");
    const grafanaFiles = Object.entries(files.grafanaProvisioning ?? {});
    for (const [f] of grafanaFiles) {
        if (!/^[a-z]+(\/[a-z]+)*\/[a-z0-9-]+\.(yaml|json)$/.test(f) || !GRAFANA_PROVISIONING_SUBDIRS.includes(f.split("/")[0])) {
            throw new Error(`Grafana provisioning file ${JSON.stringify(f)}: a path under ${GRAFANA_PROVISIONING_SUBDIRS.join(", ")} ending .yaml or .json`);
        }
    }
    const stageGrafana = grafanaFiles.map(([f, content]) => `stage ${q(`grafana/${f}`, f)} ${q(b64(content), f)}`).join("\n");
    return `#!/bin/bash
set -euo pipefail
config_dir=${q(configDir, "config dir")}
staging="$config_dir/.staging"
rm -rf "$staging"
install -d -m 0755 "$config_dir" "$config_dir/rules" "$staging" "$staging/rules"
stage() { install -d -m 0755 "$(dirname "$staging/$1")"; printf '%s' "$2" | base64 -d > "$staging/$1"; chmod 0644 "$staging/$1"; }
${stage}
${stageGrafana}
running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = "true" ]; }
# Before the first boot finishes the containers are not up yet: they start from these files.
if running prometheus; then
    docker exec prometheus promtool check config --syntax-only /etc/prometheus/.staging/prometheus.yml
    docker exec prometheus promtool check rules /etc/prometheus/.staging/rules/alert_rules.yml /etc/prometheus/.staging/rules/recording_rules.yml
fi
if running alertmanager; then
    docker exec alertmanager amtool check-config /etc/alertmanager/.staging/alertmanager.yml
fi
for f in ${SHIPPED_FILES.join(" ")}; do
    mv -f "$staging/$f" "$config_dir/$f"
done
# Grafana's provisioning directory is bind-mounted into its container: its contents are replaced,
# never the directory itself, and only when they differ (a rescan never sees it half-written twice
# an hour). Datasources are read only at start-up: a changed one restarts Grafana (dashboards are
# rescanned every 30 s).
grafana_dir="$config_dir/grafana"
datasources_sum() { { cat "$grafana_dir"/datasources/* 2>/dev/null || true; } | sha256sum; }
install -d -m 0755 "$grafana_dir" ${GRAFANA_PROVISIONING_SUBDIRS.map((d) => `"$staging/grafana/${d}"`).join(" ")}
if ! diff -r -q "$staging/grafana" "$grafana_dir" >/dev/null 2>&1; then
    datasources_before="$(datasources_sum)"
    find "$grafana_dir" -mindepth 1 -delete
    cp -R "$staging/grafana/." "$grafana_dir/"
    if [ "$(datasources_sum)" != "$datasources_before" ] && running grafana; then
        docker restart grafana >/dev/null
    fi
fi
rm -rf "$staging"
# Reload by signal: Prometheus and Alertmanager re-read their config on SIGHUP, so neither needs its
# HTTP lifecycle API (--web.enable-lifecycle would let anyone who reaches 9090 call /-/quit).
if running prometheus; then docker kill --signal SIGHUP prometheus; fi
if running alertmanager; then docker kill --signal SIGHUP alertmanager; fi
echo "monitoring config shipped"
`;
}
