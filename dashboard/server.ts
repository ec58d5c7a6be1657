/**
 * The dashboard: a local status page and JSON API (`ms11-update dashboard`). It serves the
 * status document of `status --json` and calls the same actions as the CLI (lib/actions/): it
 * implements no step itself. Progress is pushed to the page with Server-Sent Events; one
 * action runs at a time.
 *
 * Security (docs/DASHBOARD.md, dashboard/security.ts): every request needs the random token of
 * the printed URL; the Host header must name this server by an IP address or `localhost` (no
 * DNS rebinding); a request carrying an Origin must come from this server's own origin (no
 * cross-site POST); it listens on loopback only unless `allowRemote` says the user means
 * otherwise.
 *
 * @module
 */
import { probeChannels } from "../lib/actions/channel.ts";
import type { ActionContext } from "../lib/actions/context.ts";
import type { UpdateEvent } from "../lib/actions/notify.ts";
import { installStatus } from "../lib/actions/status.ts";
import { type Config, loadConfig } from "../lib/core/config.ts";
import { type Env, realEnv } from "../lib/core/env.ts";
import { ConfigError, LockHeldError } from "../lib/core/errors.ts";
import type { Layout } from "../lib/root/layout.ts";
import { isPort } from "../lib/core/validate.ts";
import { EventHub } from "./_events.ts";
import { InputError, json, readFields } from "./_http.ts";
import { STEPS } from "./_steps.ts";
import { renderPage } from "./page.ts";
import {
  isLoopback,
  originRefusal,
  randomToken,
  refusal,
  SECURITY_HEADERS,
  sessionCookie,
} from "./security.ts";

/** How long a one-time link ({@linkcode Dashboard.openUrl}) may wait to be opened. */
const ONE_TIME_LINK_MS = 60_000;
import { serveHttp } from "../lib/core/listen.ts";

/**
 * Options of {@linkcode serveDashboard}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DashboardOptions, serveDashboard } from "./server.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const dir = await Deno.makeTempDir();
 * const options: DashboardOptions = { configPath: `${dir}/update_channel.json`, platform: "linux-x64",
 *   hostname: "127.0.0.1", port: 0, token: "secret" };
 * const dashboard = serveDashboard(layoutOf(dir), options);
 * assert.equal(dashboard.url, `http://127.0.0.1:${dashboard.port}/?token=secret`);
 * await dashboard.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface DashboardOptions {
  /** The configuration file: read at every request, written by a channel switch. */
  configPath: string;
  /** The path was given explicitly: a missing file is an error rather than the defaults. */
  configExplicit?: boolean;
  /** The platform key. */
  platform: string;
  /** The address to listen on (default `127.0.0.1`); loopback only unless `allowRemote`. */
  hostname?: string;
  /** The TCP port (default 0: a free port). */
  port?: number;
  /** Allow a non-loopback address (`--allow-remote`); the token and Host checks still apply. */
  allowRemote?: boolean;
  /** The access token (default: 32 random bytes, base64url). */
  token?: string;
  /** Clock and network for the actions. */
  env?: Env;
  /**
   * How long actions wait for the install lock, in milliseconds (default 5 000: a command run
   * from a terminal, or the previous action's lock still being released, is waited for).
   */
  lockWaitMs?: number;
  /** Longest wait for one channel's manifest when listing channels (default 10 000 ms). */
  manifestTimeoutMs?: number;
  /** Announced events (also sent to the notification hook by the actions). Must not throw. */
  onEvent?: (event: UpdateEvent) => void;
  /** Problems that do not stop an action (a failing notification hook). Must not throw. */
  onWarning?: (message: string) => void;
  /** Aborting it shuts the dashboard down. */
  signal?: AbortSignal;
}

/**
 * A running dashboard.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveDashboard } from "./server.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/builds`); // an install, with nothing current yet
 * const dashboard = serveDashboard(layoutOf(dir), {
 *   configPath: `${dir}/update_channel.json`, platform: "linux-x64",
 * });
 * const response = await fetch(`${dashboard.origin}/api/status`);
 * assert.equal(response.status, 401);
 * await response.body?.cancel();
 * await dashboard.shutdown();
 * ```
 */
export interface Dashboard {
  /** The URL to open, with the token: `http://127.0.0.1:41234/?token=…`. */
  readonly url: string;
  /** The origin, without the token: `http://127.0.0.1:41234`. */
  readonly origin: string;
  /** The port listened on. */
  readonly port: number;
  /** The access token. */
  readonly token: string;
  /**
   * A one-time link to hand to a browser (`dashboard --open`): `http://127.0.0.1:41234/open?code=…`.
   * It carries no token, so the token never appears in another process's arguments; it is
   * exchanged, once and within 60 s, for an HttpOnly SameSite=Strict session cookie. Opened a
   * second time, it is refused and the session it opened is ended (someone raced the browser).
   */
  openUrl(): string;
  /** Settles when the server has stopped. */
  readonly finished: Promise<void>;
  /** Close the event streams, stop listening and wait for requests in flight. */
  shutdown(): Promise<void>;
}

/**
 * Serve the dashboard of the install at `layout`. Listening when this returns. Throws a
 * {@linkcode ConfigError} for a non-loopback `hostname` without `allowRemote`, and a
 * `TypeError` for a bad port.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveDashboard } from "./server.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/builds`); // an install, with nothing current yet
 * const dashboard = serveDashboard(layoutOf(dir), {
 *   configPath: `${dir}/update_channel.json`, platform: "linux-x64",
 * });
 * const status = await (await fetch(`${dashboard.origin}/api/status?token=${dashboard.token}`)).json();
 * assert.equal(status.schema, 2);
 * assert.equal(status.current, null);
 * await dashboard.shutdown();
 * ```
 */
export function serveDashboard(layout: Layout, options: DashboardOptions): Dashboard {
  return new DashboardServer(layout, options);
}

class DashboardServer implements Dashboard {
  #layout: Layout;
  #options: DashboardOptions;
  #env: Env;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #hub = new EventHub();
  #allowRemote: boolean;
  #lockWaitMs: number;
  #shutdown: Promise<void> | null = null;
  /** Sessions handed out for one-time links. */
  #sessions = new Set<string>();
  /** One-time codes: when they stop being valid, and the session each opened (once used). */
  #codes = new Map<string, { expires: number; session: string | null }>();
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly token: string;
  readonly finished: Promise<void>;

  constructor(layout: Layout, options: DashboardOptions) {
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 0;
    if (!isPort(port)) {
      throw new TypeError(`Invalid dashboard port ${JSON.stringify(port)}: expected 0-65535`);
    }
    this.#allowRemote = options.allowRemote ?? false;
    this.#lockWaitMs = options.lockWaitMs ?? 5000;
    if (!this.#allowRemote && !isLoopback(hostname)) {
      throw new ConfigError(
        `Refusing to serve the dashboard on ${hostname}: it can change this install, so it listens on loopback only; pass --allow-remote if you mean it`,
      );
    }
    this.#layout = layout;
    this.#options = options;
    this.#env = options.env ?? realEnv();
    this.token = options.token ?? randomToken();
    this.#server = serveHttp(
      { hostname, port, signal: options.signal, onListen() {} },
      (request) => this.#handle(request),
    );
    this.port = this.#server.addr.port;
    const shown = hostname === "0.0.0.0" || hostname === "::" || hostname === "localhost"
      ? "127.0.0.1"
      : hostname.includes(":")
      ? `[${hostname}]`
      : hostname;
    this.origin = `http://${shown}:${this.port}`;
    this.url = `${this.origin}/?token=${this.token}`;
    this.finished = this.#server.finished;
    options.signal?.addEventListener("abort", () => this.#hub.close(), { once: true });
  }

  openUrl(): string {
    const code = randomToken();
    this.#codes.set(code, { expires: this.#env.now().getTime() + ONE_TIME_LINK_MS, session: null });
    return `${this.origin}/open?code=${code}`;
  }

  /** GET /open?code=…: a one-time link exchanged for a session cookie, then the page. */
  #redeem(url: URL): Response {
    const code = url.searchParams.get("code") ?? "";
    const entry = this.#codes.get(code);
    if (entry !== undefined && entry.session !== null) {
      // Used before: whoever came first may not be this user's browser. End that session.
      this.#sessions.delete(entry.session);
      const message =
        "Refused: this one-time link was already used, and the session it opened is now ended (another program on this machine may have read the link); open the URL printed by ms11-update dashboard";
      this.#options.onWarning?.(
        "The dashboard's one-time link was opened twice: the session it opened is ended; open the printed URL instead",
      );
      return json({ error: message }, { status: 410 });
    }
    if (entry === undefined || this.#env.now().getTime() > entry.expires) {
      return json({
        error:
          "Refused: this one-time link is not valid (it works once, within 60 seconds); open the URL printed by ms11-update dashboard",
      }, { status: 401 });
    }
    const session = randomToken();
    entry.session = session;
    this.#sessions.add(session);
    return new Response(null, {
      status: 303,
      headers: { ...SECURITY_HEADERS, location: "/", "set-cookie": sessionCookie(session) },
    });
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#hub.close();
      await this.#server.shutdown();
    })();
    return this.#shutdown;
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    // Only a GET redeems the link (a HEAD, a link preview's, must not use it up).
    if (url.pathname === "/open" && request.method === "GET") {
      const foreign = originRefusal(request.headers, {
        port: this.port,
        allowRemote: this.#allowRemote,
      });
      if (foreign) return json({ error: foreign.message }, { status: foreign.status });
      return this.#redeem(url);
    }
    const refused = refusal(url, request.headers, {
      port: this.port,
      token: this.token,
      allowRemote: this.#allowRemote,
      sessions: this.#sessions,
    });
    if (refused) return json({ error: refused.message }, { status: refused.status });
    const routes: Record<string, Record<string, () => Promise<Response> | Response>> = {
      "/": { GET: () => this.#page() },
      "/api/status": { GET: async () => json(await this.#status(await this.#context())) },
      "/api/channels": { GET: async () => json({ channels: await this.#channels() }) },
      "/api/events": { GET: () => this.#hub.stream() },
    };
    for (const name of Object.keys(STEPS)) {
      routes[`/api/${name}`] = { POST: () => this.#act(request, name) };
    }
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
    if (route === undefined) {
      return json({ error: `No such page: ${url.pathname}` }, { status: 404 });
    }
    const method = request.method === "HEAD" ? "GET" : request.method;
    const handler = Object.hasOwn(route, method) ? route[method] : undefined;
    if (handler === undefined) {
      return json(
        { error: `Method ${request.method} is not allowed on ${url.pathname}` },
        { status: 405, headers: { allow: Object.keys(route).join(", ") } },
      );
    }
    try {
      return await handler();
    } catch (error) {
      return json({ error: (error as Error).message }, {
        status: error instanceof ConfigError ? 400 : 500,
      });
    }
  }

  /** The actions' context for one request: the configuration as it is now. */
  async #context(): Promise<ActionContext> {
    const { config } = await loadConfig(this.#options.configPath, {
      explicit: this.#options.configExplicit ?? false,
    });
    return this.#contextOf(config);
  }

  #contextOf(config: Config): ActionContext {
    return {
      layout: this.#layout,
      config,
      configPath: this.#options.configPath,
      platform: this.#options.platform,
      lockWaitMs: this.#lockWaitMs,
      env: this.#options.env,
      onEvent: (event) => this.#options.onEvent?.(event),
      onWarning: (message) => this.#options.onWarning?.(message),
    };
  }

  #status(ctx: ActionContext) {
    return installStatus(ctx);
  }

  async #channels(ctx?: ActionContext) {
    return await probeChannels(ctx ?? await this.#context(), {
      timeoutMs: this.#options.manifestTimeoutMs,
    });
  }

  async #page(): Promise<Response> {
    const ctx = await this.#context();
    const [status, channels] = await Promise.all([this.#status(ctx), this.#channels(ctx)]);
    const nonce = randomToken(16);
    const html = renderPage({
      status,
      channels,
      busy: this.#hub.busy,
      outcome: this.#hub.outcome,
      progress: this.#hub.progress,
      token: this.token,
      nonce,
    });
    return new Response(html, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/html; charset=utf-8",
        "content-security-policy":
          `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      },
    });
  }

  /** Run one action: refuse while another runs, remember the outcome, answer JSON (or
   * redirect a browser's plain form post back to the page). */
  async #act(request: Request, action: string): Promise<Response> {
    const browserForm =
      (request.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded") &&
      !(request.headers.get("accept") ?? "").includes("application/json");
    const answer = (data: Record<string, unknown>, status: number): Response =>
      browserForm
        ? new Response(null, {
          status: 303,
          headers: { ...SECURITY_HEADERS, location: `/?token=${encodeURIComponent(this.token)}` },
        })
        : json(data, { status });
    const busy = this.#hub.busy;
    if (busy) {
      return answer({
        ok: false,
        action,
        error:
          `Another action is running: ${busy.action} (started ${busy.started_at}); try again when it finishes`,
      }, 409);
    }
    this.#hub.start({ action, started_at: this.#env.now().toISOString() });
    let status = 200;
    let data: Record<string, unknown>;
    let ok = false;
    let message: string;
    let confirmation = null;
    try {
      const fields = await readFields(request);
      const done = await STEPS[action](
        await this.#context(),
        fields,
        (progress) => this.#hub.report(action, progress),
      );
      ok = done.confirmation === undefined;
      if (!ok) status = 409;
      message = done.message;
      confirmation = done.confirmation ?? null;
      data = {
        ok,
        action,
        message,
        result: done.result,
        ...(done.confirmation ? { confirmation_required: done.confirmation } : {}),
      };
    } catch (error) {
      message = (error as Error).message;
      const input = error instanceof InputError || error instanceof ConfigError;
      status = input || error instanceof RangeError
        ? 400
        : error instanceof LockHeldError
        ? 409
        : 500;
      data = { ok: false, action, error: message };
    }
    this.#hub.finish({ action, ok, message, at: this.#env.now().toISOString(), confirmation });
    return answer(data, status);
  }
}
