/**
 * The publisher's rollout controls on a release tree: widen, pause, resume and complete a
 * staged rollout, yank and unyank a version, set the minimum version (docs/UPDATE_POLICY.md,
 * "Staged rollouts (publisher)"). Each change rewrites `<tree>/<channel>/manifest.json` with
 * the next serial and a new expiry, signs it again, and writes both atomically; a refused
 * change writes nothing.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { isObject } from "../core/validate.ts";
import { compareVersions, isVersion, parseVersion } from "../core/version.ts";
import { type Manifest, parseManifest } from "../trust/manifest.ts";
import { type SigningKey, writeSignedManifest } from "./signing.ts";
import {
  currentShare,
  isoSeconds,
  parsePercent,
  parseRamp,
  resumedRamp,
  type RolloutPlan,
  yankedVersions,
} from "./_rollout.ts";

import { type RolloutState, rolloutState } from "./rollout_state.ts";

export type { RolloutPlan, RolloutState };
export { parsePercent, parseRamp };

const PLACEHOLDER_URL = "https://release.invalid/channel/manifest.json";
const FULL = 10000;
/** The most `yanked` entries a manifest holds (docs/MANIFEST.md). */
const MAX_YANKED = 100;
/** The longest yank reason, in characters. */
const MAX_REASON = 500;

/**
 * One change to a channel's rollout state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutChange } from "./rollout.ts";
 * const changes: RolloutChange[] = [
 *   { action: "widen", basis_points: 5000 }, { action: "pause" }, { action: "resume" },
 *   { action: "complete" }, { action: "yank", version: "1.1.0", reason: "crashes at start" },
 *   { action: "unyank", version: "1.1.0" }, { action: "minimum", version: null },
 * ];
 * assert.equal(changes.length, 7);
 * ```
 */
export type RolloutChange =
  | { action: "widen"; basis_points: number }
  | { action: "pause" }
  | { action: "resume" }
  | { action: "complete" }
  | { action: "yank"; version: string; reason: string }
  | { action: "unyank"; version: string }
  | { action: "minimum"; version: string | null };

/**
 * Options of {@linkcode changeRollout}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChangeRolloutOptions } from "./rollout.ts";
 * const options: ChangeRolloutOptions = {
 *   channel: "stable", change: { action: "pause" }, expires: new Date("2026-12-20T10:00:00Z"),
 * };
 * assert.equal(options.keys, undefined); // unsigned
 * ```
 */
export interface ChangeRolloutOptions {
  /** The channel. */
  channel: string;
  /** What to change. */
  change: RolloutChange;
  /** When the rewritten manifest expires (after `now`). */
  expires: Date;
  /** Keys that sign it; none writes it unsigned (and removes `manifest.json.sig`). */
  keys?: readonly SigningKey[];
  /** The time of the change (default now). */
  now?: Date;
}

/**
 * What {@linkcode changeRollout} wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChangeRolloutResult } from "./rollout.ts";
 * const seen = (r: ChangeRolloutResult) => `${r.summary} (serial ${r.manifest.serial})`;
 * assert.equal(typeof seen, "function");
 * ```
 */
export interface ChangeRolloutResult {
  /** The manifest written. */
  manifest: Manifest;
  /** Its path. */
  manifestPath: string;
  /** The signature file, or null for an unsigned manifest. */
  signaturePath: string | null;
  /** What changed, in a sentence for people. */
  summary: string;
}

/** The channel's manifest as written, checked as clients check it. */
async function readDocument(path: string, channel: string): Promise<Record<string, unknown>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError(`Channel ${channel} has no manifest ${path}`);
    }
    throw error;
  }
  parseManifest(bytes, { url: PLACEHOLDER_URL, channel });
  return JSON.parse(new TextDecoder().decode(bytes));
}

const percent = (bp: number) => `${bp / 100}%`;

/** Apply `change` to `doc` (mutated); returns the summary. Refusals throw before any write. */
function apply(
  doc: Record<string, unknown>,
  change: RolloutChange,
  now: Date,
  channel: string,
): string {
  const release = `${doc.version} on ${channel}`;
  const rollout = isObject(doc.rollout) ? doc.rollout : null;
  const share = currentShare(doc, now);
  const complete = () => {
    delete doc.rollout;
    delete doc.previous;
  };
  switch (change.action) {
    case "widen": {
      if (rollout === null) {
        throw new RangeError(`Cannot widen the rollout of ${release}: it is complete (100%)`);
      }
      if (rollout.paused === true) {
        throw new RangeError(
          `Cannot widen the rollout of ${release}: it is paused (resume it first)`,
        );
      }
      if (change.basis_points <= share) {
        throw new RangeError(
          `Cannot widen the rollout of ${release} to ${percent(change.basis_points)}: it is at ${
            percent(share)
          } (a rollout only widens; to stop it, pause it)`,
        );
      }
      if (change.basis_points >= FULL) {
        complete();
        return `Widened ${release} to 100%: the rollout is complete`;
      }
      doc.rollout = { salt: rollout.salt, basis_points: change.basis_points, paused: false };
      return `Widened ${release} from ${percent(share)} to ${percent(change.basis_points)}`;
    }
    case "pause":
      if (rollout === null) {
        throw new RangeError(`Cannot pause the rollout of ${release}: it is complete (100%)`);
      }
      if (rollout.paused === true) {
        throw new RangeError(
          `Cannot pause the rollout of ${release}: it is already paused (since ${rollout.paused_at})`,
        );
      }
      doc.rollout = { ...rollout, paused: true, paused_at: isoSeconds(now) };
      return `Paused ${release} at ${percent(share)}: no install outside its cohort takes it`;
    case "resume": {
      if (rollout === null || rollout.paused !== true) {
        throw new RangeError(`Cannot resume the rollout of ${release}: it is not paused`);
      }
      const { paused_at: pausedAt, ...rest } = rollout;
      const resumed: Record<string, unknown> = { ...rest, paused: false };
      if (Array.isArray(rollout.ramp)) {
        resumed.ramp = resumedRamp(
          rollout.ramp,
          new Date(String(doc.released_at)),
          new Date(String(pausedAt)),
          now,
        );
      }
      doc.rollout = resumed;
      return `Resumed ${release} at ${percent(share)}`;
    }
    case "complete":
      if (rollout === null) {
        throw new RangeError(`Cannot complete the rollout of ${release}: it is already complete`);
      }
      complete();
      return `Completed the rollout of ${release}: every install is offered it`;
    case "yank":
      return yank(doc, change, now, channel);
    case "unyank": {
      const version = checkVersion(change.version);
      const list = Array.isArray(doc.yanked) ? doc.yanked : [];
      if (!yankedVersions(doc).has(version)) {
        throw new RangeError(`Cannot unyank ${version} on ${channel}: it is not yanked`);
      }
      const left = list.filter((y) => !(isObject(y) && y.version === version));
      if (left.length === 0) delete doc.yanked;
      else doc.yanked = left;
      return `Unyanked ${version} on ${channel} (to offer it again, release it again)`;
    }
    case "minimum": {
      if (change.version === null) {
        delete doc.minimum_version;
        return `Removed the minimum version of ${channel}`;
      }
      const version = checkVersion(change.version);
      if (compareVersions(version, String(doc.version)) > 0) {
        throw new RangeError(
          `Cannot set the minimum version of ${channel} to ${version}: the channel offers ${doc.version}`,
        );
      }
      doc.minimum_version = version;
      return `Set the minimum version of ${channel} to ${version}: installs below it update at once`;
    }
  }
}

function checkVersion(value: string): string {
  if (!isVersion(value)) {
    throw new ConfigError(`Invalid version ${JSON.stringify(value)}: expected a semver version`);
  }
  return parseVersion(value);
}

/** Yank: record the entry; yanking the offered release puts `previous` on top. */
function yank(
  doc: Record<string, unknown>,
  change: { version: string; reason: string },
  now: Date,
  channel: string,
): string {
  const version = checkVersion(change.version);
  const reason = change.reason.trim();
  if (reason.length === 0 || reason.length > MAX_REASON) {
    throw new ConfigError(
      `Invalid --reason: expected 1 to ${MAX_REASON} characters, got ${reason.length}`,
    );
  }
  const list = Array.isArray(doc.yanked) ? doc.yanked : [];
  if (yankedVersions(doc).has(version)) {
    throw new RangeError(`Cannot yank ${version} on ${channel}: it is already yanked`);
  }
  if (list.length >= MAX_YANKED) {
    throw new RangeError(
      `Cannot yank ${version} on ${channel}: the manifest already lists ${MAX_YANKED} yanked versions (unyank old ones first)`,
    );
  }
  const previous = isObject(doc.previous) ? doc.previous : null;
  let summary = `Yanked ${version} on ${channel}`;
  if (version === doc.version) {
    if (previous === null) {
      throw new RangeError(
        `Cannot yank ${version} on ${channel}: it is the channel's release and there is no previous complete release to offer instead (publish a fixed version, then yank ${version})`,
      );
    }
    const minimum = doc.minimum_version;
    if (typeof minimum === "string" && compareVersions(minimum, String(previous.version)) > 0) {
      throw new RangeError(
        `Cannot yank ${version} on ${channel}: the minimum version ${minimum} is above the release that would be offered (${previous.version}); lower it first`,
      );
    }
    doc.version = previous.version;
    doc.released_at = previous.released_at;
    doc.artifacts = previous.artifacts;
    doc.notes = null;
    delete doc.rollout;
    delete doc.previous;
    summary += `: the channel offers ${previous.version} to every install again`;
  } else if (previous !== null && previous.version === version) {
    delete doc.previous;
    summary += `: installs outside the rollout's cohort are offered nothing`;
  }
  doc.yanked = [...list, { version, reason, at: isoSeconds(now) }];
  return summary;
}

/**
 * Change a channel's rollout state (see {@linkcode RolloutChange}) and re-sign its manifest:
 * the serial goes up by one and `expires` is set. A change that makes no sense in the current
 * state (narrowing, pausing twice, yanking the only release) is a `RangeError`; a bad value a
 * `ConfigError`; neither writes anything.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * import { changeRollout } from "./rollout.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
 * const now = new Date("2026-11-20T10:00:00Z");
 * const expires = new Date("2026-12-20T10:00:00Z");
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   await publishRelease(tree, { channel: "stable", version, platform: "linux-x64", artifact,
 *     releasedAt: now, rollout: version === "1.0.0" ? undefined : { basis_points: 1000 } });
 * }
 * const { manifest, summary } = await changeRollout(tree, {
 *   channel: "stable", change: { action: "widen", basis_points: 5000 }, expires, now,
 * });
 * assert.equal(summary, "Widened 1.1.0 on stable from 10% to 50%");
 * assert.equal(manifest.serial, 3);
 * await assert.rejects(
 *   changeRollout(tree, { channel: "stable", change: { action: "widen", basis_points: 2000 }, expires, now }),
 *   { name: "RangeError", message: "Cannot widen the rollout of 1.1.0 on stable to 20%: it is at 50% (a rollout only widens; to stop it, pause it)" },
 * );
 * ```
 */
export async function changeRollout(
  tree: string,
  options: ChangeRolloutOptions,
): Promise<ChangeRolloutResult> {
  const now = options.now ?? new Date();
  const manifestPath = `${tree}/${options.channel}/manifest.json`;
  const doc = await readDocument(manifestPath, options.channel);
  if (options.expires.getTime() <= now.getTime()) {
    throw new RangeError(
      `Cannot change ${options.channel}: its manifest would expire at ${
        isoSeconds(options.expires)
      }, not after now (${isoSeconds(now)})`,
    );
  }
  let summary = apply(doc, options.change, now, options.channel);
  if (options.change.action === "yank") {
    const dir = `${tree}/${options.channel}/${parseVersion(options.change.version)}`;
    const known = await Deno.stat(dir).then((i) => i.isDirectory, () => false);
    if (!known) summary += ` (never published in this tree: recorded, a no-op for clients)`;
  }
  doc.serial = Number(doc.serial ?? 0) + 1;
  doc.expires = isoSeconds(options.expires);
  const bytes = new TextEncoder().encode(JSON.stringify(doc, null, 2) + "\n");
  const manifest = parseManifest(bytes, { url: PLACEHOLDER_URL, channel: options.channel });
  const signaturePath = await writeSignedManifest(manifestPath, bytes, options.keys ?? []);
  return { manifest, manifestPath, signaturePath, summary };
}

/**
 * The rollout state of `<tree>/<channel>/manifest.json` at `now`, with its serial and expiry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * import { readRolloutState } from "./rollout.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
 * await publishRelease(tree, { channel: "beta", version: "2.0.0", platform: "linux-x64", artifact,
 *   rollout: { basis_points: 100 } });
 * const state = await readRolloutState(tree, "beta");
 * assert.deepEqual([state.version, state.share_basis_points, state.serial, state.previous], ["2.0.0", 100, 1, null]);
 * ```
 */
export async function readRolloutState(
  tree: string,
  channel: string,
  now: Date = new Date(),
): Promise<RolloutState & { channel: string; serial: number | null; expires: string | null }> {
  const doc = await readDocument(`${tree}/${channel}/manifest.json`, channel);
  return {
    channel,
    serial: typeof doc.serial === "number" ? doc.serial : null,
    expires: typeof doc.expires === "string" ? doc.expires : null,
    ...rolloutState(doc, now),
  };
}
