/**
 * The trust state of an install root: per channel, the last manifest accepted (its serial and
 * SHA-256: rollback protection) and the key set after a rotation. It is kept apart from
 * `state.json`, in `trust.json` and a verified backup copy `trust.json.bak`, so that a damaged
 * state file, whose other fields may start afresh, cannot erase it (docs/SECURITY.md,
 * "Trust state").
 *
 * - **Two copies, each verified.** Both files hold the same document: a generation that rises at
 *   every write and a SHA-256 over the content. Each is written atomically (temp file, fsync,
 *   rename, fsync of the folder), the main copy first, then the backup, so a crash leaves at
 *   least one whole copy of the newest or the previous generation.
 * - **Read.** A copy counts when it parses and its digest matches. With one good copy, that copy
 *   is used and the other is restored from it by the next command that holds the install lock
 *   (and said, and audited). With none, while either file exists, the trust state is damaged:
 *   manifests are refused for every channel and nothing is written, until
 *   `ms11-update trust reset` starts trust afresh from the pinned keys (audited).
 * - **Migration.** Roots written by clients before this file kept the records in `state.json`
 *   (`trusted`). When neither copy exists, they are read from there and moved by the first
 *   locked command; a record that cannot be read there blocks its channel (a state file that
 *   cannot be read at all blocks every channel) until `trust reset`, since it may have held one.
 *
 * Light: no crypto import (Web Crypto's digest), no network code.
 *
 * @module
 */
import { TrustStateError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { refuseLinks } from "./safe.ts";
import { jsonText } from "../core/text.ts";
import { isChannelName, isObject } from "../core/validate.ts";
import type { TrustedRecord } from "../trust/verify.ts";
import { appendAudit } from "./audit.ts";
import type { Layout } from "./layout.ts";
import {
  describe,
  digestOf,
  emptyTrust,
  EVERY_CHANNEL,
  parseTrustedRecord,
  readCopy,
  TRUST_SCHEMA,
  type TrustDocument,
} from "./_trust_copy.ts";

export { emptyTrust, EVERY_CHANNEL, parseTrustedRecord, TRUST_SCHEMA, type TrustDocument };

/**
 * The trust state as read for one command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { readTrust, type TrustView } from "./trust_state.ts";
 * const view: TrustView = await readTrust(layoutOf(await Deno.makeTempDir()));
 * assert.equal(view.source, "none");
 * ```
 */
export interface TrustView {
  /** The records in force (empty when damaged). */
  document: TrustDocument;
  /** When no good copy exists although a file does: what is wrong with each (nothing is trusted). */
  damaged: string | null;
  /** What was found and is set right by {@linkcode settleTrust}, for people and the audit log. */
  notes: string[];
  /** Whether the files must be written to be settled (a copy to restore, a migration). */
  unsettled: boolean;
  /** Where the records came from: the trust files, an old state file, or nowhere (a new root). */
  source: "files" | "state" | "none";
}

/** The records of a state file written before trust.json existed (`trusted`), moved once. */
async function fromOldState(layout: Layout): Promise<TrustView> {
  const view: TrustView = {
    document: emptyTrust(),
    damaged: null,
    notes: [],
    unsettled: true,
    source: "none",
  };
  let text: string;
  try {
    text = await Deno.readTextFile(layout.state);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return view;
    throw error;
  }
  view.source = "state";
  const lost = (why: string) =>
    `${layout.state}, which held the trust state before ${layout.trust}, ${why}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  if (!isObject(raw) || !Number.isSafeInteger(raw.schema)) {
    view.document.blocked[EVERY_CHANNEL] = lost("cannot be read");
    view.notes.push(`Trust state: ${view.document.blocked[EVERY_CHANNEL]}`);
    return view;
  }
  if (raw.trusted === undefined) return view;
  if (!isObject(raw.trusted)) {
    view.document.blocked[EVERY_CHANNEL] = lost("has a trusted field that cannot be read");
    view.notes.push(`Trust state: ${view.document.blocked[EVERY_CHANNEL]}`);
    return view;
  }
  for (const [channel, t] of Object.entries(raw.trusted)) {
    if (!isChannelName(channel)) continue; // no channel can be named so: it protects nothing
    const record = parseTrustedRecord(t);
    if (record !== null) view.document.channels[channel] = record;
    else view.document.blocked[channel] = lost(`has a record for ${channel} that cannot be read`);
  }
  const moved = Object.keys(view.document.channels);
  if (moved.length > 0) {
    view.notes.push(
      `Trust state of ${moved.join(", ")} moved from ${layout.state} to ${layout.trust}`,
    );
  }
  for (const why of Object.values(view.document.blocked)) view.notes.push(`Trust state: ${why}`);
  return view;
}

/**
 * Read the trust state of an install root: the newer of the two copies that are good, the
 * records of an old state file when neither copy exists, or nothing for a new root. Writes
 * nothing ({@linkcode settleTrust} does, under the lock). A copy of a newer schema is a
 * `RangeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyTrust, readTrust, writeTrust } from "./trust_state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await writeTrust(layout, emptyTrust());
 * await Deno.writeTextFile(layout.trust, "{ garbage");
 * const view = await readTrust(layout);
 * assert.equal(view.damaged, null); // the backup is good
 * assert.equal(view.unsettled, true);
 * assert.deepEqual(view.notes, [
 *   `Trust file ${layout.trust} is damaged (not valid JSON); it is restored from ${layout.trustBackup}`,
 * ]);
 * await Deno.writeTextFile(layout.trustBackup, "");
 * assert.match((await readTrust(layout)).damaged!, /is damaged \(empty\)$/);
 * ```
 */
export async function readTrust(layout: Layout): Promise<TrustView> {
  const [main, backup] = await Promise.all([readCopy(layout.trust), readCopy(layout.trustBackup)]);
  if (main.kind === "missing" && backup.kind === "missing") return await fromOldState(layout);
  if (main.kind !== "good" && backup.kind !== "good") {
    return {
      document: emptyTrust(),
      damaged: `${describe(layout.trust, main)} and its backup ${
        describe(layout.trustBackup, backup)
      }`,
      notes: [],
      unsettled: false,
      source: "files",
    };
  }
  const useBackup = main.kind !== "good" ||
    (backup.kind === "good" && backup.document.generation > main.document.generation);
  const [best, other, bestPath, otherPath] = useBackup
    ? [backup, main, layout.trustBackup, layout.trust]
    : [main, backup, layout.trust, layout.trustBackup];
  const document = (best as { document: TrustDocument }).document;
  const notes: string[] = [];
  if (other.kind === "bad") {
    notes.push(
      `Trust file ${otherPath} is damaged (${other.why}); it is restored from ${bestPath}`,
    );
  } else if (other.kind === "missing") {
    notes.push(`Trust file ${otherPath} is missing; it is restored from ${bestPath}`);
  }
  const unsettled = other.kind !== "good" || other.document.generation !== document.generation;
  return { document, damaged: null, notes, unsettled, source: "files" };
}

/**
 * Write the trust document to both copies, the main one first (generation + 1, digest, each
 * atomically); returns what was written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyTrust, readTrust, writeTrust } from "./trust_state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const written = await writeTrust(layout, emptyTrust());
 * assert.equal(written.generation, 1);
 * assert.equal(await Deno.readTextFile(layout.trust), await Deno.readTextFile(layout.trustBackup));
 * assert.deepEqual((await readTrust(layout)).document, written);
 * ```
 */
export async function writeTrust(layout: Layout, document: TrustDocument): Promise<TrustDocument> {
  const next: TrustDocument = {
    schema: TRUST_SCHEMA,
    generation: document.generation + 1,
    channels: document.channels,
    blocked: document.blocked,
  };
  const text = jsonText({ ...next, sha256: await digestOf(next) }, 2) + "\n";
  // Never through a link planted in the root (lib/root/safe.ts); a full disk names the file.
  for (const path of [layout.trust, layout.trustBackup]) {
    await refuseLinks(layout, path);
    await writeFileAtomic(path, text, { what: `the trust file ${path}` });
  }
  return next;
}

/**
 * Options of {@linkcode settleTrust}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SettleTrustOptions } from "./trust_state.ts";
 * const told: string[] = [];
 * const options: SettleTrustOptions = { now: new Date(), onNote: (m) => told.push(m) };
 * options.onNote?.("restored");
 * assert.deepEqual(told, ["restored"]);
 * ```
 */
export interface SettleTrustOptions {
  /** The time for the audit log. */
  now: Date;
  /** Told each thing that was set right (a restored copy, a migration). */
  onNote?: (message: string) => void;
}

/**
 * Set the trust files right, under the install lock the caller holds: restore a damaged or
 * missing copy from the good one, move the records of an old state file, create the files of a
 * new root. Each note is audited (`trust_recovered`, `trust_migrated`) and told. A damaged trust
 * state (no good copy) is left exactly as it is. Returns the view in force afterwards.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { readTrust, settleTrust } from "./trust_state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.writeTextFile(layout.state, JSON.stringify({ schema: 1, trusted: { stable: {
 *   serial: 7, sha256: "a".repeat(64), version: "1.1.0", expires: "2026-12-27T00:00:00Z",
 *   accepted_at: "2026-11-27T00:00:00Z", keys: null, pinned: null } } }));
 * const told: string[] = [];
 * const view = await settleTrust(layout, await readTrust(layout), {
 *   now: new Date(), onNote: (m) => told.push(m),
 * });
 * assert.equal(view.document.channels.stable.serial, 7);
 * assert.deepEqual(told, [`Trust state of stable moved from ${layout.state} to ${layout.trust}`]);
 * assert.equal((await readTrust(layout)).source, "files");
 * ```
 */
export async function settleTrust(
  layout: Layout,
  view: TrustView,
  options: SettleTrustOptions,
): Promise<TrustView> {
  if (view.damaged !== null || !view.unsettled) return view;
  const document = await writeTrust(layout, view.document);
  for (const note of view.notes) {
    await appendAudit(layout, {
      at: options.now.toISOString(),
      event: view.source === "state" ? "trust_migrated" : "trust_recovered",
      reason: note,
      file: layout.trust,
    });
    options.onNote?.(note);
  }
  return { document, damaged: null, notes: [], unsettled: false, source: "files" };
}

/**
 * The command that starts trust afresh, as the refusals name it: for one channel, or (null) all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { resetCommandFor } from "./trust_state.ts";
 * assert.equal(resetCommandFor(layoutOf("/opt/ms11"), "canary"),
 *   "ms11-update trust reset --channel canary --root /opt/ms11");
 * ```
 */
export function resetCommandFor(layout: Layout, channel: string | null): string {
  return `ms11-update trust reset${
    channel === null ? "" : ` --channel ${channel}`
  } --root ${layout.root}`;
}

/**
 * The record accepted before on `channel` (null: nothing yet), or a {@linkcode TrustStateError}
 * when the trust state cannot vouch for the channel: no good copy, or the channel's records were
 * lost. The message names the file and the recovery command; nothing is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { readTrust, trustedFor } from "./trust_state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.equal(trustedFor(layout, await readTrust(layout), "stable"), null); // a new root
 * await Deno.writeTextFile(layout.trust, "");
 * const damaged = await readTrust(layout);
 * assert.throws(() => trustedFor(layout, damaged, "stable"), {
 *   name: "TrustStateError",
 *   message: `Trust state cannot be read: ${layout.trust} is damaged (empty) and its backup ` +
 *     `${layout.trustBackup} is missing: manifests for stable are refused until trust is ` +
 *     `started afresh from the pinned keys (run ms11-update trust reset --root ${layout.root})`,
 * });
 * ```
 */
export function trustedFor(
  layout: Layout,
  view: TrustView,
  channel: string,
): TrustedRecord | null {
  const refused = trustRefusal(layout, view, channel);
  if (refused !== null) throw new TrustStateError(layout.trust, channel, refused);
  const channels = view.document.channels;
  return Object.hasOwn(channels, channel) ? channels[channel] : null;
}

/**
 * Why manifests for `channel` (null: for every channel) are refused, or null: the message of
 * {@linkcode trustedFor}'s error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyTrust, trustRefusal } from "./trust_state.ts";
 * const layout = layoutOf("/opt/ms11");
 * const view = { document: { ...emptyTrust(), blocked: { canary: "lost" } }, damaged: null,
 *   notes: [], unsettled: false, source: "files" as const };
 * assert.equal(trustRefusal(layout, view, "stable"), null);
 * assert.match(trustRefusal(layout, view, "canary")!, /^Trust state of canary was lost: lost: /);
 * ```
 */
export function trustRefusal(
  layout: Layout,
  view: TrustView,
  channel: string | null,
): string | null {
  const refused = (why: string, command: string) =>
    `Trust state ${why}: manifests for ${
      channel ?? "every channel"
    } are refused until trust is started afresh from the pinned keys (run ${command})`;
  if (view.damaged !== null) {
    return refused(`cannot be read: ${view.damaged}`, resetCommandFor(layout, null));
  }
  const blocked = view.document.blocked;
  if (Object.hasOwn(blocked, EVERY_CHANNEL)) {
    return refused(`was lost: ${blocked[EVERY_CHANNEL]}`, resetCommandFor(layout, null));
  }
  if (channel !== null && Object.hasOwn(blocked, channel)) {
    return refused(`of ${channel} was lost: ${blocked[channel]}`, resetCommandFor(layout, channel));
  }
  return null;
}

/**
 * `document` with `record` as the channel's accepted manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTrust, withTrusted } from "./trust_state.ts";
 * const record = { serial: 3, sha256: "a".repeat(64), version: "1.1.0",
 *   expires: "2026-12-27T00:00:00Z", accepted_at: "2026-11-27T00:00:00Z", keys: null, pinned: null };
 * const doc = withTrusted(emptyTrust(), "stable", record);
 * assert.equal(doc.channels.stable.serial, 3);
 * assert.deepEqual(emptyTrust().channels, {});
 * ```
 */
export function withTrusted(
  document: TrustDocument,
  channel: string,
  record: TrustedRecord,
): TrustDocument {
  return { ...document, channels: { ...document.channels, [channel]: record } };
}
