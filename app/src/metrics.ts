import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Buckets from 5 ms to 10 s; 0.5 s is a bucket edge because the p95 > 500 ms alert reads it. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RequestMetrics {
    registry: Registry;
    /** Records one finished request; children are cached so the hot path does no label lookups. */
    observe(method: string, route: string, status: number, seconds: number): void;
}

export function createMetrics(build: { version: string; commit: string }): RequestMetrics {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const labelNames = ["method", "route", "status_code"] as const;
    const requests = new Counter({ name: "http_requests_total", help: "HTTP requests served, by method, route template and status code.", labelNames, registers: [registry] });
    const duration = new Histogram({
        name: "http_request_duration_seconds",
        help: "HTTP request duration in seconds, by method, route template and status code.",
        labelNames,
        buckets: LATENCY_BUCKETS,
        registers: [registry],
    });
    new Gauge({ name: "app_build_info", help: "Build of the running app; always 1.", labelNames: ["version", "commit"], registers: [registry] })
        .labels(build.version, build.commit)
        .set(1);

    // Labels are bounded (methods, route templates, status codes), so the cache is too.
    const children = new Map<string, { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }>();
    return {
        registry,
        observe(method, route, status, seconds) {
            const key = `${method} ${route} ${status}`;
            let child = children.get(key);
            if (child === undefined) {
                const labels = [method, route, String(status)];
                child = { count: requests.labels(...labels), time: duration.labels(...labels) };
                children.set(key, child);
            }
            child.count.inc();
            child.time.observe(seconds);
        },
    };
}
