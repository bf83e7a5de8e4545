import { CHECK_GROUPS, CheckGroup } from "./checkResult";
import { UsageError } from "./stackOutputs";

export interface VerifyArgs {
    stack?: string;
    outputsFile?: string;
    json: boolean;
    drill: boolean;
    appUrl?: string;
    /** Prometheus and Grafana as the operator reaches them: a tunnel (npm run tunnel) or Grafana's HTTPS name. */
    prometheusUrl?: string;
    grafanaUrl?: string;
    drillTimeoutSeconds: number;
    only?: CheckGroup[];
    logWindowMinutes: number;
    help: boolean;
}

export const USAGE = `Usage: npm run verify -- (--stack <name> | --outputs <file>) [options]

Runs the architecture document's post-deploy checklist against a deployed stack.

  --stack <name>            read outputs with \`pulumi stack output --json --stack <name>\`
  --outputs <file>          read outputs from a file written by \`pulumi stack output --json\`
  --json                    print the results as JSON on stdout (progress stays on stderr)
  --drill                   also run the alert drill: fault injection on, wait for HighErrorRate firing, fault off
  --app-url <url>           the app as you reach it for the drill (e.g. an SSM port-forward tunnel); default: output appUrl
  --prometheus-url <url>    Prometheus as you reach it: the tunnel's URL (npm run tunnel -- prometheus prints it)
  --grafana-url <url>       Grafana as you reach it: the tunnel's URL, or https://grafana.<domainName> (default: output grafanaUrl when it is a URL)
  --drill-timeout <seconds> how long the drill waits for firing (default 600; the stack's rule has for: 5m)
  --only <groups>           comma-separated subset of: ${CHECK_GROUPS.join(", ")}
  --log-window <minutes>    the app's log group must have been written within this (default 30)
  --help                    this text

Environment: AWS credentials as for the AWS CLI (AWS_PROFILE, ...); GRAFANA_TOKEN, or GRAFANA_USER and GRAFANA_PASSWORD.
Exit codes: 0 every required check passed, 1 a required check failed, 2 bad usage or unreadable outputs.`;

const VALUE_FLAGS = ["--stack", "--outputs", "--app-url", "--prometheus-url", "--grafana-url", "--drill-timeout", "--only", "--log-window"];
const BOOLEAN_FLAGS = ["--json", "--drill", "--help"];

function positiveNumber(flag: string, value: string): number {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected a positive number`);
    return n;
}

export function parseVerifyArgs(argv: string[]): VerifyArgs {
    const args: VerifyArgs = { json: false, drill: false, drillTimeoutSeconds: 600, logWindowMinutes: 30, help: false };
    for (let i = 0; i < argv.length; i++) {
        let flag = argv[i];
        let value: string | undefined;
        const eq = flag.indexOf("=");
        if (flag.startsWith("--") && eq > 0) {
            value = flag.slice(eq + 1);
            flag = flag.slice(0, eq);
        }
        if (BOOLEAN_FLAGS.includes(flag)) {
            if (value !== undefined) throw new UsageError(`${flag} takes no value (got ${JSON.stringify(value)})`);
            if (flag === "--json") args.json = true;
            else if (flag === "--drill") args.drill = true;
            else args.help = true;
            continue;
        }
        if (!VALUE_FLAGS.includes(flag)) {
            throw new UsageError(`unknown ${flag.startsWith("-") ? "flag" : "argument"} ${JSON.stringify(argv[i])}; allowed: ${[...VALUE_FLAGS.map((f) => `${f} <value>`), ...BOOLEAN_FLAGS].join(", ")}`);
        }
        if (value === undefined) {
            value = argv[++i];
            if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value`);
        }
        switch (flag) {
            case "--stack":
                args.stack = value;
                break;
            case "--outputs":
                args.outputsFile = value;
                break;
            case "--app-url":
            case "--prometheus-url":
            case "--grafana-url": {
                if (!/^https?:\/\/[^/\s]+/.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected an http(s) URL such as http://127.0.0.1:13000`);
                const key = ({ "--app-url": "appUrl", "--prometheus-url": "prometheusUrl", "--grafana-url": "grafanaUrl" } as Record<string, "appUrl" | "prometheusUrl" | "grafanaUrl">)[flag];
                args[key] = value;
                break;
            }
            case "--drill-timeout":
                args.drillTimeoutSeconds = positiveNumber(flag, value);
                break;
            case "--log-window":
                args.logWindowMinutes = positiveNumber(flag, value);
                break;
            case "--only": {
                const groups = value.split(",").map((g) => g.trim()).filter(Boolean);
                const unknown = groups.filter((g) => !CHECK_GROUPS.includes(g as CheckGroup));
                if (groups.length === 0 || unknown.length > 0) throw new UsageError(`--only ${JSON.stringify(value)}: unknown group ${unknown.join(", ") || "(none given)"}; allowed: ${CHECK_GROUPS.join(", ")}`);
                args.only = groups as CheckGroup[];
                break;
            }
        }
    }
    if (!args.help && (args.stack === undefined) === (args.outputsFile === undefined)) {
        throw new UsageError(args.stack === undefined ? "give --stack <name> or --outputs <file>" : "give either --stack or --outputs, not both");
    }
    return args;
}
