import { Counter, Gauge, Metric, Registry, collectDefaultMetrics } from "prom-client";

/** Buckets from 5 ms to 10 s; 0.5 s is a bucket edge because the p95 > 500 ms alert reads it. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const REQUESTS = "http_requests_total";
const DURATION = "http_request_duration_seconds";

/**
 * The requests of one (method, route, status_code) combination, counted in plain fields.
 * prom-client's labelled inc()/observe() hash the labels on every call (measured here: ~2 µs a
 * request inside the server, more than everything else the app adds); these fields cost a few
 * nanoseconds and prom-client reads them when /metrics is scraped.
 */
export class RequestSeries {
    count = 0;
    sum = 0;
    /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
    readonly perBucket = new Float64Array(LATENCY_BUCKETS.length + 1);
    /** How much of `count` the prom-client counter has been given already. */
    countedInCounter = 0;

    constructor(readonly labels: { method: string; route: string; status_code: string }) {}

    observe(seconds: number): void {
        this.count++;
        this.sum += seconds;
        let i = 0;
        while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
        this.perBucket[i]++;
    }
}

/**
 * prom-client's default gauges named like counters: `promtool check metrics` rejects a gauge
 * ending in _total. Their unsuffixed twins (nodejs_active_handles, …_requests, …_resources)
 * carry the same totals broken down by type, so nothing is lost.
 */
const GAUGES_NAMED_AS_COUNTERS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

export interface RequestMetrics {
    registry: Registry;
    /** The series of one label combination; callers cache it (labels are bounded). */
    series(method: string, route: string, status: number): RequestSeries;
    /** Log lines dropped because stdout's reader fell behind (see server.ts, logDestination). */
    logLinesDropped: Counter<string>;
    /** Connections the app closed itself, by reason (pipelining abuse). */
    connectionsClosed: Counter<"reason">;
}

/**
 * http_request_duration_seconds as a metric of the prom-client registry: prom-client formats
 * and serves it through the same `get()` its own Histogram answers with; the counts come from
 * the RequestSeries.
 */
function durationHistogram(all: RequestSeries[]) {
    return {
        name: DURATION,
        help: "HTTP request duration in seconds, by method, route template and status code.",
        type: "histogram",
        aggregator: "sum",
        async get() {
            const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
            for (const s of all) {
                let cumulative = 0;
                LATENCY_BUCKETS.forEach((le, i) => {
                    cumulative += s.perBucket[i];
                    values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${DURATION}_bucket` });
                });
                values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${DURATION}_bucket` });
                values.push({ labels: s.labels, value: s.sum, metricName: `${DURATION}_sum` });
                values.push({ labels: s.labels, value: s.count, metricName: `${DURATION}_count` });
            }
            return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
        },
    };
}

export function createMetrics(build: { version: string; commit: string }): RequestMetrics {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    for (const name of GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);
    const all: RequestSeries[] = [];
    new Counter({
        name: REQUESTS,
        help: "HTTP requests served, by method, route template and status code.",
        labelNames: ["method", "route", "status_code"],
        registers: [registry],
        // Runs at each scrape: hands the counter what the series counted since the last one.
        collect() {
            for (const s of all) {
                if (s.count > s.countedInCounter) this.inc(s.labels, s.count - s.countedInCounter);
                s.countedInCounter = s.count;
            }
        },
    });
    registry.registerMetric(durationHistogram(all) as unknown as Metric);
    new Gauge({ name: "app_build_info", help: "Build of the running app; always 1.", labelNames: ["version", "commit"], registers: [registry] })
        .labels(build.version, build.commit)
        .set(1);

    const logLinesDropped = new Counter({
        name: "app_log_lines_dropped_total",
        help: "Log lines dropped because stdout's reader (Docker's log driver) fell behind; availability over completeness.",
        registers: [registry],
    });
    const connectionsClosed = new Counter({
        name: "http_connections_closed_total",
        help: "Connections the app closed itself, by reason (pipeline_limit: too many unanswered pipelined requests).",
        labelNames: ["reason"],
        registers: [registry],
    });

    return {
        registry,
        logLinesDropped,
        connectionsClosed,
        series(method, route, status) {
            const s = new RequestSeries({ method, route, status_code: String(status) });
            all.push(s);
            return s;
        },
    };
}
