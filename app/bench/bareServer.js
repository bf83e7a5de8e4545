// The baseline: bare node:http answering GET / with the same JSON bytes as the app, and nothing else.
const http = require("node:http");
const body = JSON.stringify({ service: "devsecops-app", version: "dev", message: "Hello from the observed app" });
http.createServer((req, res) => {
    res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    });
    res.end(body);
}).listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("listening\n"));
