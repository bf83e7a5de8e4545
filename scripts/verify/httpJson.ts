/** JSON over HTTP with a time limit that also honours the check's abort signal. */

export class HttpStatusError extends Error {
    constructor(readonly url: string, readonly status: number, readonly body: string) {
        super(`${url} answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ""}`);
        this.name = "HttpStatusError";
    }
}

export interface HttpJsonOptions {
    method?: "GET" | "POST" | "PUT";
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs: number;
    signal?: AbortSignal;
}

export async function httpJson<T>(url: string, options: HttpJsonOptions): Promise<T> {
    const signals = [AbortSignal.timeout(options.timeoutMs)];
    if (options.signal) signals.push(options.signal);
    const response = await fetch(url, {
        method: options.method ?? "GET",
        headers: { accept: "application/json", ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.any(signals),
    });
    const text = await response.text();
    if (!response.ok) throw new HttpStatusError(url, response.status, text);
    try {
        return JSON.parse(text) as T;
    } catch {
        throw new Error(`${url} answered HTTP ${response.status} but not JSON: ${text.slice(0, 200)}`);
    }
}

export function joinUrl(base: string, path: string): string {
    return base.replace(/\/+$/, "") + path;
}
