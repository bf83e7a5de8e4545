import YAML from "yaml";

/**
 * What both hosts' scripts are built from: a cloud-config document and bash quoting for
 * the identifiers (ARNs, digests, log groups) that are the only values these scripts carry.
 */

const SHELL_SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/;

/** Quotes a value for bash; identifiers only ever reach these scripts. */
export function shellQuote(value: string, what: string): string {
    if (!SHELL_SAFE.test(value)) throw new Error(`${what} = ${JSON.stringify(value)}: only letters, digits and @%+=:,./_- are allowed in host scripts`);
    return `'${value}'`;
}

export function cloudConfig(doc: Record<string, unknown>): string {
    return `#cloud-config\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}

/** CloudWatch namespace and metric a host publishes when its boot service gave up. */
export const BOOT_FAILURE_METRIC = { namespace: "DevSecOps/Hosts", metricName: "BootFailed", dimension: "Host" } as const;

export interface BootServiceInput {
    /** systemd unit name without `.service`, e.g. devsecops-app. */
    name: string;
    /** The stack-prefixed host name (e.g. devsecops-prod-app): BootFailed's Host dimension, unique per stack. */
    hostName: string;
    description: string;
    /** The boot script (bash). */
    script: string;
    region: string;
}

/**
 * A host's boot work as a systemd oneshot unit instead of a one-shot cloud-init script: it runs at
 * every boot, retries on failure (a throttled API call or IAM still propagating does not leave the
 * host empty), and when its retries are spent a failure unit logs an error line and publishes
 * BootFailed for the host's alarm. Restart=on-failure on Type=oneshot needs systemd ≥ 245
 * (systemd/systemd#7474); Amazon Linux 2023 ships 252. Returns the cloud-config keys
 * (write_files, runcmd) that install and start the unit.
 */
export function bootService(input: BootServiceInput): { write_files: Record<string, string>[]; runcmd: string[] } {
    const unit = `${input.name}.service`;
    const scriptPath = `/usr/local/sbin/${input.name}.sh`;
    const failedPath = `/usr/local/sbin/${input.name}-failed.sh`;
    const service = `[Unit]
Description=${input.description}
Wants=network-online.target docker.service
After=network-online.target docker.service
# Six tries, 30 s apart, then the failure unit reports it.
StartLimitIntervalSec=1h
StartLimitBurst=6
OnFailure=${input.name}-failed.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/bash ${scriptPath}
Restart=on-failure
RestartSec=30

[Install]
WantedBy=multi-user.target
`;
    const failedService = `[Unit]
Description=Report that ${unit} failed at boot

[Service]
Type=oneshot
ExecStart=/bin/bash ${failedPath}
`;
    const failedScript = `#!/bin/bash
# Runs when ${unit} gave up: an error line in the journal (and the host's log group) and a metric the alarm watches.
set -uo pipefail
echo "${unit} failed after its retries on $(cat /var/lib/cloud/data/instance-id 2>/dev/null || hostname): see journalctl -u ${unit}" | systemd-cat -t ${input.name} -p err
# Dimension Host=<host name>, not the instance id: the alarm must outlive every replacement of the host.
aws cloudwatch put-metric-data --region ${shellQuote(input.region, "region")} --namespace ${BOOT_FAILURE_METRIC.namespace} \\
    --metric-name ${BOOT_FAILURE_METRIC.metricName} --dimensions ${shellQuote(`${BOOT_FAILURE_METRIC.dimension}=${input.hostName}`, "host name")} --value 1
`;
    return {
        write_files: [
            { path: scriptPath, permissions: "0700", owner: "root:root", content: input.script },
            { path: failedPath, permissions: "0700", owner: "root:root", content: failedScript },
            { path: `/etc/systemd/system/${unit}`, permissions: "0644", owner: "root:root", content: service },
            { path: `/etc/systemd/system/${input.name}-failed.service`, permissions: "0644", owner: "root:root", content: failedService },
        ],
        // --no-block: cloud-init's own stage must not wait for the unit (which waits for docker).
        runcmd: ["systemctl daemon-reload", `systemctl enable --now --no-block ${unit}`],
    };
}

