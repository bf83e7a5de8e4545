import { createApp } from "./server";
import { readSettings, SettingsError } from "./settings";

/** A start-up failure: one line on stderr and exit 1, never a stack trace. */
function fail(message: string): never {
    process.stderr.write(`${message}\n`);
    process.exit(1);
}

let settings;
try {
    settings = readSettings(process.env);
} catch (e) {
    if (e instanceof SettingsError) fail(e.message);
    throw e;
}

const app = createApp(settings);
app.server.on("error", (err: NodeJS.ErrnoException) => {
    const where = `${settings.host}:${settings.port}`;
    if (err.code === "EADDRINUSE") fail(`cannot listen on ${where}: the port is already in use (PORT=${settings.port})`);
    if (err.code === "EADDRNOTAVAIL") fail(`cannot listen on ${where}: no such address on this host (HOST=${settings.host})`);
    if (err.code === "EACCES") fail(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
    fail(`cannot listen on ${where}: ${err.code ?? err.message}`);
});
app.server.listen(settings.port, settings.host, () => {
    app.logger.info({ port: settings.port, host: settings.host, version: settings.version, faultInjection: settings.faultInjection }, "listening");
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
        if (stopping) return;
        stopping = true;
        app.logger.info({ signal }, "draining");
        app.shutdown().then(() => process.exit(0));
    });
}
