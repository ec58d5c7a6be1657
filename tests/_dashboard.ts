// Dashboard test helpers: a world with an install (1.1.0 current, 1.0.0 as backup) and a
// dashboard served in-process on a free port, an API caller, a Server-Sent Events reader and a
// raw HTTP request (fetch cannot set the Host header).
import { loadConfig } from "../lib/core/config.ts";
import { type Dashboard, type DashboardOptions, serveDashboard } from "../dashboard/server.ts";
import { installRelease } from "../lib/actions/install.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { linuxPlatform, makeWorld, type World } from "./_e2e.ts";

/** A world with an install and a running dashboard. */
export interface DashboardWorld extends AsyncDisposable {
  world: World;
  layout: Layout;
  dashboard: Dashboard;
  platform: string;
  /** Call the API with the token; `body` is sent as JSON. */
  api(path: string, init?: { method?: string; body?: unknown }): Promise<ApiAnswer>;
}

/** A decoded answer. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** Options of {@linkcode dashboardWorld}. */
export interface DashboardWorldOptions {
  /** Extra dashboard options. */
  dashboard?: Partial<DashboardOptions>;
  /** Skip installing anything: an install root with nothing installed in it. */
  empty?: boolean;
}

/**
 * A world where stable 1.0.0 was installed and 1.1.0 applied over it (so 1.0.0 is a backup),
 * with the dashboard running on it.
 */
export async function dashboardWorld(options: DashboardWorldOptions = {}): Promise<DashboardWorld> {
  const world = await makeWorld();
  const layout = layoutOf(world.root);
  const platform = linuxPlatform();
  try {
    if (options.empty) {
      await Deno.mkdir(layout.builds, { recursive: true }); // an install, nothing current yet
    } else {
      await world.publish("stable", "1.0.0");
      const { config } = await loadConfig(world.configPath, { explicit: true });
      await installRelease(layout, config, { channel: "stable", platform, lockWaitMs: 5000 });
      await world.publish("stable", "1.1.0");
      await runUpdate(layout, config, { channel: "stable", platform, lockWaitMs: 5000 });
      await applyStaged(layout, { keepBackups: 2, lockWaitMs: 5000 });
    }
  } catch (error) {
    await world[Symbol.asyncDispose]();
    throw error;
  }
  const dashboard = serveDashboard(layout, {
    configPath: world.configPath,
    configExplicit: true,
    platform,
    ...options.dashboard,
  });
  return {
    world,
    layout,
    dashboard,
    platform,
    async api(path, init = {}) {
      const sep = path.includes("?") ? "&" : "?";
      const response = await fetch(`${dashboard.origin}${path}${sep}token=${dashboard.token}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: init.body === undefined ? {} : { "content-type": "application/json" },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await response.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch { /* not JSON: keep the text */ }
      return { status: response.status, headers: response.headers, json };
    },
    async [Symbol.asyncDispose]() {
      await dashboard.shutdown();
      await world[Symbol.asyncDispose]();
    },
  };
}

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

/** A reader of the dashboard's event stream. */
export interface EventReader extends AsyncDisposable {
  /** Every event received so far. */
  events: SseEvent[];
  /** Resolves with the first event (received so far or later) that matches. */
  waitFor(match: (event: SseEvent) => boolean): Promise<SseEvent>;
}

/** Open `/api/events` and collect its events; resolves once the stream is open. */
export async function readEvents(dashboard: Dashboard): Promise<EventReader> {
  const response = await fetch(`${dashboard.origin}/api/events?token=${dashboard.token}`);
  if (response.status !== 200 || response.body === null) {
    throw new Error(`Event stream answered ${response.status}`);
  }
  const events: SseEvent[] = [];
  const waiters: { match: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const pump = (async () => {
    while (true) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: "" }));
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null");
        const e = { event, data };
        events.push(e);
        for (const w of waiters.splice(0)) {
          if (w.match(e)) w.resolve(e);
          else waiters.push(w);
        }
      }
    }
  })();
  return {
    events,
    waitFor(match) {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    async [Symbol.asyncDispose]() {
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
}

/** Send one raw HTTP/1.1 request (any Host header) and return the status and body. */
export async function rawRequest(
  port: number,
  request: { method?: string; path: string; headers: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const body = request.body ?? "";
  const lines = [
    `${request.method ?? "GET"} ${request.path} HTTP/1.1`,
    ...Object.entries({ ...request.headers, connection: "close" }).map(([k, v]) => `${k}: ${v}`),
    ...(body ? [`content-length: ${new TextEncoder().encode(body).length}`] : []),
    "",
    body,
  ];
  await conn.write(new TextEncoder().encode(lines.join("\r\n")));
  const text = new TextDecoder().decode(
    await new Response(conn.readable).arrayBuffer(),
  );
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "0");
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}
