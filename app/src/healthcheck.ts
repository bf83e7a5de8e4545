// The image's HEALTHCHECK: a Node script, because the distroless runtime has no shell or curl.
import * as http from "node:http";

const port = Number(process.env.PORT ?? 3000);
const req = http.get({ host: "127.0.0.1", port, path: "/health", timeout: 2000 }, (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", () => process.exit(1));
