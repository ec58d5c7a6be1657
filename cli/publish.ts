// The publisher's commands: `release`, `keygen`, `verify-release` and `serve`. They parse
// options, call lib/publish/ and print.
import { detectPlatform } from "../lib/core/config.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { isFileName, parsePort } from "../lib/core/validate.ts";
import {
  checkReleaseName,
  DEFAULT_DELTA_COUNT,
  type DeltaSettings,
  MAX_DELTAS,
  publishRelease,
  type SkippedDelta,
  type UpdaterFile,
} from "../lib/publish/release.ts";
import { type VerifiedDelta, verifyRelease } from "../lib/publish/verify_release.ts";
import { serveReleases } from "../lib/publish/serve.ts";
import { writeKeyPair } from "../lib/publish/signing.ts";
import { isPublicKey, keyId, type KeySet } from "../lib/trust/keys.ts";
import { formatBytes, Ui } from "./_ui.ts";
import { parseLifetime, signingKeys } from "./_signing_flags.ts";
import { rolloutPlan } from "./rollout.ts";
import { describeRollout, type RolloutState, rolloutState } from "../lib/publish/rollout_state.ts";

/**
 * Options of `release`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReleaseCommandOptions } from "./publish.ts";
 * const options: ReleaseCommandOptions = {
 *   channel: "stable", version: "1.1.0", artifact: "dist/ms11.tar.gz", out: "releases",
 *   key: ["keys/ms11-update.key"], expires: "30d",
 * };
 * assert.deepEqual(options.key, ["keys/ms11-update.key"]);
 * ```
 */
export interface ReleaseCommandOptions {
  channel: string;
  version: string;
  artifact: string;
  out: string;
  platform?: string;
  notes?: string;
  json?: boolean;
  key?: string[];
  unsigned?: boolean;
  expires?: string;
  nextKey?: string[];
  nextThreshold?: string;
  republish?: boolean;
  /** A new ms11-update to offer with the release (the manifest's `updater`). */
  updater?: string;
  updaterVersion?: string;
  updaterPlatform?: string;
  executable?: string;
  /** A staged rollout: a whole percent, or a ramp (with `rampEvery`). */
  rollout?: string;
  ramp?: string;
  rampEvery?: string;
  /** `--deltas K` (a string), `--no-deltas` (false), or absent (the default). */
  deltas?: string | boolean;
  deltaMaxRatio?: string;
}

/** `--deltas K`, `--no-deltas` and `--delta-max-ratio R` as the library's settings. */
function deltaSettings(options: ReleaseCommandOptions): DeltaSettings {
  const given = typeof options.deltas === "string";
  let count = DEFAULT_DELTA_COUNT;
  if (options.deltas === false) count = 0;
  else if (given) {
    const text = options.deltas as string;
    count = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
    if (!(count >= 0 && count <= MAX_DELTAS)) {
      throw new ConfigError(
        `Invalid --deltas ${JSON.stringify(text)}: expected a whole number from 0 to ${MAX_DELTAS}`,
      );
    }
  }
  let maxRatio: number | undefined;
  if (options.deltaMaxRatio !== undefined) {
    const text = options.deltaMaxRatio;
    maxRatio = /^\d*\.?\d+$/.test(text) ? Number(text) : NaN;
    if (!(maxRatio > 0 && maxRatio <= 1)) {
      throw new ConfigError(
        `Invalid --delta-max-ratio ${
          JSON.stringify(text)
        }: expected a share of the full download above 0 and at most 1, like 0.5`,
      );
    }
  }
  return { count, maxRatio, required: given && count > 0 };
}

/** One line for a delta `release` did not list. */
function skippedLine(platform: string, skipped: SkippedDelta, maxRatio: number): string {
  if (skipped.error !== null) {
    return `Skipped the delta from ${skipped.from} (${platform}): ${skipped.error}`;
  }
  const percent = Math.round((skipped.ratio ?? 0) * 100);
  return `Skipped the delta from ${skipped.from} (${platform}): ${
    formatBytes(skipped.size ?? 0)
  } would be ${percent}% of the full ${
    formatBytes(skipped.fullSize)
  } download, not under the --delta-max-ratio of ${maxRatio}`;
}

/** `--executable NAME`: a file name without slashes (the clients' `executable`). */
function executableOption(value: string | undefined): string {
  const name = value ?? "ms11";
  if (!isFileName(name)) {
    throw new ConfigError(
      `Invalid --executable ${JSON.stringify(name)}: expected a file name without slashes`,
    );
  }
  return name;
}

/**
 * `ms11-update release`: add a build to a release tree (hash it, copy it, write and sign the
 * channel's manifest). Bad flags are a `ConfigError`, checked before anything is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeKeyPair } from "../lib/publish/signing.ts";
 * import { releaseCommand } from "./publish.ts";
 * const dir = await Deno.makeTempDir();
 * const { privatePath } = await writeKeyPair(`${dir}/keys`);
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\necho MS11 1.0.0\n");
 * const options = { channel: "stable", version: "1.0.0", artifact: `${dir}/ms11`,
 *   out: `${dir}/tree`, platform: "linux-x64", json: true };
 * assert.equal(await releaseCommand({ ...options, key: [privatePath] }), 0);
 * const manifest = JSON.parse(await Deno.readTextFile(`${dir}/tree/stable/manifest.json`));
 * assert.deepEqual([manifest.version, manifest.artifacts["linux-x64"].size], ["1.0.0", 26]);
 * await assert.rejects(releaseCommand({ ...options, version: "1.0.1" }), {
 *   name: "ConfigError",
 *   message: "release needs --key KEY_FILE to sign the manifest (or --unsigned to publish it unsigned)",
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function releaseCommand(options: ReleaseCommandOptions): Promise<number> {
  const ui = new Ui({ json: options.json });
  const platform = options.platform ?? detectPlatform();
  checkReleaseName({ channel: options.channel, version: options.version, platform });
  const info = await Deno.stat(options.artifact).catch(() => null);
  if (!info?.isFile) throw new ConfigError(`Artifact ${options.artifact} is not a file`);
  const lifetime = parseLifetime(options.expires ?? "30d");
  const rollout = rolloutPlan(options);
  const deltas = deltaSettings(options);
  const keys = await signingKeys("release", options);
  let nextKeys: KeySet | undefined;
  if (options.nextKey !== undefined) {
    const next = await readPublicKeys(options.nextKey, "--next-key");
    const threshold = Number(options.nextThreshold ?? "1");
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > next.length) {
      throw new ConfigError(
        `Invalid --next-threshold ${
          JSON.stringify(options.nextThreshold)
        }: expected 1 to ${next.length}`,
      );
    }
    nextKeys = { threshold, keys: next };
  }
  let updater: UpdaterFile | undefined;
  if (options.updater !== undefined || options.updaterVersion !== undefined) {
    if (options.updater === undefined || options.updaterVersion === undefined) {
      throw new ConfigError("release takes --updater FILE and --updater-version VERSION together");
    }
    const file = await Deno.stat(options.updater).catch(() => null);
    if (!file?.isFile) throw new ConfigError(`Updater ${options.updater} is not a file`);
    updater = {
      file: options.updater,
      version: options.updaterVersion,
      key: options.updaterPlatform,
    };
  }
  const releasedAt = new Date();
  const result = await publishRelease(options.out, {
    channel: options.channel,
    version: options.version,
    platform,
    artifact: options.artifact,
    notes: options.notes,
    keys,
    releasedAt,
    expires: new Date(releasedAt.getTime() + lifetime),
    nextKeys,
    republish: options.republish,
    updater,
    executable: executableOption(options.executable),
    rollout,
    deltas,
  });
  for (const warning of result.warnings) ui.warn(warning);
  if (options.unsigned) {
    ui.warn(`Published an unsigned manifest: clients that verify signatures refuse it`);
  }
  const a = result.manifest.artifacts[platform];
  const doc = JSON.parse(await Deno.readTextFile(result.manifestPath));
  const staged = rolloutState(doc, releasedAt);
  const offered = result.manifest.updater;
  ui.notice(
    `Published ${options.version} (${platform}, ${formatBytes(a.size)}) on ${options.channel}${
      updater && offered ? `, with ms11-update ${offered.version}` : ""
    }${
      result.deltas.length === 0
        ? ""
        : `, with deltas from ${
          result.deltas.map((d) => `${d.from} (${formatBytes(d.size)})`).join(", ")
        }`
    }${staged.staged ? `: ${describeRollout(staged)}` : ""}`,
  );
  for (const skipped of result.skippedDeltas) {
    ui.notice(skippedLine(platform, skipped, deltas.maxRatio ?? 0.5));
  }
  ui.data(
    {
      manifest: result.manifestPath,
      artifact: result.artifactPath,
      sha256: a.sha256,
      size: a.size,
      serial: result.manifest.serial,
      expires: result.manifest.expires,
      signature: result.signaturePath,
      signed_by: keys.map((k) => k.keyid),
      updater: result.manifest.updater,
      rollout: staged,
      deltas: result.deltas,
      skipped_deltas: result.skippedDeltas,
    },
    result.manifestPath,
  );
  return 0;
}

/**
 * Options of `keygen`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KeygenCommandOptions } from "./publish.ts";
 * const options: KeygenCommandOptions = { out: "keys", name: "stable-2026" };
 * assert.equal(options.name, "stable-2026");
 * ```
 */
export interface KeygenCommandOptions {
  out: string;
  name?: string;
  json?: boolean;
}

/**
 * `ms11-update keygen --out DIR`: a new Ed25519 key pair for signing manifests, the private
 * key readable by its owner only; an existing key is never overwritten (a `ConfigError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keygenCommand } from "./publish.ts";
 * const out = await Deno.makeTempDir();
 * assert.equal(await keygenCommand({ out, json: true }), 0);
 * assert.equal((await Deno.stat(`${out}/ms11-update.key`)).mode! & 0o777, 0o600);
 * assert.match(await Deno.readTextFile(`${out}/ms11-update.pub`), /^ed25519:/);
 * await assert.rejects(keygenCommand({ out }), { name: "ConfigError", message: /already exists/ });
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function keygenCommand(options: KeygenCommandOptions): Promise<number> {
  const ui = new Ui({ json: options.json });
  if (options.name !== undefined && !/^[A-Za-z0-9._-]+$/.test(options.name)) {
    throw new ConfigError(`Invalid --name ${JSON.stringify(options.name)}: expected a file name`);
  }
  let written;
  try {
    written = await writeKeyPair(options.out, { name: options.name });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) throw new ConfigError(error.message);
    throw error;
  }
  ui.notice(
    `Wrote the private key ${written.privatePath} (mode 0600: keep it secret, off the release server) and the public key ${written.publicPath}; pin the public key (on stdout) in the clients' security.signing_keys`,
  );
  ui.data(
    {
      private_key: written.privatePath,
      public_key_file: written.publicPath,
      public_key: written.publicKey,
      keyid: written.keyid,
    },
    written.publicKey,
  );
  return 0;
}

/**
 * Options of `verify-release`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VerifyReleaseCommandOptions } from "./publish.ts";
 * const options: VerifyReleaseCommandOptions = { pubkey: ["keys/a.pub", "keys/b.pub"], threshold: "2" };
 * assert.equal(options.pubkey?.length, 2);
 * ```
 */
export interface VerifyReleaseCommandOptions {
  pubkey?: string[];
  threshold?: string;
  json?: boolean;
  executable?: string;
}

/** Read `--pubkey` values: a key in configuration form, or a file holding one. */
async function readPublicKeys(values: string[], flag = "--pubkey"): Promise<string[]> {
  const keys: string[] = [];
  for (const value of values) {
    const text = isPublicKey(value) ? value : await Deno.readTextFile(value).then(
      (t) => t.trim(),
      () => value,
    );
    if (!isPublicKey(text)) {
      throw new ConfigError(
        `Invalid ${flag} ${JSON.stringify(value)}: expected ed25519:<base64> or a .pub file`,
      );
    }
    keys.push(text);
  }
  return keys;
}

/** One delta in verify-release's output. */
function deltaLine(d: VerifiedDelta): string {
  const state = !d.ok
    ? "BAD"
    : d.file === null
    ? "hosted elsewhere, not checked"
    : d.rebuilt
    ? "rebuilds the artifact"
    : `not rebuilt: ${d.from}'s build is not in the tree`;
  return `    delta ${d.platform} from ${d.from} (${d.kind}, ${formatBytes(d.size)}): ${state}`;
}

/** The rollout state in verify-release's line, when there is one to tell. */
function rolloutNote(state: RolloutState | null): string {
  if (state === null) return "";
  const told = state.staged || state.yanked.length > 0 || state.minimum_version !== null;
  return told ? `; rollout: ${describeRollout(state)}` : "";
}

/**
 * `ms11-update verify-release DIR --pubkey KEY`: check a release tree before publishing it
 * (signatures, expiry, the artifacts' sizes and hashes); an error when any channel has a
 * problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "../lib/publish/release.ts";
 * import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
 * import { verifyReleaseCommand } from "./publish.ts";
 * const dir = await Deno.makeTempDir();
 * const pair = await writeKeyPair(`${dir}/keys`);
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\necho MS11 1.0.0\n");
 * await publishRelease(`${dir}/tree`, { channel: "stable", version: "1.0.0", platform: "linux-x64",
 *   artifact: `${dir}/ms11`, keys: [await readSigningKey(pair.privatePath)] });
 * assert.equal(await verifyReleaseCommand(`${dir}/tree`, { pubkey: [pair.publicPath], json: true }), 0);
 * const stranger = await writeKeyPair(`${dir}/other`);
 * await assert.rejects(verifyReleaseCommand(`${dir}/tree`, { pubkey: [stranger.publicPath] }),
 *   /is not ready: 1 channel with problems \(stable\)/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function verifyReleaseCommand(
  dir: string,
  options: VerifyReleaseCommandOptions,
): Promise<number> {
  const ui = new Ui({ json: options.json });
  const keys = await readPublicKeys(options.pubkey ?? []);
  if (keys.length === 0) throw new ConfigError("verify-release needs at least one --pubkey");
  const threshold = Number(options.threshold ?? "1");
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw new ConfigError(
      `Invalid --threshold ${JSON.stringify(options.threshold)}: expected 1 to ${keys.length}`,
    );
  }
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new ConfigError(`Release directory ${dir} does not exist`);
  const keySet: KeySet = { threshold, keys };
  const executable = executableOption(options.executable);
  const channels = await verifyRelease(dir, { keys: keySet, executable });
  const bad = channels.filter((c) => c.problems.length > 0);
  for (const c of bad) for (const p of c.problems) ui.warn(`${c.channel}: ${p}`);
  ui.data(
    { ok: bad.length === 0 && channels.length > 0, keyids: keys.map(keyId), channels },
    channels.map((c) =>
      [
        `${c.problems.length === 0 ? "ok " : "BAD"} ${c.channel} ${c.version ?? "?"} serial ${
          c.serial ?? "?"
        } expires ${c.expires ?? "?"}${rolloutNote(c.rollout)}`,
        ...c.deltas.map(deltaLine),
      ].join("\n")
    ).join("\n") || "no channels",
  );
  if (channels.length === 0) {
    throw new Error(`Release tree ${dir} has no <channel>/manifest.json`);
  }
  if (bad.length > 0) {
    throw new Error(
      `Release tree ${dir} is not ready: ${bad.length} channel${
        bad.length === 1 ? "" : "s"
      } with problems (${bad.map((c) => c.channel).join(", ")})`,
    );
  }
  return 0;
}

/**
 * Options of `serve`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ServeCommandOptions } from "./publish.ts";
 * const options: ServeCommandOptions = { port: "0", host: "127.0.0.1" };
 * assert.equal(options.port, "0");
 * ```
 */
export interface ServeCommandOptions {
  port?: string;
  host?: string;
}

/**
 * `ms11-update serve DIR`: a static release server for testing and local mirrors, until
 * interrupted. A bad `--port` or a missing directory is a `ConfigError`, before listening.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveCommand } from "./publish.ts";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(serveCommand(dir, { port: "http" }), {
 *   name: "ConfigError",
 *   message: 'Invalid --port "http": expected 0-65535',
 * });
 * await assert.rejects(serveCommand(`${dir}/missing`, { port: "0" }), {
 *   name: "ConfigError",
 *   message: `Release directory ${dir}/missing does not exist`,
 * });
 * await Deno.remove(dir);
 * ```
 */
export async function serveCommand(dir: string, options: ServeCommandOptions): Promise<number> {
  const port = parsePort(options.port ?? "8011");
  if (port === null) {
    throw new ConfigError(`Invalid --port ${JSON.stringify(options.port)}: expected 0-65535`);
  }
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new ConfigError(`Release directory ${dir} does not exist`);
  const server = serveReleases(dir, { hostname: options.host ?? "127.0.0.1", port });
  new Ui().notice(`Serving ${dir} at ${server.url} (Ctrl-C to stop)`);
  Deno.addSignalListener("SIGINT", () => server.shutdown());
  await server.finished;
  return 0;
}
