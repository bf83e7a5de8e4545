import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import * as http from "node:http";
import pino from "pino";
import { AppSettings } from "./settings";
import { createMetrics } from "./metrics";

/** Methods kept as label values; anything else is counted as OTHER so clients cannot grow the series. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DRAIN_LIMIT_MS = 10_000;
/** Generated request ids: a random per-process prefix and a counter, unique and cheap (no UUID per request). */
const ID_PREFIX = randomBytes(6).toString("hex");

interface Route {
    /** Methods this route answers; HEAD is implied by GET. */
    methods: string[];
    handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void;
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

function jsonHeaders(text: string, extraHeaders: Record<string, string> = {}): Record<string, string | number> {
    return {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...extraHeaders,
    };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, jsonHeaders(text, extraHeaders));
    res.end(text);
}

/** A fixed JSON answer with its headers built once (the hot endpoints). */
function fixedJson(body: unknown): (res: http.ServerResponse) => void {
    const text = JSON.stringify(body);
    const headers = jsonHeaders(text);
    return (res) => {
        res.writeHead(200, headers);
        res.end(text);
    };
}

export function createApp(settings: AppSettings, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true, minLength: 8192 })): App {
    const logger = pino({ level: settings.logLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination);
    const metrics = createMetrics({ version: settings.version, commit: settings.commit });
    const fault = settings.faultInjection ? new FaultInjector(settings.faultErrorRatio) : undefined;
    const sendHome = fixedJson({ service: "devsecops-app", version: settings.version, message: "Hello from the observed app" });
    const sendHealth = fixedJson({ status: "ok", version: settings.version });
    let requestCount = 0;

    const routes = new Map<string, Route>([
        ["/", {
            methods: ["GET"],
            handle: (_req, res) => {
                if (fault?.next()) sendJson(res, 503, { error: "injected fault (alert drill)" });
                else sendHome(res);
            },
        }],
        ["/health", { methods: ["GET"], handle: (_req, res) => sendHealth(res) }],
        ["/metrics", {
            methods: ["GET"],
            handle: (_req, res) => {
                metrics.registry.metrics().then(
                    (text) => {
                        res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
                        res.end(text);
                    },
                    (err: Error) => {
                        logger.error({ err: err.message }, "metrics collection failed");
                        sendJson(res, 500, { error: "metrics unavailable" });
                    },
                );
            },
        }],
    ]);
    if (fault) {
        routes.set("/fault", {
            methods: ["GET", "PUT"],
            handle: (req, res, body) => {
                if (req.method === "PUT") {
                    let ratio: unknown;
                    try {
                        ratio = JSON.parse(body).errorRatio;
                    } catch {
                        ratio = undefined;
                    }
                    if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1)) {
                        return sendJson(res, 400, { error: 'body must be JSON {"errorRatio": <number from 0 to 1>}' });
                    }
                    fault.ratio = ratio;
                    logger.warn({ errorRatio: fault.ratio }, "fault injection ratio changed");
                }
                sendJson(res, 200, { errorRatio: fault.ratio });
            },
        });
    }

    const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
        const start = performance.now();
        const method = KNOWN_METHODS.has(req.method ?? "") ? req.method! : "OTHER";
        const headerId = req.headers["x-request-id"];
        const requestId = typeof headerId === "string" && REQUEST_ID.test(headerId) ? headerId : `${ID_PREFIX}-${(++requestCount).toString(36)}`;
        res.setHeader("x-request-id", requestId);

        let routeLabel = "unmatched";
        let path: string | undefined;
        try {
            const url = req.url ?? "/";
            const query = url.indexOf("?");
            const raw = query < 0 ? url : url.slice(0, query);
            path = raw.includes("%") ? decodeURIComponent(raw) : raw;
        } catch {
            path = undefined;
        }
        const route = path === undefined ? undefined : routes.get(path);
        // /metrics is not counted: scrapes would dilute the error ratio and the request rate.
        const counted = path !== "/metrics";

        res.once("finish", () => {
            const seconds = (performance.now() - start) / 1000;
            if (counted) metrics.observe(method, routeLabel, res.statusCode, seconds);
            logger.info({ method, route: routeLabel, status: res.statusCode, duration_ms: Math.round(seconds * 1e6) / 1e3, request_id: requestId }, "request");
        });

        if (path === undefined) return sendJson(res, 400, { error: "malformed URL" });
        if (route === undefined) return sendJson(res, 404, { error: "not found" });
        routeLabel = path;
        const allowed = route.methods.includes("GET") ? [...route.methods, "HEAD"] : route.methods;
        if (!allowed.includes(req.method ?? "")) {
            return sendJson(res, 405, { error: "method not allowed" }, { allow: allowed.join(", ") });
        }
        if (req.method === "PUT") {
            const chunks: Buffer[] = [];
            let size = 0;
            req.on("data", (c: Buffer) => {
                size += c.length;
                if (size <= 4096) chunks.push(c);
            });
            req.on("end", () => (size > 4096 ? sendJson(res, 413, { error: "body too large" }) : route.handle(req, res, Buffer.concat(chunks).toString("utf8"))));
            return;
        }
        route.handle(req, res, "");
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
