// `ms11-update dashboard`: serve the dashboard (dashboard/server.ts) until interrupted, and
// optionally open it in the default browser through a one-time link (docs/DASHBOARD.md).
import { serveDashboard } from "../dashboard/server.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { parsePort } from "../lib/core/validate.ts";
import { requireInstall } from "../lib/root/layout.ts";
import { type GlobalOptions, loadContext } from "./_context.ts";

/**
 * Options of `dashboard`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DashboardCommandOptions } from "./dashboard.ts";
 * const options: DashboardCommandOptions = { root: "/opt/ms11", port: "8012", open: true };
 * assert.equal(options.allowRemote, undefined);
 * ```
 */
export interface DashboardCommandOptions extends GlobalOptions {
  port?: string;
  host?: string;
  allowRemote?: boolean;
  open?: boolean;
}

/**
 * The command that opens a URL in the default browser on this OS (`Deno.build.os`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openerCommand } from "./dashboard.ts";
 * const url = "http://127.0.0.1:8012/?token=t";
 * assert.deepEqual(openerCommand("darwin", url), ["open", url]);
 * assert.deepEqual(openerCommand("windows", url), ["cmd", "/c", "start", "", url]);
 * assert.deepEqual(openerCommand("linux", url), ["xdg-open", url]);
 * ```
 */
export function openerCommand(os: string, url: string): string[] {
  if (os === "darwin") return ["open", url];
  if (os === "windows") return ["cmd", "/c", "start", "", url];
  return ["xdg-open", url];
}

/**
 * `ms11-update dashboard`: serve the status page and JSON API until interrupted (SIGINT,
 * SIGTERM). A bad `--port`, or a non-loopback `--host` without `--allow-remote`, is a
 * `ConfigError`, before anything listens.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardCommand } from "./dashboard.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root` };
 * await assert.rejects(dashboardCommand({ ...options, port: "http" }), {
 *   name: "ConfigError",
 *   message: 'Invalid --port "http": expected 0-65535',
 * });
 * await assert.rejects(dashboardCommand({ ...options, host: "0.0.0.0" }), {
 *   name: "ConfigError",
 *   message: /^Refusing to serve the dashboard on 0\.0\.0\.0: .*pass --allow-remote/,
 * });
 * await assert.rejects(dashboardCommand(options), /^Error: No install at .*\/root: it does not exist/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function dashboardCommand(options: DashboardCommandOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const port = parsePort(options.port ?? "0");
  if (port === null) {
    throw new ConfigError(`Invalid --port ${JSON.stringify(options.port)}: expected 0-65535`);
  }
  const dashboard = serveDashboard(ctx.layout, {
    configPath: ctx.configPath,
    configExplicit: ctx.configExists,
    platform: ctx.platform,
    hostname: options.host ?? "127.0.0.1",
    port,
    allowRemote: options.allowRemote ?? false,
    lockWaitMs: ctx.lockWaitMs,
    onEvent: (event) => ctx.ui.notice(event.message),
    onWarning: (message) => ctx.ui.warn(message),
  });
  const stop = () => void dashboard.shutdown();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  try {
    // A dashboard of a mistyped root would show an empty install and create one on its first
    // action: refused (after the flags are checked), and the server stops again.
    await requireInstall(ctx.layout);
    ctx.ui.notice(
      `Serving the dashboard of ${ctx.layout.root} on ${dashboard.origin}: open the URL printed on stdout (Ctrl-C to stop)`,
    );
    ctx.ui.data(
      {
        url: dashboard.url,
        origin: dashboard.origin,
        port: dashboard.port,
        token: dashboard.token,
      },
      dashboard.url,
    );
    if (options.open) {
      // The opener (and the browser it starts) gets a one-time link, never the token: a
      // program's arguments are readable by every user of the machine (/proc/PID/cmdline). It
      // is not waited for (an opener may run as long as the browser it started), and what it
      // prints is not shown.
      const [program, ...args] = openerCommand(Deno.build.os, dashboard.openUrl());
      void new Deno.Command(program, { args, stdin: "null", stdout: "null", stderr: "null" })
        .output()
        .then((o) => o.success ? null : `${program} exited with ${o.code}`)
        .catch((error) => `${program}: ${(error as Error).message}`)
        .then((failed) => {
          if (failed !== null) {
            ctx.ui.warn(`Could not open a browser (${failed}); open the URL yourself`);
          }
        });
    }
    await dashboard.finished;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
    await dashboard.shutdown();
  }
  return 0;
}
