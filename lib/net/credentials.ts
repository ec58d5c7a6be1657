/**
 * Access-controlled channels: a channel's credentials (a bearer token or HTTP basic), read from a
 * file only its owner can read or from an environment variable the configuration names
 * (`update_servers.<name>.auth`), never from the configuration itself. They are sent only to the
 * channel's own origin and the origins of `auth.send_to`, and never after a redirect leaves the
 * first URL's origin (lib/net/http.ts); the secret is never part of a message, a log line or a
 * `JSON.stringify`. A 401 or 403 becomes one line that names the channel.
 *
 * @module
 */
import type { Config } from "../core/config_schema.ts";
import { AccessDeniedError } from "../core/errors.ts";
import { escapeText } from "../core/text.ts";
import { statusLine } from "./_attempt.ts";
import { showUrl } from "./url_policy.ts";

/** Largest credentials file read. */
const MAX_SECRET_BYTES = 16_384;
/** RFC 6750's b64token: what a bearer token may hold. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * A channel's credentials, ready to send. The secret is private: `String()`, `JSON.stringify`
 * and `Deno.inspect` show only where it came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChannelCredentials } from "./credentials.ts";
 * const credentials = new ChannelCredentials({ channel: "canary", authorization: "Bearer s3cret",
 *   source: "environment variable CANARY_TOKEN", scheme: "bearer",
 *   origins: ["https://updates.ms11.com"] });
 * assert.ok(credentials.appliesTo(new URL("https://updates.ms11.com/canary/manifest.json")));
 * assert.ok(!credentials.appliesTo(new URL("https://cdn.ms11.com/canary/1.1.0/ms11")));
 * assert.ok(!credentials.appliesTo(new URL("http://updates.ms11.com/canary/manifest.json")));
 * assert.equal(credentials.authorization(), "Bearer s3cret");
 * assert.ok(!JSON.stringify(credentials).includes("s3cret"));
 * assert.ok(!Deno.inspect(credentials).includes("s3cret") && !String(credentials).includes("s3cret"));
 * ```
 */
export class ChannelCredentials {
  #authorization: string;
  /** The channel they are for. */
  readonly channel: string;
  /** `bearer` or `basic`. */
  readonly scheme: "bearer" | "basic";
  /** Where they came from, for messages: `file /etc/…` or `environment variable NAME`. */
  readonly source: string;
  /** The origins (`https://host[:port]`) requests carry them to. */
  readonly origins: readonly string[];

  /** @param fields the channel, the `Authorization` value, its source, scheme and origins */
  constructor(fields: {
    channel: string;
    authorization: string;
    source: string;
    scheme: "bearer" | "basic";
    origins: readonly string[];
  }) {
    this.#authorization = fields.authorization;
    this.channel = fields.channel;
    this.scheme = fields.scheme;
    this.source = fields.source;
    this.origins = [...fields.origins];
  }

  /** Whether a request to `url` carries them: its origin is one of {@linkcode origins}. */
  appliesTo(url: URL): boolean {
    return this.origins.includes(url.origin);
  }

  /** The `Authorization` header's value (the only way to the secret). */
  authorization(): string {
    return this.#authorization;
  }

  /** What they are, without the secret. */
  describe(): string {
    return `${this.scheme === "bearer" ? "a bearer token" : "a password"} from ${this.source}`;
  }

  /** The fields, without the secret. */
  toJSON(): { channel: string; scheme: string; source: string; origins: readonly string[] } {
    return {
      channel: this.channel,
      scheme: this.scheme,
      source: this.source,
      origins: this.origins,
    };
  }

  /** What they are, without the secret. */
  toString(): string {
    return `credentials of channel ${this.channel} (${this.describe()})`;
  }

  /** `Deno.inspect` (and console.log) show no secret either. */
  [Symbol.for("Deno.customInspect")](): string {
    return `ChannelCredentials { ${this.toString()} }`;
  }
}

/**
 * What a request of a channel needs to know about access: the channel (named in a 401 or 403) and
 * its credentials, if it has any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RequestAuth } from "./credentials.ts";
 * const open: RequestAuth = { channel: "stable", credentials: null };
 * assert.equal(open.credentials, null);
 * ```
 */
export interface RequestAuth {
  /** The channel. */
  channel: string;
  /** Its credentials, or null when it has none configured. */
  credentials: ChannelCredentials | null;
}

/**
 * Options of {@linkcode loadCredentials}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LoadCredentialsOptions } from "./credentials.ts";
 * const options: LoadCredentialsOptions = { getEnv: (name) => ({ TOKEN: "abc" })[name] };
 * assert.equal(options.getEnv?.("TOKEN"), "abc");
 * ```
 */
export interface LoadCredentialsOptions {
  /** Reads an environment variable (default `Deno.env.get`). */
  getEnv?: (name: string) => string | undefined;
}

/** The secret from an owner-only regular file (not a link), its one line. */
async function readSecretFile(path: string, channel: string): Promise<string> {
  const what = `Credentials file ${path} of channel ${channel}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(`${what} does not exist`);
    throw new Error(`${what} cannot be read: ${(error as Error).message}`);
  }
  if (info.isSymlink) {
    throw new Error(`${what} is a symbolic link; name the file itself (a link can be re-pointed)`);
  }
  if (!info.isFile) throw new Error(`${what} is not a file`);
  const mode = (info.mode ?? 0) & 0o777;
  if (Deno.build.os !== "windows" && (mode & 0o077) !== 0) {
    throw new Error(
      `${what} can be read or changed by other users (mode ${
        mode.toString(8).padStart(4, "0")
      }): make it its owner's only (chmod 600 ${path})`,
    );
  }
  const uid = Deno.uid();
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    throw new Error(
      `${what} belongs to another user (uid ${info.uid}, not ${uid}); it must be the own file of the user running ms11-update`,
    );
  }
  using file = await Deno.open(path, { read: true });
  const opened = await file.stat();
  if (opened.ino !== info.ino || opened.dev !== info.dev) {
    throw new Error(`${what} was replaced while it was opened`);
  }
  if (opened.size > MAX_SECRET_BYTES) {
    throw new Error(`${what} is larger than ${MAX_SECRET_BYTES} bytes: not a credentials file`);
  }
  const bytes = new Uint8Array(opened.size);
  let offset = 0;
  while (offset < bytes.length) {
    const n = await file.read(bytes.subarray(offset));
    if (n === null) break;
    offset += n;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, offset));
  } catch {
    throw new Error(`${what} is not UTF-8 text`);
  }
}

/** The secret checked: one line (a final line feed dropped), no control character. */
function checkSecret(raw: string, source: string, scheme: "bearer" | "basic"): string {
  const secret = raw.replace(/\r?\n$/, "");
  const where = `The credentials in ${source}`;
  if (secret === "") throw new Error(`${where} are empty`);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(secret)) {
    throw new Error(
      `${where} hold a control character or more than one line; the secret goes on one line`,
    );
  }
  if (scheme === "bearer" && !BEARER_TOKEN.test(secret)) {
    throw new Error(
      `${where} are not a bearer token (letters, digits and - . _ ~ + / only, = at the end)`,
    );
  }
  return secret;
}

/** base64 of a string's UTF-8 bytes. */
function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The credentials of `channel`, read now from where its `auth` says (null when the channel has
 * no `auth`). Throws a one-line error, which never holds the secret, when the file or variable is
 * missing, empty, not one line, not the owner's only (mode 0600, the running user's own, not a
 * link), or not a bearer token for `bearer`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { loadCredentials } from "./credentials.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/password`, "correct horse\n", { mode: 0o600 });
 * const config = validateConfig({ channel: "canary", update_servers: { canary: {
 *   base_url: "https://updates.ms11.com/canary",
 *   auth: { scheme: "basic", username: "tester", secret_file: `${dir}/password`,
 *     send_to: ["https://cdn.ms11.com"] } } } });
 * const credentials = await loadCredentials(config, "canary");
 * assert.equal(credentials?.authorization(), `Basic ${btoa("tester:correct horse")}`);
 * assert.deepEqual(credentials?.origins, ["https://updates.ms11.com", "https://cdn.ms11.com"]);
 * await Deno.chmod(`${dir}/password`, 0o644);
 * await assert.rejects(loadCredentials(config, "canary"), {
 *   message: `Credentials file ${dir}/password of channel canary can be read or changed by other users (mode 0644): make it its owner's only (chmod 600 ${dir}/password)`,
 * });
 * assert.equal(await loadCredentials(validateConfig({}), "stable"), null);
 * ```
 */
export async function loadCredentials(
  config: Config,
  channel: string,
  options: LoadCredentialsOptions = {},
): Promise<ChannelCredentials | null> {
  const server = config.update_servers[channel];
  const auth = server.auth;
  if (auth === null) return null;
  let raw: string;
  let source: string;
  if (auth.secret_file !== null) {
    source = `file ${auth.secret_file}`;
    raw = await readSecretFile(auth.secret_file, channel);
  } else {
    const name = auth.secret_env!;
    source = `environment variable ${name}`;
    const value = (options.getEnv ?? ((n: string) => Deno.env.get(n)))(name);
    if (value === undefined) {
      throw new Error(
        `Channel ${channel} needs credentials from the environment variable ${name}, which is not set`,
      );
    }
    raw = value;
  }
  const secret = checkSecret(raw, source, auth.scheme);
  return new ChannelCredentials({
    channel,
    scheme: auth.scheme,
    source,
    authorization: auth.scheme === "bearer"
      ? `Bearer ${secret}`
      : `Basic ${base64(`${auth.username}:${secret}`)}`,
    origins: [new URL(server.base_url).origin, ...auth.send_to],
  });
}

/**
 * How a request that was answered 401 or 403 went, for {@linkcode accessError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AccessAttempt } from "./credentials.ts";
 * const attempt: AccessAttempt = { auth: { channel: "canary", credentials: null }, sent: false,
 *   redirectedFrom: null };
 * assert.equal(attempt.sent, false);
 * ```
 */
export interface AccessAttempt {
  /** The channel and its credentials. */
  auth: RequestAuth;
  /** Whether the request that was answered carried the credentials. */
  sent: boolean;
  /** The first URL, when a redirect to another origin led to the one answered. */
  redirectedFrom: URL | null;
}

/**
 * The {@linkcode AccessDeniedError} for a 401 or 403 answer to a request of a channel: one line
 * that names the channel, the URL, and what to do — configure credentials, check them, or send
 * them to that host (`auth.send_to`) when they were configured but not sent there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accessError } from "./credentials.ts";
 * const url = new URL("https://updates.ms11.com/canary/manifest.json");
 * const error = accessError(new Response(null, { status: 401,
 *   headers: { "www-authenticate": 'Basic realm="canary"' } }), url,
 *   { auth: { channel: "canary", credentials: null }, sent: false, redirectedFrom: null });
 * assert.equal(error.message,
 *   "Channel canary needs credentials: https://updates.ms11.com/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Basic); set update_servers.canary.auth");
 * assert.equal(error.status, 401);
 * ```
 */
export function accessError(
  response: Response,
  url: URL,
  attempt: AccessAttempt,
): AccessDeniedError {
  const { channel, credentials } = attempt.auth;
  const challenge = (response.headers.get("www-authenticate") ?? "").trim().split(/[\s,]/)[0];
  const asks = challenge === ""
    ? ""
    : ` (the server asks for ${escapeText(challenge.slice(0, 40))})`;
  const answered = `${showUrl(url)} answered HTTP ${statusLine(response)}${asks}`;
  const unauthorized = response.status === 401;
  let message: string;
  if (attempt.sent && credentials !== null) {
    message = `Channel ${channel} ${
      unauthorized ? "refused its credentials" : "denied access with its credentials"
    } (${credentials.describe()}): ${answered}`;
  } else if (credentials !== null && attempt.redirectedFrom !== null) {
    message = `Channel ${channel}'s credentials were not sent to ${url.origin}, where ${
      showUrl(attempt.redirectedFrom)
    } redirected: ${answered}; credentials never follow a redirect to another origin`;
  } else if (credentials !== null) {
    message =
      `Channel ${channel}'s credentials were not sent to ${url.origin}: ${answered}; they go only to ${
        credentials.origins.join(", ")
      } (list the origin in update_servers.${channel}.auth.send_to to send them there too)`;
  } else {
    message = unauthorized
      ? `Channel ${channel} needs credentials: ${answered}; set update_servers.${channel}.auth`
      : `Channel ${channel} denied access: ${answered}; if its server needs credentials, set update_servers.${channel}.auth`;
  }
  return new AccessDeniedError(message, { channel, status: response.status });
}
