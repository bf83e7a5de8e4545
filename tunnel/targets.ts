/**
 * What `npm run tunnel -- <target>` reaches: the monitoring host's three services, or one app host.
 * Pure data, shared by the stack's outputs (index.ts) and the tunnel command.
 */
export const TUNNEL_TARGETS = {
    grafana: { what: "Grafana", host: "monitoring", remotePort: 3000, localPort: 3000, path: "/" },
    prometheus: { what: "Prometheus", host: "monitoring", remotePort: 9090, localPort: 9090, path: "/" },
    alertmanager: { what: "Alertmanager", host: "monitoring", remotePort: 9093, localPort: 9093, path: "/" },
    // The app listens on 3000 too: locally it gets 8080, so Grafana's tunnel can stay open beside it.
    app: { what: "the app (one healthy host)", host: "app", remotePort: 3000, localPort: 8080, path: "/health" },
} as const;

export type TunnelTarget = keyof typeof TUNNEL_TARGETS;

export function isTunnelTarget(s: string): s is TunnelTarget {
    return Object.prototype.hasOwnProperty.call(TUNNEL_TARGETS, s);
}

/** The command an operator runs: what the stack's URL outputs say where no public URL exists. */
export function tunnelCommand(target: TunnelTarget, stack?: string): string {
    return `npm run tunnel -- ${target}${stack ? ` --stack ${stack}` : ""}`;
}
