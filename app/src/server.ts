import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import * as http from "node:http";
import pino from "pino";
import { AppSettings } from "./settings";
import { BufferedLineWriter } from "./lineWriter";
import { createMetrics, RequestMetrics } from "./metrics";

/** Methods kept as label values; anything else is counted as OTHER so clients cannot grow the series. */
const METHOD_LABELS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"];
const METHOD_INDEX = new Map(METHOD_LABELS.slice(0, -1).map((m, i) => [m, i]));
const OTHER_METHOD = METHOD_LABELS.length - 1;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DRAIN_LIMIT_MS = 10_000;
/** Generated request ids: a random per-process prefix and a counter, unique and cheap (no UUID per request). */
const ID_PREFIX = randomBytes(6).toString("hex");

/** Records one finished request: counter, histogram and log line, with the labels resolved once. */
interface Recorder {
    record(ms: number, requestId: string): void;
}

/**
 * The recorders of one route label, one per (method, status) met so far. Labels are bounded
 * (eight methods, a handful of statuses), so this cache is too; it spares the hot path the
 * label hashing and serialisation that prom-client and pino would otherwise do per request.
 */
class RouteRecorders {
    private readonly byKey = new Map<number, Recorder>();

    constructor(
        private readonly route: string,
        private readonly metrics: RequestMetrics | undefined,
        private readonly logger: pino.Logger,
    ) {}

    get(methodIndex: number, status: number): Recorder {
        const key = status * 16 + methodIndex;
        let recorder = this.byKey.get(key);
        if (recorder === undefined) {
            recorder = this.create(METHOD_LABELS[methodIndex], status);
            this.byKey.set(key, recorder);
        }
        return recorder;
    }

    private create(method: string, status: number): Recorder {
        // A pino child serialises its bindings once; each line then only adds duration and id.
        const log = this.logger.child({ method, route: this.route, status });
        const series = this.metrics?.series(method, this.route, status);
        return {
            record(ms, requestId) {
                series?.observe(ms / 1000);
                log.info({ duration_ms: Math.round(ms * 1000) / 1000, request_id: requestId }, "request");
            },
        };
    }
}

interface Route {
    /** Methods this route answers; HEAD is implied by GET. */
    allowed: Set<string>;
    /** The `Allow` header of a 405. */
    allow: string;
    recorders: RouteRecorders;
    handle(req: http.IncomingMessage, res: http.ServerResponse, requestId: string, body: string): void;
}

/** The client's `x-request-id` when sane. Reads rawHeaders: touching `req.headers` would build the whole header object. */
function clientRequestId(rawHeaders: string[]): string | undefined {
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i];
        if (name.length === 12 && name.toLowerCase() === "x-request-id") {
            const value = rawHeaders[i + 1];
            return REQUEST_ID.test(value) ? value : undefined;
        }
    }
    return undefined;
}

/** The decoded path without the query; undefined when the URL is malformed. */
function requestPath(url: string): string | undefined {
    const query = url.indexOf("?");
    const raw = query < 0 ? url : url.slice(0, query);
    if (!raw.includes("%")) return raw;
    try {
        return decodeURIComponent(raw);
    } catch {
        return undefined;
    }
}

/** pino's ISO time, formatted once per millisecond instead of once per line. */
function cachedIsoTime(): () => string {
    let lastMs = -1;
    let lastText = "";
    return () => {
        const now = Date.now();
        if (now !== lastMs) {
            lastMs = now;
            lastText = `,"time":"${new Date(now).toISOString()}"`;
        }
        return lastText;
    };
}

/** Spreads `errorsPer100` failures evenly over every 100 requests (deterministic, unlike Math.random). */
export class FaultInjector {
    private count = 0;
    private errorsPer100 = 0;

    constructor(ratio: number) {
        this.ratio = ratio;
    }

    get ratio(): number {
        return this.errorsPer100 / 100;
    }

    set ratio(value: number) {
        this.errorsPer100 = Math.round(value * 100);
    }

    /** True when this request must fail. */
    next(): boolean {
        const n = this.count;
        this.count = (n + 1) % 100;
        return Math.floor(((n + 1) * this.errorsPer100) / 100) > Math.floor((n * this.errorsPer100) / 100);
    }
}

export interface App {
    server: http.Server;
    logger: pino.Logger;
    fault?: FaultInjector;
    /** Stops accepting, drains in-flight requests for at most 10 s, flushes logs. */
    shutdown(): Promise<void>;
}

/** Response headers as a flat [name, value, …] list with the request id last (writeHead's fast path takes lists). */
function jsonHeaders(text: string, requestId: string, extra: string[] = []): string[] {
    return [
        "content-type", "application/json; charset=utf-8",
        "content-length", String(Buffer.byteLength(text)),
        "cache-control", "no-store",
        "x-content-type-options", "nosniff",
        ...extra,
        "x-request-id", requestId,
    ];
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, requestId: string, extra?: string[]): void {
    const text = JSON.stringify(body);
    res.writeHead(status, jsonHeaders(text, requestId, extra));
    res.end(text);
}

/** A fixed JSON answer with its headers built once (the hot endpoints). */
function fixedJson(body: unknown): (res: http.ServerResponse, requestId: string) => void {
    const text = JSON.stringify(body);
    // One list for every answer: writeHead serialises it at once and keeps no reference, so only the id slot changes.
    const headers = jsonHeaders(text, "");
    const idSlot = headers.length - 1;
    return (res, requestId) => {
        headers[idSlot] = requestId;
        res.writeHead(200, headers);
        res.end(text);
    };
}

/** `destination` defaults to buffered stdout; tests pass a stream they read. */
export function createApp(settings: AppSettings, destination: pino.DestinationStream = new BufferedLineWriter(1)): App {
    const logger = pino({ level: settings.logLevel, base: undefined, timestamp: cachedIsoTime() }, destination);
    const metrics = createMetrics({ version: settings.version, commit: settings.commit });
    const fault = settings.faultInjection ? new FaultInjector(settings.faultErrorRatio) : undefined;
    const sendHome = fixedJson({ service: "devsecops-app", version: settings.version, message: "Hello from the observed app" });
    const sendHealth = fixedJson({ status: "ok", version: settings.version });
    let requestCount = 0;

    const routes = new Map<string, Route>();
    const addRoute = (path: string, methods: string[], handle: Route["handle"], counted = true) => {
        const allowed = methods.includes("GET") ? [...methods, "HEAD"] : methods;
        routes.set(path, { allowed: new Set(allowed), allow: allowed.join(", "), recorders: new RouteRecorders(path, counted ? metrics : undefined, logger), handle });
    };
    const unmatched = new RouteRecorders("unmatched", metrics, logger);

    addRoute("/", ["GET"], (_req, res, requestId) => {
        if (fault?.next()) sendJson(res, 503, { error: "injected fault (alert drill)" }, requestId);
        else sendHome(res, requestId);
    });
    addRoute("/health", ["GET"], (_req, res, requestId) => sendHealth(res, requestId));
    // /metrics is logged but not counted: scrapes would dilute the error ratio and the request rate.
    addRoute(
        "/metrics",
        ["GET"],
        (_req, res, requestId) => {
            metrics.registry.metrics().then(
                (text) => {
                    res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store", "x-request-id": requestId });
                    res.end(text);
                },
                (err: Error) => {
                    logger.error({ err: err.message }, "metrics collection failed");
                    sendJson(res, 500, { error: "metrics unavailable" }, requestId);
                },
            );
        },
        false,
    );
    if (fault) {
        addRoute("/fault", ["GET", "PUT"], (req, res, requestId, body) => {
            if (req.method === "PUT") {
                let ratio: unknown;
                try {
                    ratio = JSON.parse(body).errorRatio;
                } catch {
                    ratio = undefined;
                }
                if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1)) {
                    return sendJson(res, 400, { error: 'body must be JSON {"errorRatio": <number from 0 to 1>}' }, requestId);
                }
                fault.ratio = ratio;
                logger.warn({ errorRatio: fault.ratio }, "fault injection ratio changed");
            }
            sendJson(res, 200, { errorRatio: fault.ratio }, requestId);
        });
    }

    const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
        const start = performance.now();
        const method = req.method!;
        const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD;
        const requestId = clientRequestId(req.rawHeaders) ?? `${ID_PREFIX}-${(++requestCount).toString(36)}`;
        const path = requestPath(req.url!);
        const route = path === undefined ? undefined : routes.get(path);
        const recorders = route === undefined ? unmatched : route.recorders;
        res.on("finish", () => recorders.get(methodIndex, res.statusCode).record(performance.now() - start, requestId));

        if (path === undefined) return sendJson(res, 400, { error: "malformed URL" }, requestId);
        if (route === undefined) return sendJson(res, 404, { error: "not found" }, requestId);
        if (!route.allowed.has(method)) return sendJson(res, 405, { error: "method not allowed" }, requestId, ["allow", route.allow]);
        if (method === "PUT") {
            const chunks: Buffer[] = [];
            let size = 0;
            req.on("data", (c: Buffer) => {
                size += c.length;
                if (size <= 4096) chunks.push(c);
            });
            req.on("end", () => (size > 4096 ? sendJson(res, 413, { error: "body too large" }, requestId) : route.handle(req, res, requestId, Buffer.concat(chunks).toString("utf8"))));
            return;
        }
        route.handle(req, res, requestId, "");
    });
    // Longer than a load balancer's idle timeout, so the balancer closes first.
    server.keepAliveTimeout = 65_000;
    server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
        // Oversized headers and garbage get a status line and a closed socket, never a crash.
        if (socket.writable) {
            const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
            socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        } else {
            socket.destroy();
        }
    });

    // Buffered logs reach stdout within a second even when traffic is low.
    const flushTimer = setInterval(() => logger.flush(), 1000);
    flushTimer.unref();

    return {
        server,
        logger,
        fault,
        shutdown() {
            clearInterval(flushTimer);
            return new Promise<void>((resolve) => {
                const force = setTimeout(() => server.closeAllConnections(), DRAIN_LIMIT_MS);
                force.unref();
                server.close(() => {
                    clearTimeout(force);
                    logger.flush();
                    resolve();
                });
                server.closeIdleConnections();
            });
        },
    };
}
