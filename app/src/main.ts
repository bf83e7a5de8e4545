import { createApp } from "./server";
import { readSettings, SettingsError } from "./settings";

let settings;
try {
    settings = readSettings(process.env);
} catch (e) {
    if (e instanceof SettingsError) {
        process.stderr.write(`${e.message}\n`);
        process.exit(1);
    }
    throw e;
}

const app = createApp(settings);
// Log lines are buffered: whatever way the process ends, the last ones still reach stdout.
process.on("exit", () => app.logger.flush());
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
