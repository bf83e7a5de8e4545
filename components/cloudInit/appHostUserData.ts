import { bootService, cloudConfig, shellQuote as q } from "./cloudConfig";
import { ecrLogins, requireDigest } from "./imagePulls";

/**
 * The app host's cloud-init user data, a pure function: tests run `cloud-init schema` and
 * `shellcheck` on its output. It carries identifiers only (image digest, secret ARNs, log
 * groups); secret values are read at boot by the instance role and never appear here.
 */

/** The app host's boot unit (cloudConfig.ts bootService); its BootFailed alarm is keyed by it. */
export const APP_BOOT_SERVICE = "devsecops-app";

/** The app container's numeric non-root user (the image's USER). */
export const APP_CONTAINER_USER = "65532:65532";
/**
 * Seconds docker waits after SIGTERM before SIGKILL (docker run --stop-timeout; also what dockerd
 * gives the container when the host shuts down). Longer than the app's drain bound
 * (SHUTDOWN_DRAIN_MS, 8 s), so a clean exit never races the kill; docs/hosts.md has the sequence.
 */
export const APP_STOP_TIMEOUT_SECONDS = 15;
/**
 * awslogs in non-blocking mode with this buffer: if CloudWatch Logs slows down, lines beyond it are
 * dropped instead of blocking the container's stdout (Docker, "Configure logging drivers": mode,
 * max-buffer-size). Availability over log completeness; the app counts its own drops too.
 */
export const LOG_DRIVER_BUFFER = "4m";

export interface AppHostUserDataInput {
    region: string;
    /** The stack-prefixed host name: the BootFailed metric's Host dimension. */
    hostName: string;
    /** repository@sha256:… — pulled by digest, never by a mutable tag. */
    imageRef: string;
    appVersion: string;
    /** Env var name → Secrets Manager ARN; values are fetched at boot into a root-only env file. */
    secretArns: Record<string, string>;
    appLogGroup: string;
    platformLogGroup: string;
    /** FAULT_INJECTION for the alert drill; off unless asked. */
    faultInjection?: boolean;
    /** node_exporter by digest: the stack's mirror of HOST_IMAGES.nodeExporter (HostImageMirror). */
    nodeExporterImage: string;
}

/** Derives env var names from secret short names: app-session-key → APP_SESSION_KEY. */
export function secretEnvName(shortName: string): string {
    return shortName.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

export function renderAppHostScript(input: AppHostUserDataInput): string {
    const secrets = Object.entries(input.secretArns).map(([name, arn]) => {
        if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`secret env name = ${JSON.stringify(name)}: upper-case letters, digits and _`);
        return `fetch_secret ${q(name, "secret env name")} ${q(arn, "secret ARN")}`;
    });
    const image = requireDigest("imageRef", input.imageRef);
    const nodeExporterImage = requireDigest("nodeExporterImage", input.nodeExporterImage);
    return `#!/bin/bash
# Starts the app container and node_exporter. Runs at every boot (a systemd unit that retries) so a
# reboot refreshes secrets and the ECR login.
set -euo pipefail

region=${q(input.region, "region")}
image=${q(image, "imageRef")}
app_version=${q(input.appVersion, "appVersion")}
app_log_group=${q(input.appLogGroup, "appLogGroup")}
platform_log_group=${q(input.platformLogGroup, "platformLogGroup")}
node_exporter_image=${q(nodeExporterImage, "nodeExporterImage")}
env_file=/etc/devsecops/app.env

systemctl enable --now docker

${ecrLogins("region", [image, nodeExporterImage])}

# Secret values go only into a root-only file that docker reads; never into this script or its logs.
install -d -m 0700 -o root -g root /etc/devsecops
umask 077
tmp_env="$(mktemp /etc/devsecops/app.env.XXXXXX)"
fetch_secret() {
    local name="$1" arn="$2" value
    value="$(aws secretsmanager get-secret-value --region "$region" --secret-id "$arn" --query SecretString --output text)"
    printf '%s=%s\\n' "$name" "$value" >> "$tmp_env"
}
${secrets.join("\n")}
mv -f "$tmp_env" "$env_file"

docker pull "$image"
docker rm -f app node-exporter >/dev/null 2>&1 || true

docker run -d --name app \\
    --restart unless-stopped --stop-timeout ${APP_STOP_TIMEOUT_SECONDS} \\
    --read-only --tmpfs /tmp:rw,noexec,nosuid,size=16m \\
    --user ${APP_CONTAINER_USER} --cap-drop ALL --security-opt no-new-privileges \\
    --publish 3000:3000 \\
    --env-file "$env_file" \\
    --env APP_VERSION="$app_version" --env GIT_COMMIT="$app_version" --env FAULT_INJECTION=${input.faultInjection ? "true" : "false"} \\
    --log-driver awslogs \\
    --log-opt awslogs-region="$region" \\
    --log-opt awslogs-group="$app_log_group" \\
    --log-opt awslogs-create-group=false \\
    --log-opt mode=non-blocking --log-opt max-buffer-size=${LOG_DRIVER_BUFFER} \\
    --log-opt tag='{{.Name}}/{{.ID}}' \\
    "$image"

docker run -d --name node-exporter \\
    --restart unless-stopped \\
    --read-only --net host --pid host \\
    --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges \\
    --volume /:/host:ro,rslave \\
    --log-driver awslogs \\
    --log-opt awslogs-region="$region" \\
    --log-opt awslogs-group="$platform_log_group" \\
    --log-opt awslogs-create-group=false \\
    --log-opt mode=non-blocking --log-opt max-buffer-size=${LOG_DRIVER_BUFFER} \\
    --log-opt tag='{{.Name}}/{{.ID}}' \\
    "$node_exporter_image" --path.rootfs=/host
`;
}

export function renderAppHostUserData(input: AppHostUserDataInput): string {
    return cloudConfig({
        package_update: true,
        // Boot patched: the AMI is current at launch, packages are brought current at first boot.
        package_upgrade: true,
        packages: ["docker"],
        ...bootService({ name: APP_BOOT_SERVICE, description: "Start the app container and node_exporter", script: renderAppHostScript(input), region: input.region, hostName: input.hostName }),
    });
}

