import * as http from "node:http";
import { Writable } from "node:stream";

/** The app tests' HTTP client and log sink: one request to 127.0.0.1, and the JSON lines pino wrote. */

export interface Reply {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

/** One request to the app on 127.0.0.1, bounded in time (5 s unless `timeoutMs`). */
export function request(port: number, method: string, urlPath: string, opts: { headers?: Record<string, string>; body?: string; agent?: http.Agent; timeoutMs?: number } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers: opts.headers, agent: opts.agent, timeout: opts.timeoutMs ?? 5000 }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        });
        req.on("timeout", () => req.destroy(new Error("request timed out")));
        req.on("error", reject);
        req.end(opts.body);
    });
}

/** A pino destination that keeps every line, parsed. */
export class LogLines extends Writable {
    readonly lines: Record<string, unknown>[] = [];
    _write(chunk: Buffer, _enc: string, done: () => void): void {
        for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) this.lines.push(JSON.parse(line));
        done();
    }
}
