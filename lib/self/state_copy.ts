/**
 * The install's state files as they were before a candidate's trial, so that a candidate that
 * rewrites them in a newer schema and then fails to start cannot leave the updater that serves
 * the launch (an older one) facing files it cannot read.
 *
 * Before the updater at the launcher's path hands a launch to a candidate (lib/self/trial.ts), it
 * copies, under the install lock, every file a migration may rewrite — `state.json`, `trust.json`
 * and its `.bak`, `updater/state.json` — into one owner-only document,
 * `<root>/updater/pre-trial.json` (written atomically: temp file, fsync, rename). When the
 * candidate is refused (it ended before it reported its start), or the launch is stopped by the
 * user, or it started but could not be put at the launcher's path, a file that now has a schema newer than this updater understands, and whose copy it can
 * read, is put back as it was (each atomically, under the lock, audited as
 * `updater_state_restored`); the two trust copies go back together, exactly as they were (one
 * the candidate made is removed). Files of a schema this updater reads are never put back: what
 * the candidate wrote in them stands. Once the candidate
 * is promoted, its files are the install's and the copy is removed.
 *
 * @module
 */
import { removeIfExists, writeFileAtomic } from "../core/fs.ts";
import { isNonEmptyString as str, isObject } from "../core/validate.ts";
import { appendAudit } from "../root/audit.ts";
import type { Layout } from "../root/layout.ts";
import { acquireLock } from "../root/lock.ts";
import { MODES, refuseLinks } from "../root/safe.ts";
import { STATE_SCHEMA } from "../root/state.ts";
import { TRUST_SCHEMA } from "../root/trust_state.ts";
import { ensureSelfDir, SELF_STATE_SCHEMA, selfPaths } from "./state.ts";

/** The copy's own schema. */
const COPY_SCHEMA = 1;

/** The largest state file copied (a larger one is not copied, and so never put back). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The files a migration may rewrite, relative to the install root, in groups put back together,
 * each with the schema this updater understands.
 */
const GROUPS: { names: string[]; schema: number }[] = [
  { names: ["state.json"], schema: STATE_SCHEMA },
  { names: ["trust.json", "trust.json.bak"], schema: TRUST_SCHEMA },
  { names: ["updater/state.json"], schema: SELF_STATE_SCHEMA },
];

/**
 * Where the copy is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { stateCopyPath } from "./state_copy.ts";
 * assert.equal(stateCopyPath(layoutOf("/opt/ms11")), "/opt/ms11/updater/pre-trial.json");
 * ```
 */
export function stateCopyPath(layout: Layout): string {
  return `${selfPaths(layout).dir}/pre-trial.json`;
}

/** A copied file: its text and mode, or null when it was not there. */
type CopiedFile = { text: string; mode: number } | null;

interface StateCopy {
  schema: number;
  /** The updater that took it (the one at the launcher's path). */
  by: string;
  /** The candidate whose trial it was taken for. */
  candidate: string;
  taken_at: string;
  files: Record<string, CopiedFile>;
}

/**
 * Options of {@linkcode copyStateFiles} and {@linkcode restoreStateFiles}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StateCopyOptions } from "./state_copy.ts";
 * const options: StateCopyOptions = { running: "0.1.0", candidate: "0.2.0", lockWaitMs: 5000 };
 * assert.equal(options.candidate, "0.2.0");
 * ```
 */
export interface StateCopyOptions {
  /** The updater at the launcher's path (which hands the launch over). */
  running: string;
  /** The candidate on trial. */
  candidate: string;
  /** How long to wait for the install lock (default 5000 ms). */
  lockWaitMs?: number;
  /** The clock (default: now). */
  now?: Date;
}

/** The schema a state file's text declares, or null (not JSON, no schema). */
function schemaOf(text: string): number | null {
  try {
    const raw = JSON.parse(text);
    return isObject(raw) && Number.isSafeInteger(raw.schema) ? raw.schema as number : null;
  } catch {
    return null;
  }
}

async function readCopied(layout: Layout, name: string): Promise<CopiedFile> {
  const path = `${layout.root}/${name}`;
  await refuseLinks(layout, path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  if (!info.isFile || info.size > MAX_FILE_BYTES) return null;
  return { text: await Deno.readTextFile(path), mode: (info.mode ?? MODES.state) & 0o777 };
}

/**
 * Copy the install's state files, under the install lock, before the candidate
 * `options.candidate` is tried (see the module's documentation). The copy replaces any earlier
 * one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { copyStateFiles, stateCopyPath } from "./state_copy.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(layout.builds);
 * await Deno.writeTextFile(layout.state, '{"schema": 2}');
 * await copyStateFiles(layout, { running: "0.1.0", candidate: "0.2.0" });
 * const copy = JSON.parse(await Deno.readTextFile(stateCopyPath(layout)));
 * assert.deepEqual([copy.by, copy.candidate, copy.files["state.json"].text, copy.files["trust.json"]],
 *   ["0.1.0", "0.2.0", '{"schema": 2}', null]);
 * assert.equal((await Deno.stat(stateCopyPath(layout))).mode! & 0o777, 0o600);
 * ```
 */
export async function copyStateFiles(layout: Layout, options: StateCopyOptions): Promise<void> {
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 5000 });
  const files: Record<string, CopiedFile> = {};
  for (const { names } of GROUPS) {
    for (const name of names) files[name] = await readCopied(layout, name);
  }
  const copy: StateCopy = {
    schema: COPY_SCHEMA,
    by: options.running,
    candidate: options.candidate,
    taken_at: (options.now ?? new Date()).toISOString(),
    files,
  };
  await ensureSelfDir(layout);
  const path = stateCopyPath(layout);
  await refuseLinks(layout, path);
  await writeFileAtomic(path, JSON.stringify(copy) + "\n", {
    mode: MODES.privateFile,
    what: `the copy of the install's state files ${path}`,
  });
}

async function readCopy(layout: Layout): Promise<StateCopy | null> {
  const path = stateCopyPath(layout);
  await refuseLinks(layout, path);
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null; // missing or torn: nothing to put back
  }
  if (
    !isObject(raw) || raw.schema !== COPY_SCHEMA || !str(raw.by) || !str(raw.candidate) ||
    !str(raw.taken_at) || !isObject(raw.files)
  ) return null;
  const files: Record<string, CopiedFile> = {};
  for (const { names } of GROUPS) {
    for (const name of names) {
      const f = raw.files[name];
      if (f === null) files[name] = null;
      else if (isObject(f) && typeof f.text === "string" && Number.isInteger(f.mode)) {
        files[name] = { text: f.text, mode: (f.mode as number) & 0o777 };
      } else return null;
    }
  }
  return {
    schema: COPY_SCHEMA,
    by: raw.by,
    candidate: raw.candidate,
    taken_at: raw.taken_at,
    files,
  };
}

/**
 * After the candidate `options.candidate` ended without being promoted: put back, under the
 * install lock, each group of state files that now has a schema newer than this updater
 * understands, from the copy this updater (`options.running`) took before the trial, when that
 * copy is one it reads (see the module's documentation). Resolves to the names put back (each
 * audited); the copy is removed either way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { STATE_SCHEMA } from "../root/state.ts";
 * import { copyStateFiles, restoreStateFiles } from "./state_copy.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(layout.builds);
 * const before = JSON.stringify({ schema: STATE_SCHEMA, staged: null });
 * await Deno.writeTextFile(layout.state, before);
 * const options = { running: "0.1.0", candidate: "0.2.0" };
 * await copyStateFiles(layout, options);
 * // The candidate migrated the file to a schema 0.1.0 does not know, then crashed.
 * await Deno.writeTextFile(layout.state, JSON.stringify({ schema: STATE_SCHEMA + 1 }));
 * const reason = "0.2.0 exited with code 3 before it started";
 * assert.deepEqual(await restoreStateFiles(layout, { ...options, reason }), ["state.json"]);
 * assert.equal(await Deno.readTextFile(layout.state), before);
 * assert.deepEqual(await restoreStateFiles(layout, { ...options, reason }), []); // the copy is gone
 * ```
 */
export async function restoreStateFiles(
  layout: Layout,
  options: StateCopyOptions & { reason: string },
): Promise<string[]> {
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 5000 });
  const copy = await readCopy(layout);
  if (copy === null || copy.by !== options.running || copy.candidate !== options.candidate) {
    await dropStateCopy(layout);
    return [];
  }
  const restored: string[] = [];
  for (const { names, schema } of GROUPS) {
    const now = await Promise.all(names.map((name) => readCopied(layout, name)));
    const newer = now.some((f) => f !== null && (schemaOf(f.text) ?? 0) > schema);
    const readable = names.every((name) => {
      const f = copy.files[name];
      return f === null || (schemaOf(f.text) ?? Infinity) <= schema;
    });
    if (!newer || !readable) continue;
    for (const name of names) {
      const f = copy.files[name];
      const path = `${layout.root}/${name}`;
      await refuseLinks(layout, path);
      if (f !== null) {
        await writeFileAtomic(path, f.text, { mode: f.mode, what: `the state file ${path}` });
      } else if (now[names.indexOf(name)] !== null) {
        await removeIfExists(path); // not there before the trial: the group as it was
      } else continue;
      restored.push(name);
    }
  }
  if (restored.length > 0) {
    await appendAudit(layout, {
      at: (options.now ?? new Date()).toISOString(),
      event: "updater_state_restored",
      reason: options.reason,
      version: options.candidate,
      running: options.running,
      files: restored,
      taken_at: copy.taken_at,
    });
  }
  await dropStateCopy(layout);
  return restored;
}

/**
 * Remove the copy (the candidate was promoted: its files are the install's now).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { copyStateFiles, dropStateCopy, stateCopyPath } from "./state_copy.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(layout.builds);
 * await copyStateFiles(layout, { running: "0.1.0", candidate: "0.2.0" });
 * await dropStateCopy(layout);
 * await assert.rejects(Deno.stat(stateCopyPath(layout)), Deno.errors.NotFound);
 * ```
 */
export async function dropStateCopy(layout: Layout): Promise<void> {
  const path = stateCopyPath(layout);
  await refuseLinks(layout, path);
  await removeIfExists(path);
}
