import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import pino from "pino";
import { AppSettings } from "./settings";
import { createMetrics, RequestMetrics } from "./metrics";

/** Methods kept as label values; anything else is counted as OTHER so clients cannot grow the series. */
const METHOD_LABELS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"];
const METHOD_INDEX = new Map(METHOD_LABELS.slice(0, -1).map((m, i) => [m, i]));
const OTHER_METHOD = METHOD_LABELS.length - 1;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The shutdown sequence (docs/hosts.md, "Stopping an app host"): by SIGTERM the load balancer has
 * already drained the host; what still arrives is answered with `Connection: close`. Idle
 * keep-alive connections get IDLE_GRACE_MS for a request already on its way, then close; at
 * SHUTDOWN_DRAIN_MS whatever is still open is answered (503, or 408 mid-headers) and closed.
 * The container's stop timeout (APP_STOP_TIMEOUT_SECONDS in the host's user data) is longer.
 */
export const SHUTDOWN_DRAIN_MS = 8_000;
const IDLE_GRACE_MS = 1_000;
/** How long after the drain bound a socket that would not close gets before it is destroyed. */
const CUT_GRACE_MS = 250;
/**
 * Unanswered requests one connection may have queued. Nothing legitimate pipelines (browsers,
 * the ALB and Prometheus do not); a client that queues more is closed instead of growing memory.
 */
export const MAX_UNANSWERED_PER_CONNECTION = 32;
/**
 * Bounds on held connections (slowloris): a connection must finish its headers within 10 s and its
 * request within 30 s (checked every second), and at most 8,192 are open at once — about 0.5 GiB of
 * socket and parser buffers at worst, inside a t3.small's 2 GiB beside node_exporter.
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_CONNECTIONS = 8_192;
const LOG_BUFFER_MAX_BYTES = 1024 * 1024;
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
    metrics: RequestMetrics;
    fault?: FaultInjector;
    /** Stops accepting, drains in-flight requests for at most SHUTDOWN_DRAIN_MS, flushes logs. */
    shutdown(): Promise<void>;
}

/** What the server knows about one client connection. */
interface Connection {
    /** Requests received and not yet answered. */
    unanswered: number;
    /** The latest request and its response. */
    req?: http.IncomingMessage;
    res?: http.ServerResponse;
    requestId?: string;
    /** socket.bytesRead when the last request was answered: more since then is a request in progress. */
    bytesReadWhenAnswered: number;
    closing: boolean;
}

/**
 * stdout through pino's own destination (sonic-boom), asynchronous and bounded: when the reader
 * (Docker's log driver) stalls, lines beyond LOG_BUFFER_MAX_BYTES are dropped and counted rather
 * than blocking every request — availability over log completeness (docs/hosts.md, "Logs").
 */
export function stdoutDestination(onDrop: () => void): pino.DestinationStream & { flushSync(): void; flush(cb?: (err?: Error) => void): void } {
    const destination = pino.destination({ dest: 1, sync: false, minLength: 4096, maxLength: LOG_BUFFER_MAX_BYTES, periodicFlush: 1000 });
    destination.on("drop", onDrop);
    return destination;
}

const STATUS_LINES: Record<number, string> = {
    400: "400 Bad Request",
    408: "408 Request Timeout",
    431: "431 Request Header Fields Too Large",
};

/** The status for a request the HTTP parser refused. */
function rejectionStatus(code: string | undefined): number {
    if (code === "HPE_HEADER_OVERFLOW") return 431;
    if (code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
    return 400;
}

/** `Authorization: Bearer <token>` checked in constant time (both sides hashed to the same length). */
function bearerCheck(token: string): (req: http.IncomingMessage) => 401 | 403 | undefined {
    const expected = createHash("sha256").update(token).digest();
    return (req) => {
        const match = /^Bearer ([\x21-\x7e]+)$/.exec(req.headers.authorization ?? "");
        if (match === null) return 401;
        return timingSafeEqual(createHash("sha256").update(match[1]).digest(), expected) ? undefined : 403;
    };
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

/** `destination` defaults to stdout (stdoutDestination); tests pass a stream they read. */
export function createApp(settings: AppSettings, destination?: pino.DestinationStream): App {
    const metrics = createMetrics({ version: settings.version, commit: settings.commit });
    const logger = pino({ level: settings.logLevel, base: undefined, timestamp: cachedIsoTime() }, destination ?? stdoutDestination(() => metrics.logLinesDropped.inc()));
    if (settings.faultInjection && settings.faultInjectionToken === undefined) throw new Error("fault injection needs faultInjectionToken");
    const fault = settings.faultInjection ? new FaultInjector(settings.faultErrorRatio) : undefined;
    const sendHome = fixedJson({ service: "devsecops-app", version: settings.version, message: "Hello from the observed app" });
    const sendHealth = fixedJson({ status: "ok", version: settings.version });
    let requestCount = 0;
    const nextRequestId = () => `${ID_PREFIX}-${(++requestCount).toString(36)}`;

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
    // Scrapes that arrive together (one pipelined chunk, or many connections in one turn) share one collection.
    let collection: Promise<string> | undefined;
    const collect = () => (collection ??= metrics.registry.metrics().finally(() => (collection = undefined)));
    // /metrics is logged but not counted: scrapes would dilute the error ratio and the request rate.
    addRoute(
        "/metrics",
        ["GET"],
        (_req, res, requestId) => {
            collect().then(
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
        const check = bearerCheck(settings.faultInjectionToken!);
        addRoute("/fault", ["GET", "PUT"], (req, res, requestId, body) => {
            const refused = check(req);
            if (refused === 401) return sendJson(res, 401, { error: "fault injection needs Authorization: Bearer <token>" }, requestId, ["www-authenticate", 'Bearer realm="fault-injection"']);
            if (refused === 403) return sendJson(res, 403, { error: "token not accepted" }, requestId);
            if (req.method === "PUT") {
                if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? "")) {
                    return sendJson(res, 415, { error: "content-type must be application/json" }, requestId);
                }
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
                logger.warn({ errorRatio: fault.ratio, request_id: requestId, client: req.socket.remoteAddress }, "fault injection ratio changed");
            }
            sendJson(res, 200, { errorRatio: fault.ratio }, requestId);
        });
    }

    const connections = new Map<net.Socket, Connection>();
    let draining = false;

    /** A request the parser refused: counted and logged like any other, with why and from where. */
    const rejectedSeries = new Map<number, ReturnType<RequestMetrics["series"]>>();
    const recordRejected = (status: number, reason: string, socket: net.Socket) => {
        let series = rejectedSeries.get(status);
        if (series === undefined) rejectedSeries.set(status, (series = metrics.series(METHOD_LABELS[OTHER_METHOD], "rejected", status)));
        series.observe(0);
        logger.info({ method: METHOD_LABELS[OTHER_METHOD], route: "rejected", status, reason, client: socket.remoteAddress, request_id: nextRequestId() }, "request rejected");
    };
    const rejectRaw = (socket: net.Socket, status: number, reason: string) => {
        socket.end(`HTTP/1.1 ${STATUS_LINES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        recordRejected(status, reason, socket);
    };

    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse, expectationFailed = false) => {
        const start = performance.now();
        const socket = req.socket;
        const connection = connections.get(socket);
        if (connection !== undefined) {
            if (connection.closing) return;
            if (++connection.unanswered > MAX_UNANSWERED_PER_CONNECTION) {
                connection.closing = true;
                metrics.connectionsClosed.inc({ reason: "pipeline_limit" });
                logger.warn({ client: socket.remoteAddress, limit: MAX_UNANSWERED_PER_CONNECTION }, "connection closed: too many unanswered pipelined requests");
                socket.destroy();
                return;
            }
            connection.req = req;
            connection.res = res;
        }
        const method = req.method!;
        const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD;
        const requestId = clientRequestId(req.rawHeaders) ?? nextRequestId();
        if (connection !== undefined) connection.requestId = requestId;
        const path = requestPath(req.url!);
        const route = path === undefined ? undefined : routes.get(path);
        const recorders = route === undefined ? unmatched : route.recorders;
        res.on("finish", () => {
            if (connection !== undefined) {
                connection.unanswered--;
                connection.bytesReadWhenAnswered = socket.bytesRead;
            }
            recorders.get(methodIndex, res.statusCode).record(performance.now() - start, requestId);
        });
        // While draining every answer closes its connection: the client reconnects elsewhere.
        if (draining) res.setHeader("connection", "close");

        if (expectationFailed) return sendJson(res, 417, { error: "only Expect: 100-continue is supported" }, requestId);
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
    };

    const server = http.createServer(
        {
            maxHeaderSize: 16 * 1024,
            headersTimeout: HEADERS_TIMEOUT_MS,
            requestTimeout: REQUEST_TIMEOUT_MS,
            // Time-outs are enforced by this sweep: Node's default of 30 s would let a stuck client stay 40 s.
            connectionsCheckingInterval: 1000,
        },
        (req, res) => onRequest(req, res),
    );
    // Longer than a load balancer's idle timeout, so the balancer closes first.
    server.keepAliveTimeout = 65_000;
    server.maxConnections = MAX_CONNECTIONS;
    server.on("connection", (socket: net.Socket) => {
        connections.set(socket, { unanswered: 0, bytesReadWhenAnswered: 0, closing: false });
        socket.on("close", () => connections.delete(socket));
    });
    // Expect: other than 100-continue: answered (417) through the same counting and logging as any request.
    server.on("checkExpectation", (req: http.IncomingMessage, res: http.ServerResponse) => onRequest(req, res, true));
    server.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
        const connection = connections.get(socket);
        // A reset client is gone; a request already answered whose body then failed must not get a second status line.
        const answered = connection?.req !== undefined && !connection.req.complete && connection.res?.headersSent === true;
        if (!socket.writable || err.code === "ECONNRESET" || answered) {
            socket.destroy();
            return;
        }
        // Oversized headers, time-outs and garbage get a status line and a closed socket, never a crash.
        rejectRaw(socket, rejectionStatus(err.code), err.code ?? "parse error");
    });

    return {
        server,
        logger,
        metrics,
        fault,
        shutdown() {
            draining = true;
            return new Promise<void>((resolve) => {
                const timers: NodeJS.Timeout[] = [];
                const finish = () => {
                    timers.forEach(clearTimeout);
                    logger.flush(() => resolve());
                };
                // Idle connections are not closed at once (http.Server#close would): a request may be on its way.
                timers.push(setTimeout(() => {
                    // end() then destroy once written: the server allows half-open sockets, and a peer (or a proxy) may never close its side.
                    for (const [socket, c] of connections) if (c.unanswered === 0 && socket.bytesRead === c.bytesReadWhenAnswered) socket.end(() => socket.destroy());
                }, IDLE_GRACE_MS));
                // The bound: whatever is still open is answered and closed.
                timers.push(setTimeout(() => {
                    for (const [socket, c] of connections) {
                        c.closing = true;
                        if (c.unanswered > 0 && c.res !== undefined && !c.res.headersSent) sendJson(c.res, 503, { error: "shutting down" }, c.requestId!, ["connection", "close"]);
                        else if (c.unanswered === 0 && socket.bytesRead > c.bytesReadWhenAnswered && socket.writable) rejectRaw(socket, 408, "shutdown");
                        else socket.destroy();
                    }
                    timers.push(setTimeout(() => connections.forEach((_c, socket) => socket.destroy()), CUT_GRACE_MS));
                }, SHUTDOWN_DRAIN_MS));
                timers.forEach((t) => t.unref());
                if (!server.listening) return finish();
                // net.Server#close: stop accepting and call back once the last connection closed.
                net.Server.prototype.close.call(server, finish);
            });
        },
    };
}
