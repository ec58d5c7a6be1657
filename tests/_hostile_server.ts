/**
 * A misbehaving HTTP/1.1 server for download tests, on a raw loopback TCP socket so that it can
 * lie about Content-Length, cut a connection mid-body, stall, or send forever. One request per
 * connection (`Connection: close`).
 *
 * @module
 */

/** A request as the server saw it. */
export interface HostileRequest {
  /** Request method. */
  method: string;
  /** Path and query. */
  path: string;
  /** Request headers. */
  headers: Headers;
  /** Body bytes the server managed to write in reply (filled in as it sends). */
  bytesSent: number;
}

/** How to answer one request. */
export interface HostileReply {
  /** Status code (default 200). */
  status?: number;
  /** Reason phrase (default: the usual one for the code). */
  statusText?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Body bytes. */
  body?: Uint8Array;
  /** Content-Length to announce: default the body's length; null sends none (close-delimited). */
  contentLength?: number | null;
  /** Close the connection after this many body bytes. */
  cutAfter?: number;
  /** Send this many body bytes, then nothing more until the client goes away. */
  stallAfter?: number;
  /** After the body, keep sending filler bytes until the client goes away. */
  endless?: boolean;
  /** Send nothing at all (not even a status line) until the client goes away. */
  silent?: boolean;
}

/** Decides the reply to the `index`-th request (0-based). */
export type HostileHandler = (
  request: HostileRequest,
  index: number,
) => HostileReply | Promise<HostileReply>;

const REASONS: Record<number, string> = {
  200: "OK",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  404: "Not Found",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/**
 * A loopback server (127.0.0.1, a free port) driven by a handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HostileServer } from "./_hostile_server.ts";
 * await using server = new HostileServer(() => ({ body: new TextEncoder().encode("hi") }));
 * const response = await fetch(`${server.url}/x`);
 * assert.equal(await response.text(), "hi");
 * ```
 */
export class HostileServer implements AsyncDisposable {
  #listener: Deno.TcpListener;
  #handler: HostileHandler;
  #requests: HostileRequest[] = [];
  #connections = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;
  #closed = false;

  /** @param handler decides each reply */
  constructor(handler: HostileHandler) {
    this.#handler = handler;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.#listener.addr.port}`;
  }

  /** The requests received so far. */
  get requests(): readonly HostileRequest[] {
    return this.#requests;
  }

  /** Body bytes written, over all requests. */
  get bytesSent(): number {
    return this.#requests.reduce((sum, r) => sum + r.bytesSent, 0);
  }

  /** Stop listening, drop every connection and wait for the handlers. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#connections) closeQuietly(conn);
    await Promise.all(this.#tasks);
  }

  /** The same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      this.#connections.add(conn);
      const task = this.#serve(conn).catch(() => {}).finally(() => {
        closeQuietly(conn);
        this.#connections.delete(conn);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const head = await readHead(conn);
    if (head === null) return;
    const [requestLine, ...lines] = head.split("\r\n");
    const [method, path] = requestLine.split(" ");
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const request: HostileRequest = { method, path, headers, bytesSent: 0 };
    const index = this.#requests.length;
    this.#requests.push(request);
    const reply = await this.#handler(request, index);
    if (reply.silent) {
      await waitForEof(conn);
      return;
    }
    const status = reply.status ?? 200;
    const body = reply.body ?? new Uint8Array(0);
    const length = reply.contentLength === undefined ? body.length : reply.contentLength;
    let text = `HTTP/1.1 ${status} ${reply.statusText ?? REASONS[status] ?? "Status"}\r\n`;
    for (const [name, value] of Object.entries(reply.headers ?? {})) {
      text += `${name}: ${value}\r\n`;
    }
    if (length !== null) text += `content-length: ${length}\r\n`;
    text += "connection: close\r\n\r\n";
    await writeAll(conn, new TextEncoder().encode(text));
    const limit = Math.min(body.length, reply.cutAfter ?? Infinity, reply.stallAfter ?? Infinity);
    const chunkSize = 16 * 1024;
    for (let offset = 0; offset < limit; offset += chunkSize) {
      const chunk = body.subarray(offset, Math.min(limit, offset + chunkSize));
      await writeAll(conn, chunk);
      request.bytesSent += chunk.length;
    }
    if (reply.stallAfter !== undefined) {
      await waitForEof(conn);
      return;
    }
    if (reply.endless && reply.cutAfter === undefined) {
      const filler = new Uint8Array(chunkSize).fill(0x41);
      while (!this.#closed) {
        await writeAll(conn, filler);
        request.bytesSent += filler.length;
      }
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

async function readHead(conn: Deno.Conn): Promise<string | null> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) return null;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text.slice(0, text.indexOf("\r\n\r\n"));
}

async function waitForEof(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  while ((await conn.read(buffer)) !== null) {
    // discard
  }
}

/** Options of {@linkcode serveBytes}. */
export interface ServeBytesOptions {
  /** ETag to send and to compare If-Range with. */
  etag?: string;
  /** Last-Modified to send. */
  lastModified?: string;
  /** Answer every request with the whole body (200), as a server without Range support. */
  ignoreRange?: boolean;
  /** Serve the range whatever If-Range says, as Swift does. */
  ignoreIfRange?: boolean;
  /** Close the connection after this many body bytes. */
  cutAfter?: number;
}

/**
 * A well-behaved reply for `data`: 206 for `Range: bytes=N-` (honouring If-Range against the
 * ETag), 416 past the end, else 200.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HostileServer, serveBytes } from "./_hostile_server.ts";
 * await using server = new HostileServer((r) => serveBytes(r, new TextEncoder().encode("hello")));
 * const response = await fetch(server.url, { headers: { range: "bytes=1-" } });
 * assert.equal(response.status, 206);
 * assert.equal(await response.text(), "ello");
 * ```
 */
export function serveBytes(
  request: HostileRequest,
  data: Uint8Array,
  options: ServeBytesOptions = {},
): HostileReply {
  const headers: Record<string, string> = {};
  if (options.etag !== undefined) headers["etag"] = options.etag;
  if (options.lastModified !== undefined) headers["last-modified"] = options.lastModified;
  const range = /^bytes=(\d+)-$/.exec(request.headers.get("range") ?? "");
  const ifRange = request.headers.get("if-range");
  const validatorOk = ifRange === null || options.ignoreIfRange === true ||
    ifRange === options.etag || ifRange === options.lastModified;
  if (range !== null && !options.ignoreRange && validatorOk) {
    const from = Number(range[1]);
    if (from >= data.length) {
      return { status: 416, headers: { "content-range": `bytes */${data.length}` } };
    }
    headers["content-range"] = `bytes ${from}-${data.length - 1}/${data.length}`;
    return { status: 206, headers, body: data.subarray(from), cutAfter: options.cutAfter };
  }
  return { status: 200, headers, body: data, cutAfter: options.cutAfter };
}
