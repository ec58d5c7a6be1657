/**
 * A static release server: GET and HEAD of the files under one directory, with strong ETags,
 * conditional requests (304), single byte ranges (206/416, `If-Range`) and streamed bodies.
 * `ms11-update serve DIR`, the demo and the end-to-end tests use it; it never prints.
 *
 * @module
 */
import { isPort } from "../core/validate.ts";
import { serveHttp } from "../core/listen.ts";

/**
 * What one answered request looked like, reported through {@linkcode ServeOptions.onRequest}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RequestInfo, serveReleases } from "./serve.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "0123456789");
 * const seen: RequestInfo[] = [];
 * const server = serveReleases(dir, { onRequest: (info) => seen.push(info) });
 * await (await fetch(`${server.url}/ms11`, { headers: { range: "bytes=4-" } })).text();
 * await server.shutdown();
 * assert.deepEqual(seen, [{ method: "GET", path: "/ms11", status: 206, range: "bytes=4-", bytes: 6 }]);
 * ```
 */
export interface RequestInfo {
  /** The request method. */
  method: string;
  /** The request path as received (still percent-encoded). */
  path: string;
  /** The response status. */
  status: number;
  /** The request's `Range` header, when it had one. */
  range?: string;
  /** Body bytes sent (for a body the client abandoned: the bytes read before it did). */
  bytes: number;
}

/**
 * Options of {@linkcode serveReleases}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveReleases, type ServeOptions } from "./serve.ts";
 * const controller = new AbortController();
 * const options: ServeOptions = { hostname: "127.0.0.1", port: 0, signal: controller.signal };
 * const server = serveReleases(await Deno.makeTempDir(), options);
 * const response = await fetch(`${server.url}/missing.json`);
 * await response.body?.cancel();
 * assert.equal(response.status, 404);
 * controller.abort(); // aborting shuts it down
 * await server.finished;
 * assert.equal(server.requests, 1);
 * ```
 */
export interface ServeOptions {
  /** The address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /** The TCP port (default 0: a free port, see {@linkcode ReleaseServer.port}). */
  port?: number;
  /** PEM certificate chain: with {@linkcode ServeOptions.key}, serve HTTPS. */
  cert?: string;
  /** PEM private key of {@linkcode ServeOptions.cert}. */
  key?: string;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /**
   * Called once per request when its response is complete (after the last body byte, or when
   * the client abandons the body). Must not throw.
   */
  onRequest?: (info: RequestInfo) => void;
  /**
   * Called with unexpected errors: a file that could not be read (answered 500) or a body cut
   * short because its file shrank while being sent. Must not throw. Nothing is printed.
   */
  onError?: (error: unknown) => void;
}

/**
 * A running release server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ReleaseServer, serveReleases } from "./serve.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.publish-token`, "secret");
 * const server: ReleaseServer = serveReleases(dir);
 * assert.equal(server.url, `http://127.0.0.1:${server.port}`);
 * const response = await fetch(`${server.url}/.publish-token`);
 * await response.body?.cancel();
 * assert.equal(response.status, 404); // names starting with a dot are never served
 * await server.shutdown();
 * await server.shutdown(); // safe twice
 * ```
 */
export interface ReleaseServer {
  /** The base URL, without a final slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The port listened on. */
  readonly port: number;
  /** Requests received so far. */
  readonly requests: number;
  /** Settles when the server has stopped (after {@linkcode ReleaseServer.shutdown} or abort). */
  readonly finished: Promise<void>;
  /** Stop accepting connections and wait for the requests in flight; safe to call twice. */
  shutdown(): Promise<void>;
}

/** Bytes read from disk per body chunk. */
const CHUNK_BYTES = 1024 * 1024;
/** `Cache-Control` of everything but manifests. */
const ARTIFACT_CACHE_CONTROL = "public, max-age=300";

/**
 * Serve the files under `root` over HTTP (or HTTPS with `cert` and `key`). The server is
 * listening when this returns.
 *
 * Only regular files inside `root` are served: `..` segments, names starting with a dot,
 * directories and symlinks that resolve outside `root` answer 404. Methods other than GET and
 * HEAD answer 405. `*.json` is `application/json` with `Cache-Control: no-cache`; everything
 * else is `application/octet-stream`.
 *
 * Throws a `TypeError` for invalid options and `Deno.errors.NotFound` (or another file-system
 * error) when `root` does not exist or is not a directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveReleases } from "./serve.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/manifest.json`, "{}");
 * const server = serveReleases(dir, { port: 0 });
 * const response = await fetch(`${server.url}/manifest.json`, { headers: { range: "bytes=-1" } });
 * assert.equal(response.status, 206);
 * assert.equal(await response.text(), "}");
 * assert.equal(response.headers.get("cache-control"), "no-cache");
 * const again = await fetch(`${server.url}/manifest.json`, { headers: { "if-none-match": response.headers.get("etag")! } });
 * assert.equal(again.status, 304);
 * await again.body?.cancel();
 * await server.shutdown();
 * ```
 */
export function serveReleases(root: string, options: ServeOptions = {}): ReleaseServer {
  return new StaticServer(root, options);
}

/** The file behind a request, opened. */
interface Target {
  file: Deno.FsFile;
  /** The resolved path of the file. */
  path: string;
  /** Whether the requested name ends in `.json` (a manifest). */
  json: boolean;
  size: number;
  etag: string;
  lastModified: string;
  mtimeSeconds: number;
}

class StaticServer implements ReleaseServer {
  #root: string;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #onRequest: (info: RequestInfo) => void;
  #onError: (error: unknown) => void;
  #requests = 0;
  #shutdown: Promise<void> | null = null;
  readonly url: string;
  readonly port: number;
  readonly finished: Promise<void>;

  constructor(root: string, options: ServeOptions) {
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 0;
    if (typeof hostname !== "string" || hostname === "") {
      throw new TypeError(`Invalid serve hostname ${JSON.stringify(hostname)}`);
    }
    if (!isPort(port)) {
      throw new TypeError(`Invalid serve port ${JSON.stringify(port)}: expected 0-65535`);
    }
    if ((options.cert === undefined) !== (options.key === undefined)) {
      throw new TypeError(
        `Serve options cert and key must be given together, got only ${
          options.cert === undefined ? "key" : "cert"
        }`,
      );
    }
    const real = Deno.realPathSync(root);
    if (!Deno.statSync(real).isDirectory) {
      throw new TypeError(`Release root ${root} is not a directory`);
    }
    this.#root = real;
    this.#onRequest = options.onRequest ?? (() => {});
    this.#onError = options.onError ?? (() => {});
    const tls = options.cert === undefined ? {} : { cert: options.cert, key: options.key! };
    this.#server = serveHttp(
      {
        hostname,
        port,
        signal: options.signal,
        onListen() {},
        onError: (error) => {
          this.#reportError(error);
          return new Response("Internal server error\n", { status: 500 });
        },
        ...tls,
      },
      (request) => this.#handle(request),
    );
    this.port = this.#server.addr.port;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.url = `${options.cert === undefined ? "http" : "https"}://${host}:${this.port}`;
    this.finished = this.#server.finished;
  }

  get requests(): number {
    return this.#requests;
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#server.shutdown();
    return this.#shutdown;
  }

  #reportError(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A throwing observer must not break serving.
    }
  }

  async #handle(request: Request): Promise<Response> {
    this.#requests++;
    const method = request.method;
    const url = new URL(request.url);
    const range = request.headers.get("range") ?? undefined;
    const report = (status: number, bytes: number) => {
      try {
        this.#onRequest({ method, path: url.pathname, status, range, bytes });
      } catch {
        // A throwing observer must not break serving.
      }
    };
    const simple = (status: number, text: string, headers: Record<string, string> = {}) => {
      report(status, method === "HEAD" ? 0 : text.length);
      return new Response(method === "HEAD" ? null : text, {
        status,
        headers: { "content-type": "text/plain; charset=utf-8", ...headers },
      });
    };
    if (method !== "GET" && method !== "HEAD") {
      return simple(405, "Method not allowed\n", { allow: "GET, HEAD" });
    }
    let target: Target | null;
    try {
      target = await this.#open(url.pathname);
    } catch (error) {
      this.#reportError(error);
      return simple(500, "Internal server error\n");
    }
    if (target === null) return simple(404, "Not found\n");
    return this.#respond(request, target, report);
  }

  /** Open the regular file a path names, or null when it must answer 404. */
  async #open(pathname: string): Promise<Target | null> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return null;
    }
    if (decoded.endsWith("/")) return null; // a directory, or a file named as one
    const segments = decoded.split("/").filter((s) => s !== "");
    for (const segment of segments) {
      if (segment.startsWith(".") || segment.includes("\0") || segment.includes("\\")) return null;
    }
    let real: string;
    try {
      real = await Deno.realPath(`${this.#root}/${segments.join("/")}`);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    if (!real.startsWith(this.#root.endsWith("/") ? this.#root : `${this.#root}/`)) return null;
    let file: Deno.FsFile;
    try {
      // Check first: opening a FIFO or a device could block or have side effects.
      if (!(await Deno.stat(real)).isFile) return null;
      file = await Deno.open(real, { read: true });
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    try {
      const info = await file.stat();
      if (!info.isFile) {
        file.close();
        return null;
      }
      const mtimeMs = info.mtime?.getTime() ?? 0;
      const mtimeSeconds = Math.floor(mtimeMs / 1000);
      const inode = info.ino === null ? "" : `-${info.ino.toString(16)}`;
      return {
        file,
        path: real,
        json: segments[segments.length - 1].toLowerCase().endsWith(".json"),
        size: info.size,
        etag: `"${info.size.toString(16)}-${mtimeMs.toString(16)}${inode}"`,
        lastModified: new Date(mtimeSeconds * 1000).toUTCString(),
        mtimeSeconds,
      };
    } catch (error) {
      file.close();
      throw error;
    }
  }

  #respond(
    request: Request,
    target: Target,
    report: (status: number, bytes: number) => void,
  ): Response {
    const headers = new Headers({
      "accept-ranges": "bytes",
      "etag": target.etag,
      "last-modified": target.lastModified,
      "cache-control": target.json ? "no-cache" : ARTIFACT_CACHE_CONTROL,
      "content-type": target.json ? "application/json" : "application/octet-stream",
      "x-content-type-options": "nosniff",
    });
    if (notModified(request.headers, target)) {
      target.file.close();
      headers.delete("content-type");
      report(304, 0);
      return new Response(null, { status: 304, headers });
    }
    let start = 0;
    let end = target.size; // exclusive
    let status = 200;
    if (request.method === "GET" && rangeApplies(request.headers, target)) {
      const range = parseRange(request.headers.get("range")!, target.size);
      if (range === "unsatisfiable") {
        target.file.close();
        headers.set("content-range", `bytes */${target.size}`);
        headers.set("content-type", "text/plain; charset=utf-8");
        const text = "Range not satisfiable\n";
        report(416, text.length);
        return new Response(text, { status: 416, headers });
      }
      if (range !== null) {
        [start, end, status] = [range.start, range.end, 206];
        headers.set("content-range", `bytes ${start}-${end - 1}/${target.size}`);
      }
    }
    headers.set("content-length", String(end - start));
    if (request.method === "HEAD" || end === start) {
      target.file.close();
      report(status, 0);
      return new Response(request.method === "HEAD" ? null : new Uint8Array(0), {
        status,
        headers,
      });
    }
    return new Response(fileBody(target, start, end, (bytes) => report(status, bytes)), {
      status,
      headers,
    });
  }
}

/** Whether an error means "nothing servable there" (404 rather than 500). */
function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.FilesystemLoop ||
    (error as { code?: unknown } | null)?.code === "ENAMETOOLONG";
}

/** The request's `If-None-Match` / `If-Modified-Since` say the client's copy is current. */
function notModified(headers: Headers, target: Target): boolean {
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() === "*") return true;
    const ours = target.etag;
    return ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === ours);
  }
  const since = headers.get("if-modified-since");
  if (since === null) return false;
  const time = Date.parse(since);
  return Number.isFinite(time) && target.mtimeSeconds * 1000 <= time;
}

/** Whether a `Range` header is present and `If-Range` (if any) matches the current file. */
function rangeApplies(headers: Headers, target: Target): boolean {
  if (!headers.has("range")) return false;
  const ifRange = headers.get("if-range")?.trim();
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith("W/")) return ifRange === target.etag;
  const time = Date.parse(ifRange);
  return Number.isFinite(time) && time === target.mtimeSeconds * 1000;
}

/**
 * A single byte range as `[start, end)`, "unsatisfiable", or null to serve the whole file
 * (malformed header, another unit, or several ranges).
 */
function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (match === null) return null;
  const specs = match[1].split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return null;
  const spec = /^(\d*)\s*-\s*(\d*)$/.exec(specs[0]);
  if (spec === null || (spec[1] === "" && spec[2] === "")) return null;
  if (spec[1] === "") {
    const suffix = Number(spec[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size };
  }
  const first = Number(spec[1]);
  const last = spec[2] === "" ? Infinity : Number(spec[2]);
  if (last < first) return null;
  if (first >= size) return "unsatisfiable";
  return { start: first, end: Math.min(last + 1, size) };
}

/**
 * The bytes `[start, end)` of an open file as a stream of fresh 1 MiB chunks. The file is
 * closed at the end, on error and when the client goes away; a file that shrank meanwhile
 * errors the stream (so the connection is cut rather than the body silently short).
 */
function fileBody(
  target: Target,
  start: number,
  end: number,
  done: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  let position = start;
  let closed = false;
  /** The read in progress: the descriptor only closes once it has settled. */
  let reading: Promise<unknown> = Promise.resolve();
  const finish = async () => {
    if (closed) return;
    closed = true;
    await reading.catch(() => {});
    target.file.close();
    done(position - start);
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        if (start > 0) await target.file.seek(start, Deno.SeekMode.Start);
      } catch (error) {
        await finish();
        controller.error(error);
      }
    },
    async pull(controller) {
      try {
        const buffer = new Uint8Array(Math.min(CHUNK_BYTES, end - position));
        const pending = target.file.read(buffer);
        reading = pending;
        const read = await pending;
        if (closed) return; // cancelled meanwhile
        if (read === null) {
          throw new Error(
            `File ${target.path} ended at byte ${position}, expected ${end} bytes to serve`,
          );
        }
        position += read;
        controller.enqueue(read === buffer.length ? buffer : buffer.subarray(0, read));
        if (position >= end) {
          await finish();
          controller.close();
        }
      } catch (error) {
        if (closed) return;
        await finish();
        controller.error(error);
      }
    },
    cancel() {
      return finish();
    },
  }, { highWaterMark: 1 });
}
