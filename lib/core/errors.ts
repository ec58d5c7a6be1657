/**
 * Named errors for conditions that callers handle. Everything else uses the built-in errors
 * (`TypeError`, `RangeError`, `SyntaxError`) with a message that names what failed and the values.
 *
 * @module
 */

/**
 * The configuration (file, flags or environment) is invalid: the CLI exits with code 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveChannel } from "./channel.ts";
 * import { defaultConfig } from "./config.ts";
 * import { ConfigError } from "./errors.ts";
 * assert.throws(() => resolveChannel(defaultConfig(), "nightly"), ConfigError);
 * assert.equal(new ConfigError("Config field x must be y").name, "ConfigError");
 * ```
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * A file's SHA-256 differs from the expected one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChecksumMismatchError } from "./errors.ts";
 * const error = new ChecksumMismatchError("/tmp/a.partial", "ab".repeat(32), "cd".repeat(32));
 * assert.equal(
 *   error.message,
 *   `Checksum mismatch for /tmp/a.partial: expected sha256 ${"ab".repeat(32)}, got ${"cd".repeat(32)}`,
 * );
 * assert.equal(error.actual, "cd".repeat(32));
 * ```
 */
export class ChecksumMismatchError extends Error {
  override name = "ChecksumMismatchError";
  /** Path of the file that was checked. */
  readonly path: string;
  /** Expected SHA-256, lowercase hex. */
  readonly expected: string;
  /** Actual SHA-256, lowercase hex. */
  readonly actual: string;
  /** @param path the checked file @param expected hex digest @param actual hex digest */
  constructor(path: string, expected: string, actual: string) {
    super(`Checksum mismatch for ${path}: expected sha256 ${expected}, got ${actual}`);
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * A file or download has a size other than the declared one (too long or too short).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SizeMismatchError } from "./errors.ts";
 * const longer = new SizeMismatchError("/tmp/a.partial", 10, 11);
 * assert.equal(longer.message, "Size mismatch for /tmp/a.partial: expected 10 bytes, got more than 10");
 * const shorter = new SizeMismatchError("/tmp/a.partial", 10, 4);
 * assert.equal(shorter.message, "Size mismatch for /tmp/a.partial: expected 10 bytes, got only 4");
 * ```
 */
export class SizeMismatchError extends Error {
  override name = "SizeMismatchError";
  /** Path of the file that was checked. */
  readonly path: string;
  /** Declared size in bytes. */
  readonly expected: number;
  /** Bytes seen (for an overflow: at least expected + 1). */
  readonly actual: number;
  /** @param path the file @param expected declared bytes @param actual bytes seen */
  constructor(path: string, expected: number, actual: number) {
    const what = actual > expected ? "more than" : "only";
    super(
      `Size mismatch for ${path}: expected ${expected} bytes, got ${what} ${
        actual > expected ? expected : actual
      }`,
    );
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Another process holds the install lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LockHeldError } from "./errors.ts";
 * const error = new LockHeldError("/opt/ms11/lock", 4242);
 * assert.equal(
 *   error.message,
 *   "Install lock /opt/ms11/lock is held by another ms11-update (pid 4242); try again when it finishes",
 * );
 * assert.equal(new LockHeldError("/opt/ms11/lock", null).pid, null);
 * ```
 */
export class LockHeldError extends Error {
  override name = "LockHeldError";
  /** The lock file. */
  readonly path: string;
  /** The holder's pid, when it could be read. */
  readonly pid: number | null;
  /** @param path lock file @param pid holder's pid or null */
  constructor(path: string, pid: number | null) {
    super(
      `Install lock ${path} is held by another ms11-update${
        pid === null ? "" : ` (pid ${pid})`
      }; try again when it finishes`,
    );
    this.path = path;
    this.pid = pid;
  }
}

/**
 * An archive entry would land outside the build directory, or is of a refused type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsafeArchiveError } from "./errors.ts";
 * const error = new UnsafeArchiveError("app.tar.gz", "../evil", "path escapes the build directory");
 * assert.equal(
 *   error.message,
 *   'Unsafe archive app.tar.gz: entry "../evil" refused: path escapes the build directory',
 * );
 * assert.equal(error.entry, "../evil");
 * ```
 */
export class UnsafeArchiveError extends Error {
  override name = "UnsafeArchiveError";
  /** The archive file. */
  readonly archive: string;
  /** The offending entry's name as stored in the archive. */
  readonly entry: string;
  /** @param archive archive path @param entry entry name @param reason why it is refused */
  constructor(archive: string, entry: string, reason: string) {
    super(`Unsafe archive ${archive}: entry ${JSON.stringify(entry)} refused: ${reason}`);
    this.archive = archive;
    this.entry = entry;
  }
}

/**
 * A channel's manifest is refused by the trust checks (signatures, rotation, rollback, expiry).
 * `reason` is a short code for the audit log (`signature-threshold`, `rollback`, `expired`, …).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UntrustedManifestError } from "./errors.ts";
 * const error = new UntrustedManifestError("https://u/m.json", "expired", "Manifest https://u/m.json expired");
 * assert.equal(error.reason, "expired");
 * assert.equal(error.message, "Manifest https://u/m.json expired");
 * assert.equal(error.served, null);
 * const old = new UntrustedManifestError("https://u/m.json", "rollback", "Manifest https://u/m.json has serial 4", {
 *   serial: 4, version: "1.0.0",
 * });
 * assert.deepEqual(old.served, { serial: 4, version: "1.0.0" });
 * ```
 */
export class UntrustedManifestError extends Error {
  override name = "UntrustedManifestError";
  /** The manifest's URL. */
  readonly url: string;
  /** Why, as a short code. */
  readonly reason: string;
  /** The refused manifest's serial and version, when it was parsed; else null. */
  readonly served: { serial: number | null; version: string } | null;
  /**
   * @param url manifest URL @param reason short code @param message the full message
   * @param served the refused manifest's serial and version, when known
   */
  constructor(
    url: string,
    reason: string,
    message: string,
    served: { serial: number | null; version: string } | null = null,
  ) {
    super(message);
    this.url = url;
    this.reason = reason;
    this.served = served;
  }
}

/**
 * The install's trust state cannot vouch for a channel (no good copy of the trust file, or the
 * channel's records were lost): its manifests are refused until `ms11-update trust reset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrustStateError } from "./errors.ts";
 * const error = new TrustStateError("/opt/ms11/trust.json", "stable", "Trust state cannot be read");
 * assert.equal(error.channel, "stable");
 * assert.equal(error.reason, "trust-state");
 * ```
 */
export class TrustStateError extends Error {
  override name = "TrustStateError";
  /** The trust file. */
  readonly file: string;
  /** The channel refused. */
  readonly channel: string;
  /** A short code for the audit log, as {@linkcode UntrustedManifestError}'s. */
  readonly reason = "trust-state";
  /** @param file trust file @param channel refused channel @param message the full message */
  constructor(file: string, channel: string, message: string) {
    super(message);
    this.file = file;
    this.channel = channel;
  }
}

/**
 * A verified artifact cannot become a launchable build: the build it makes has no configured
 * executable at its top level, or has it as something other than an executable file. The bytes
 * are the ones the signed manifest names, so downloading them again changes nothing: a client
 * rejects the release, a publisher refuses to publish it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotLaunchableError } from "./errors.ts";
 * const error = new NotLaunchableError(
 *   "Release 1.1.0 is not launchable: its tar.gz archive has no file ms11 at the top level",
 * );
 * assert.equal(error.name, "NotLaunchableError");
 * assert.ok(error instanceof Error);
 * ```
 */
export class NotLaunchableError extends Error {
  override name = "NotLaunchableError";
}

/**
 * Every server of a channel that answered serves a validly signed manifest older (a lower
 * serial) than the one already accepted: a cache or mirror is behind (or replays an old
 * release), and the accepted manifest could not be verified again to stand in (no addressed
 * signature file, expired). Nothing is accepted and nothing changes; a later check, or a
 * fresher mirror, brings the update (lib/trust/mirrors.ts). `reason` is `behind`, for the audit
 * log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManifestBehindError } from "./errors.ts";
 * const error = new ManifestBehindError("stable", 5, "Every mirror of stable is behind; try again later");
 * assert.deepEqual([error.name, error.reason, error.channel, error.trustedSerial], [
 *   "ManifestBehindError", "behind", "stable", 5,
 * ]);
 * ```
 */
export class ManifestBehindError extends Error {
  override name = "ManifestBehindError";
  /** A short code for the audit log. */
  readonly reason = "behind";
  /** The channel checked. */
  readonly channel: string;
  /** The serial accepted before, which no server had. */
  readonly trustedSerial: number;
  /** @param channel the channel @param trustedSerial the serial accepted @param message the line */
  constructor(channel: string, trustedSerial: number, message: string) {
    super(message);
    this.channel = channel;
    this.trustedSerial = trustedSerial;
  }
}

/**
 * A channel's server answered 401 or 403: it needs credentials, refused the ones sent, or the
 * credentials were not sent to the host that asked (lib/net/credentials.ts). Not retried; the
 * message names the channel and what to configure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AccessDeniedError } from "./errors.ts";
 * const error = new AccessDeniedError("Channel canary needs credentials: …", { channel: "canary",
 *   status: 401 });
 * assert.deepEqual([error.name, error.channel, error.status], ["AccessDeniedError", "canary", 401]);
 * ```
 */
export class AccessDeniedError extends Error {
  override name = "AccessDeniedError";
  /** The channel whose server refused. */
  readonly channel: string;
  /** 401 or 403. */
  readonly status: number;
  /** @param message the full message @param fields the channel and the status */
  constructor(message: string, fields: { channel: string; status: number }) {
    super(message);
    this.channel = fields.channel;
    this.status = fields.status;
  }
}
