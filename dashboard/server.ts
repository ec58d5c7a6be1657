/**
 * The dashboard: a local status page and JSON API (`ms11-update dashboard`). It serves the
 * status document of `status --json` and drives the same library functions as the CLI
 * (`runUpdate`, `rollback`, `updateConfigFile`, `checkChannel`): it implements no step itself.
 * Progress is pushed to the page with Server-Sent Events; one action runs at a time.
 *
 * Security (docs/DASHBOARD.md): every request needs the random token of the printed URL; the
 * Host header must name this server by an IP address or `localhost` (no DNS rebinding); a
 * request carrying an Origin must come from this server's own origin (no cross-site POST); it
 * listens on loopback only unless `allowRemote` says the user means otherwise.
 *
 * @module
 */
import { checkChannel } from "../lib/trust/check.ts";
import { confirmBuild } from "../lib/root/health.ts";
import { resolveChannel } from "../lib/core/channel.ts";
import { type Config, loadConfig, updateConfigFile } from "../lib/core/config.ts";
import { ConfigError, LockHeldError } from "../lib/core/errors.ts";
import { type Env, type Progress, realEnv } from "../lib/core/env.ts";
import { httpEnv } from "../lib/net/http_env.ts";
import { currentVersion, type Layout } from "../lib/root/layout.ts";
import type { UpdateEvent } from "../lib/actions/notify.ts";
import { rollback } from "../lib/root/rollback.ts";
import { readState } from "../lib/root/state.ts";
import { readStatus, type StatusDocument } from "../lib/root/status.ts";
import { recordFailure, runUpdate } from "../lib/actions/update.ts";
import { isVersion } from "../lib/core/version.ts";
import { isLoopbackHost, isPort } from "../lib/core/validate.ts";
import {
  type Busy,
  type ChannelInfo,
  type Confirmation,
  type Outcome,
  renderPage,
} from "./page.ts";
import { type ProgressReport, progressReport } from "./progress.ts";

export type { Busy, ChannelInfo, Confirmation, Outcome, ProgressReport };

/** Options the dashboard gives {@linkcode DashboardOptions.confirmBuild}. */
export interface ConfirmBuildOptions {
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
  /** Why (recorded in the audit log). */
  reason?: string;
}

/** What confirming a build on trial returns (the launcher's trial feature). */
export interface ConfirmBuildResult {
  /** The build now confirmed, or null when no build was on trial. */
  confirmed: string | null;
}

/** Options of {@linkcode serveDashboard}. */
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
  /** Clock and network for the library calls. */
  env?: Env;
  /**
   * How long actions wait for the install lock, in milliseconds (default 5 000: a command run
   * from a terminal, or the previous action's lock still being released, is waited for).
   */
  lockWaitMs?: number;
  /** Longest wait for one channel's manifest when listing channels (default 10 000 ms). */
  manifestTimeoutMs?: number;
  /** Events to announce (what the CLI's notifications receive). Must not throw. */
  onEvent?: (event: UpdateEvent) => void;
  /** Confirms the build on trial (default: lib/root/health.ts `confirmBuild`; tests inject their own). */
  confirmBuild?: (layout: Layout, options: ConfirmBuildOptions) => Promise<ConfirmBuildResult>;
  /** Aborting it shuts the dashboard down. */
  signal?: AbortSignal;
}

/**
 * A running dashboard.
 *
 * @example
 * ```ts
 * import { serveDashboard } from "./server.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const dir = await Deno.makeTempDir();
 * const dashboard = serveDashboard(layoutOf(dir), {
 *   configPath: `${dir}/update_channel.json`, platform: "linux-x64",
 * });
 * const response = await fetch(`${dashboard.origin}/api/status`);
 * console.assert(response.status === 401);
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
  /** Settles when the server has stopped. */
  readonly finished: Promise<void>;
  /** Close the event streams, stop listening and wait for requests in flight. */
  shutdown(): Promise<void>;
}

/**
 * Whether `hostname` is a loopback address or `localhost`.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./server.ts";
 * console.assert(isLoopback("127.0.0.1") && isLoopback("::1") && !isLoopback("0.0.0.0"));
 * ```
 */
export function isLoopback(hostname: string): boolean {
  return isLoopbackHost(hostname);
}

/** Whether a Host header's host part is an IP literal or `localhost` (never a DNS name). */
function isAddressHost(host: string): boolean {
  return host === "localhost" || /^\[[0-9a-f:.]+\]$/i.test(host) ||
    /^(\d{1,3}\.){3}\d{1,3}$/.test(host);
}

/** Options of {@linkcode refusal}. */
export interface RefusalOptions {
  /** The port the dashboard listens on. */
  port: number;
  /** The access token. */
  token: string;
  /** Whether any IP address may name the server in Host (`--allow-remote`). */
  allowRemote: boolean;
}

/**
 * Why a request must be refused before it reaches a route, or null when it may go on: a Host
 * that is not this server by address (DNS rebinding), an Origin other than this server's
 * (cross-site requests), a cross-site fetch, a missing or wrong token. Pure.
 *
 * @example
 * ```ts
 * import { refusal } from "./server.ts";
 * const headers = new Headers({ host: "evil.example:8012" });
 * const r = refusal(new URL("http://x/?token=t"), headers, { port: 8012, token: "t", allowRemote: false });
 * console.assert(r?.status === 403);
 * ```
 */
export function refusal(
  url: URL,
  headers: Headers,
  options: RefusalOptions,
): { status: number; message: string } | null {
  const host = (headers.get("host") ?? "").toLowerCase();
  const match = /^(.*):(\d+)$/.exec(host);
  const name = match?.[1] ?? host;
  const portOk = match !== null && Number(match[2]) === options.port;
  const nameOk = options.allowRemote ? isAddressHost(name) : isLoopback(name) &&
    isAddressHost(name);
  if (!portOk || !nameOk) {
    return {
      status: 403,
      message: `Refused: Host ${
        JSON.stringify(host)
      } is not this dashboard (expected 127.0.0.1:${options.port} or localhost:${options.port})`,
    };
  }
  const origin = headers.get("origin");
  if (origin !== null && origin !== `http://${host}`) {
    return {
      status: 403,
      message:
        `Refused: cross-origin request from ${origin} (only http://${host} may call this dashboard)`,
    };
  }
  if (headers.get("sec-fetch-site") === "cross-site") {
    return { status: 403, message: "Refused: cross-site request" };
  }
  const given = url.searchParams.get("token") ?? headers.get("x-ms11-token") ?? "";
  if (!sameSecret(given, options.token)) {
    return {
      status: 401,
      message: given === ""
        ? "Refused: no token; open the URL printed by ms11-update dashboard"
        : "Refused: wrong token; open the URL printed by ms11-update dashboard",
    };
  }
  return null;
}

/** Compare secrets in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i];
  return diff === 0;
}

function randomToken(bytes = 32): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/**
 * Serve the dashboard of the install at `layout`. Listening when this returns. Throws a
 * {@linkcode ConfigError} for a non-loopback `hostname` without `allowRemote`, and a
 * `TypeError` for a bad port.
 *
 * @example
 * ```ts
 * import { serveDashboard } from "./server.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const dir = await Deno.makeTempDir();
 * const dashboard = serveDashboard(layoutOf(dir), {
 *   configPath: `${dir}/update_channel.json`, platform: "linux-x64",
 * });
 * const status = await (await fetch(`${dashboard.origin}/api/status?token=${dashboard.token}`)).json();
 * console.assert(status.schema === 1 && status.current === null);
 * await dashboard.shutdown();
 * ```
 */
export function serveDashboard(layout: Layout, options: DashboardOptions): Dashboard {
  return new DashboardServer(layout, options);
}

const MAX_BODY_BYTES = 16 * 1024;
const PROGRESS_MIN_INTERVAL_MS = 100;

/** An error that is the caller's (bad input): answered 400, not recorded as a failure. */
class InputError extends Error {
  override name = "InputError";
}

type Fields = Record<string, string | boolean | undefined>;

interface ActionStep {
  /** The action's name. */
  action: string;
  /** Runs it with the request's fields and the current configuration. */
  run: (fields: Fields, config: Config) => Promise<ActionResult>;
}

interface ActionResult {
  message: string;
  result: unknown;
  confirmation?: Confirmation;
}

class DashboardServer implements Dashboard {
  #layout: Layout;
  #options: DashboardOptions;
  #env: Env;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #busy: Busy | null = null;
  #outcome: Outcome | null = null;
  #progress: ProgressReport | null = null;
  #phase: { phase: Progress["phase"]; start: number; last: number } | null = null;
  #allowRemote: boolean;
  #lockWaitMs: number;
  #shutdown: Promise<void> | null = null;
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
    this.#server = Deno.serve(
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
    options.signal?.addEventListener("abort", () => this.#closeStreams(), { once: true });
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#closeStreams();
      await this.#server.shutdown();
    })();
    return this.#shutdown;
  }

  #closeStreams(): void {
    for (const controller of this.#streams) {
      try {
        controller.close();
      } catch { /* already closed */ }
    }
    this.#streams.clear();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const refused = refusal(url, request.headers, {
      port: this.port,
      token: this.token,
      allowRemote: this.#allowRemote,
    });
    if (refused) return json({ error: refused.message }, { status: refused.status });
    const routes: Record<string, Record<string, () => Promise<Response> | Response>> = {
      "/": { GET: () => this.#page() },
      "/api/status": { GET: async () => json(await this.#status()) },
      "/api/channels": { GET: async () => json({ channels: await this.#channels() }) },
      "/api/events": { GET: () => this.#events() },
      "/api/check": {
        POST: () => this.#act(request, { action: "check", run: (f, c) => this.#check(f, c) }),
      },
      "/api/update": {
        POST: () => this.#act(request, { action: "update", run: (f, c) => this.#update(f, c) }),
      },
      "/api/channel": {
        POST: () => this.#act(request, { action: "channel", run: (f, c) => this.#channel(f, c) }),
      },
      "/api/rollback": {
        POST: () => this.#act(request, { action: "rollback", run: (f) => this.#rollback(f) }),
      },
      "/api/confirm": { POST: () => this.#confirmRoute(request) },
    };
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

  async #config(): Promise<Config> {
    const { config } = await loadConfig(this.#options.configPath, {
      explicit: this.#options.configExplicit ?? false,
    });
    return config;
  }

  async #status(config?: Config): Promise<StatusDocument> {
    return await readStatus(this.#layout, config ?? await this.#config(), {
      platform: this.#options.platform,
    });
  }

  async #channels(config?: Config): Promise<ChannelInfo[]> {
    const c = config ?? await this.#config();
    const { state } = await readState(this.#layout);
    const current = await currentVersion(this.#layout);
    const timeoutMs = this.#options.manifestTimeoutMs ?? 10_000;
    // The configured CA file (if any) is trusted, as by the CLI.
    using own = this.#options.env === undefined
      ? await httpEnv({ caFile: c.security.ca_file })
      : null;
    const base = this.#options.env ?? own!;
    const env: Env = {
      now: () => base.now(),
      fetch: (input, init) => {
        const signal = AbortSignal.timeout(timeoutMs);
        return base.fetch(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
        });
      },
    };
    return await Promise.all(
      Object.entries(c.update_servers).map(async ([name, server]) => {
        const info: ChannelInfo = {
          name,
          description: server.description,
          configured: name === c.channel,
          available: null,
          decision: null,
          error: null,
        };
        try {
          const check = await checkChannel({ ...c, max_retry_attempts: 1 }, {
            channel: name,
            platform: this.#options.platform,
            current,
            state,
            env,
          });
          info.available = {
            version: check.manifest.version,
            released_at: check.manifest.released_at,
            notes: check.manifest.notes,
            size: check.artifact.size,
          };
          info.decision = check.decision;
        } catch (error) {
          info.error = (error as Error).message;
        }
        return info;
      }),
    );
  }

  async #page(): Promise<Response> {
    const config = await this.#config();
    const [status, channels] = await Promise.all([this.#status(config), this.#channels(config)]);
    const nonce = randomToken(16);
    const html = renderPage({
      status,
      channels,
      busy: this.#busy,
      outcome: this.#outcome,
      progress: this.#progress,
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

  #events(): Response {
    let mine: ReadableStreamDefaultController<Uint8Array> | null = null;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        mine = controller;
        this.#streams.add(controller);
        controller.enqueue(sse("state", { busy: this.#busy, outcome: this.#outcome }));
        if (this.#progress) controller.enqueue(sse("progress", this.#progress));
      },
      cancel: () => {
        if (mine) this.#streams.delete(mine);
      },
    });
    return new Response(body, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
      },
    });
  }

  #broadcast(event: string, data: unknown): void {
    const chunk = sse(event, data);
    for (const controller of this.#streams) {
      try {
        controller.enqueue(chunk);
      } catch {
        this.#streams.delete(controller);
      }
    }
  }

  /** Report progress of the running action to the page (at most ten times a second per phase,
   * but always the first and the last report of a phase). */
  #report(action: string, progress: Progress): void {
    const now = performance.now();
    if (this.#phase?.phase !== progress.phase) {
      this.#phase = { phase: progress.phase, start: now, last: -Infinity };
    }
    const phase = this.#phase;
    const last = progress.total !== null && progress.done >= progress.total;
    if (!last && progress.done > 0 && now - phase.last < PROGRESS_MIN_INTERVAL_MS) return;
    phase.last = now;
    this.#progress = progressReport(progress, { action, elapsedMs: now - phase.start });
    this.#broadcast("progress", this.#progress);
  }

  async #fields(request: Request): Promise<Fields> {
    const text = await readBody(request);
    if (text.trim() === "") return {};
    const type = request.headers.get("content-type") ?? "";
    if (type.startsWith("application/x-www-form-urlencoded")) {
      return Object.fromEntries(new URLSearchParams(text));
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new InputError(
        `Request body must be JSON or a form, got ${JSON.stringify(text.slice(0, 40))}`,
      );
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new InputError("Request body must be a JSON object");
    }
    const fields: Fields = {};
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === "string" || typeof v === "boolean") fields[k] = v;
      else if (v !== null) {
        throw new InputError(`Field ${k} must be a string, got ${JSON.stringify(v)}`);
      }
    }
    return fields;
  }

  /** Run one action: refuse while another runs, record failures, remember the outcome,
   * answer JSON (or redirect a browser's plain form post back to the page). */
  async #act(request: Request, step: ActionStep): Promise<Response> {
    const { action, run: body } = step;
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
    if (this.#busy) {
      return answer({
        ok: false,
        action,
        error:
          `Another action is running: ${this.#busy.action} (started ${this.#busy.started_at}); try again when it finishes`,
      }, 409);
    }
    const started = this.#env.now().toISOString();
    this.#busy = { action, started_at: started };
    this.#phase = null;
    this.#broadcast("state", { busy: this.#busy, outcome: this.#outcome });
    let status = 200;
    let data: Record<string, unknown>;
    try {
      const fields = await this.#fields(request);
      const config = await this.#config();
      const done = await body(fields, config);
      if (done.confirmation) status = 409;
      this.#outcome = {
        action,
        ok: done.confirmation === undefined,
        message: done.message,
        at: this.#env.now().toISOString(),
        confirmation: done.confirmation ?? null,
      };
      data = {
        ok: done.confirmation === undefined,
        action,
        message: done.message,
        result: done.result,
        ...(done.confirmation ? { confirmation_required: done.confirmation } : {}),
      };
    } catch (error) {
      const message = (error as Error).message;
      const input = error instanceof InputError || error instanceof ConfigError;
      status = input || error instanceof RangeError
        ? 400
        : error instanceof LockHeldError
        ? 409
        : 500;
      if (!input) await this.#recordFailure(action, message);
      this.#outcome = {
        action,
        ok: false,
        message,
        at: this.#env.now().toISOString(),
        confirmation: null,
      };
      data = { ok: false, action, error: message };
    } finally {
      this.#busy = null;
    }
    this.#broadcast("done", { outcome: this.#outcome });
    return answer(data, status);
  }

  async #recordFailure(action: string, message: string): Promise<void> {
    const command = action === "channel" ? "update" : action;
    await recordFailure(this.#layout, message, { command, now: this.#env.now() });
    this.#emit({
      type: "failure",
      at: this.#env.now().toISOString(),
      channel: (await this.#config().catch(() => null))?.channel ?? "unknown",
      version: null,
      current: await currentVersion(this.#layout).catch(() => null),
      message: `${command} failed: ${message}`,
    });
  }

  #emit(event: UpdateEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch { /* must not throw; ignored */ }
  }

  #channelOf(fields: Fields, config: Config): string {
    const given = fields.channel;
    if (given !== undefined && typeof given !== "string") {
      throw new InputError(`Field channel must be a channel name, got ${JSON.stringify(given)}`);
    }
    return resolveChannel(config, given === "" ? undefined : given);
  }

  async #check(fields: Fields, config: Config): Promise<ActionResult> {
    const channel = this.#channelOf(fields, config);
    this.#report("check", { phase: "check", done: 0, total: 1 });
    const result = await runUpdate(this.#layout, config, {
      channel,
      platform: this.#options.platform,
      checkOnly: true,
      env: this.#options.env,
      onEvent: (event) => this.#emit(event),
      lockWaitMs: this.#lockWaitMs,
    });
    this.#report("check", { phase: "check", done: 1, total: 1 });
    const { decision, manifest, current } = result.check;
    return {
      message: decision.message,
      result: {
        channel,
        current,
        available: manifest.version,
        released_at: manifest.released_at,
        notes: manifest.notes,
        decision,
        update_available: decision.action === "update",
      },
    };
  }

  async #update(fields: Fields, config: Config): Promise<ActionResult> {
    const channel = this.#channelOf(fields, config);
    return await this.#download(channel, config, flag(fields.allow_downgrade));
  }

  async #download(channel: string, config: Config, allowDowngrade: boolean): Promise<ActionResult> {
    this.#report("update", { phase: "check", done: 0, total: 1 });
    const result = await runUpdate(this.#layout, config, {
      channel,
      platform: this.#options.platform,
      allowDowngrade,
      env: this.#options.env,
      onProgress: (p) => {
        if (this.#phase?.phase === "check") {
          this.#report("update", { phase: "check", done: 1, total: 1 });
        }
        this.#report("update", p);
      },
      onEvent: (event) => this.#emit(event),
      lockWaitMs: this.#lockWaitMs,
    });
    if (this.#phase?.phase === "check") {
      this.#report("update", { phase: "check", done: 1, total: 1 });
    }
    const { decision, manifest, current } = result.check;
    return {
      message: result.staged
        ? `Staged ${result.staged} from ${channel}; it is applied at the next launch`
        : decision.message,
      result: {
        channel,
        current,
        available: manifest.version,
        decision,
        staged: result.staged,
        downloaded: result.downloaded,
      },
    };
  }

  async #channel(fields: Fields, config: Config): Promise<ActionResult> {
    if (typeof fields.channel !== "string" || fields.channel === "") {
      throw new InputError("Field channel is required: the channel to switch to");
    }
    const channel = resolveChannel(config, fields.channel);
    const answer = fields.downgrade;
    if (answer !== undefined && answer !== "install" && answer !== "keep") {
      throw new InputError(
        `Field downgrade must be "install" or "keep", got ${JSON.stringify(answer)}`,
      );
    }
    const previous = config.channel;
    const current = await currentVersion(this.#layout);
    let warning = "";
    if (answer === undefined && current !== null) {
      const { state } = await readState(this.#layout);
      try {
        const check = await checkChannel(config, {
          channel,
          platform: this.#options.platform,
          current,
          state,
          env: this.#options.env,
        });
        if (check.decision.action === "none" && check.decision.reason === "downgrade-refused") {
          return {
            message:
              `${channel}'s newest release ${check.manifest.version} is lower than the installed ${current}: confirm the switch (downgrade "install" or "keep")`,
            result: { channel, previous, available: check.manifest.version, current },
            confirmation: { channel, available: check.manifest.version, current },
          };
        }
      } catch (error) {
        warning = ` (could not check ${channel}: ${(error as Error).message})`;
      }
    }
    if (channel !== previous) {
      const saved = await updateConfigFile(this.#options.configPath, (raw) => ({
        ...raw,
        channel,
      }));
      this.#emit({
        type: "channel_changed",
        at: this.#env.now().toISOString(),
        channel,
        version: null,
        current,
        message:
          `Channel changed: ${previous} -> ${channel} (saved in ${this.#options.configPath})`,
      });
      config = saved;
    }
    const switched = channel === previous
      ? `Already on ${channel}`
      : `Switched channel ${previous} -> ${channel}`;
    if (answer === "install") {
      const done = await this.#download(channel, config, true);
      return {
        message: `${switched}; ${done.message}`,
        result: { channel, previous, update: done.result },
      };
    }
    return {
      message: answer === "keep" && current
        ? `${switched}; keeping ${current} until ${channel} catches up`
        : `${switched}${warning}`,
      result: { channel, previous },
    };
  }

  async #rollback(fields: Fields): Promise<ActionResult> {
    const to = fields.to;
    if (to !== undefined && (typeof to !== "string" || !isVersion(to))) {
      throw new InputError(`Field to must be a version, got ${JSON.stringify(to)}`);
    }
    this.#report("rollback", { phase: "rollback", done: 0, total: 1 });
    const result = await rollback(this.#layout, {
      to: to === "" ? undefined : to,
      lockWaitMs: this.#lockWaitMs,
      now: this.#env.now(),
      reason: "rolled back from the dashboard",
    });
    this.#report("rollback", { phase: "rollback", done: 1, total: 1 });
    return {
      message: `Rolled back ${result.from} -> ${result.to}; ${result.from} is kept as a backup${
        result.cancelledStaged ? ` and the staged ${result.cancelledStaged} was cancelled` : ""
      }`,
      result,
    };
  }

  #confirmRoute(request: Request): Promise<Response> {
    return this.#act(request, {
      action: "confirm",
      run: async () => {
        const options = { lockWaitMs: this.#lockWaitMs, reason: "confirmed from the dashboard" };
        const result = this.#options.confirmBuild
          ? await this.#options.confirmBuild(this.#layout, options)
          : await confirmBuild(this.#layout, {
            ...options,
            keepBackups: (await this.#config()).keep_backups_count,
          });
        return {
          message: result.confirmed === null
            ? "No build is on trial; nothing to confirm"
            : `Confirmed ${result.confirmed}: it stays current and is no longer rolled back automatically`,
          result,
        };
      },
    });
  }
}

function flag(value: string | boolean | undefined): boolean {
  return value === true || value === "true" || value === "on" || value === "1";
}

async function readBody(request: Request): Promise<string> {
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new InputError(`Request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

const SECURITY_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function json(
  data: unknown,
  init: { status?: number; headers?: Record<string, string> } = {},
): Response {
  return new Response(JSON.stringify(data, null, 2) + "\n", {
    status: init.status ?? 200,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "application/json; charset=utf-8",
      ...init.headers,
    },
  });
}

function sse(event: string, data: unknown): Uint8Array {
  return new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
