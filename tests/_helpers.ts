import { createHash } from "node:crypto";
// Shared helpers of the unit tests: temporary directories that clean up after themselves,
// assertions on the exact error class and message, and small install-root builders.
import assert from "node:assert/strict";
import { buildDir, type Layout, layoutOf } from "../lib/root/layout.ts";
import { type BuildRecord, emptyState, type State, writeState } from "../lib/root/state.ts";

/** SHA-256 of some bytes (or a string's UTF-8), lowercase hex. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `n` deterministic pseudo-random bytes (a linear congruential sequence from `seed`). */
export function pseudoRandom(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A temporary directory removed (recursively) when disposed. */
export interface TempDir extends AsyncDisposable {
  /** Its absolute path. */
  path: string;
}

/** Make a temporary directory; dispose it with `await using`. */
export async function tempDir(prefix = "ms11-unit-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
  };
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

function check(error: unknown, cls: ErrorClass, message: string | RegExp): true {
  assert.ok(
    error instanceof cls,
    `expected a ${cls.name}, got ${error instanceof Error ? error.name : typeof error}: ${error}`,
  );
  // Exact class, not a subclass that happens to pass instanceof (e.g. ConfigError vs Error).
  assert.equal(Object.getPrototypeOf(error), cls.prototype, `expected exactly a ${cls.name}`);
  if (typeof message === "string") assert.equal((error as Error).message, message);
  else assert.match((error as Error).message, message);
  return true;
}

/** Assert that `fn` throws exactly an instance of `cls` with this message (string: exact). */
export function throwsWith(fn: () => unknown, cls: ErrorClass, message: string | RegExp): void {
  let thrown = false;
  try {
    fn();
  } catch (error) {
    thrown = true;
    check(error, cls, message);
  }
  assert.ok(thrown, `expected ${cls.name}: ${message}, but nothing was thrown`);
}

/** Assert that `promise` rejects with exactly an instance of `cls` with this message. */
export async function rejectsWith(
  promise: Promise<unknown> | (() => Promise<unknown>),
  cls: ErrorClass,
  message: string | RegExp,
): Promise<Error> {
  let caught: unknown = undefined;
  let thrown = false;
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    thrown = true;
    caught = error;
  }
  assert.ok(thrown, `expected ${cls.name}: ${message}, but it resolved`);
  check(caught, cls, message);
  return caught as Error;
}

/** Read a file's bytes, or null when it does not exist. */
export async function bytesOf(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The names in a directory, sorted ([] when it does not exist). */
export async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** A build record with sensible defaults. */
export function buildRecord(version: string, extra: Partial<BuildRecord> = {}): BuildRecord {
  return {
    version,
    channel: "stable",
    sha256: "a".repeat(64),
    kind: "executable",
    installed_at: "2026-11-01T00:00:00.000Z",
    retired_at: null,
    ...extra,
  };
}

/** What {@linkcode makeRoot} sets up. */
export interface RootSpec {
  /** Build directories to create (each holds an `ms11` file naming its version). */
  builds?: string[];
  /** The version `current` points at. */
  current?: string;
  /** The state to write (after `builds` records are filled in when missing). */
  state?: State;
  /** Fill in a default record for every build without one (default true). */
  records?: boolean;
}

/** Create an install root under `dir` with builds, a `current` link and a state file. */
export async function makeRoot(dir: string, spec: RootSpec = {}): Promise<Layout> {
  const layout = layoutOf(`${dir}/root`);
  await Deno.mkdir(layout.builds, { recursive: true });
  for (const version of spec.builds ?? []) {
    await Deno.mkdir(buildDir(layout, version));
    await Deno.writeTextFile(`${buildDir(layout, version)}/ms11`, `MS11 ${version}\n`);
  }
  if (spec.current !== undefined) await Deno.symlink(`builds/${spec.current}`, layout.current);
  if (spec.state !== undefined || spec.builds !== undefined) {
    const state = spec.state ?? emptyState();
    if (spec.records ?? true) {
      for (const version of spec.builds ?? []) {
        state.builds[version] ??= buildRecord(version);
      }
    }
    await writeState(layout, state);
  }
  return layout;
}

/** The URL of a lib module, for subprocesses that import it. */
export function libUrl(name: string): string {
  return new URL(`../lib/${name}`, import.meta.url).href;
}

/** The result of {@linkcode denoEval}. */
export type EvalResult = DenoRun;

const DENO_JSON = new URL("../deno.json", import.meta.url).pathname;

/** The result of one `deno` subprocess. */
export interface DenoRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runDeno}. */
export interface RunDenoOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** A program that runs deno, with its arguments (such as strace). */
  prefix?: string[];
}

/**
 * Run the `deno` running the tests with `args`, and wait for it. Colours and Deno's own update
 * check are off (the latter would otherwise reach the network now and then).
 */
export async function runDeno(args: string[], options: RunDenoOptions = {}): Promise<DenoRun> {
  const [program, ...before] = [...options.prefix ?? [], Deno.execPath()];
  const output = await new Deno.Command(program, {
    args: [...before, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Run `deno eval <code>` (with this project's import map) in `cwd`, and wait for it. */
export function denoEval(code: string, cwd?: string): Promise<EvalResult> {
  return runDeno(["eval", "--quiet", "--config", DENO_JSON, code], { cwd });
}

/** Spawn `deno eval <code>` with this project's import map; the caller waits and cleans up. */
export function denoSpawn(code: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--config", DENO_JSON, code],
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Read lines from a stream until one satisfies `done`; returns the text read so far. */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  done: (text: string) => boolean,
): Promise<{ text: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!done(text)) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += decoder.decode(value, { stream: true });
  }
  return { text, reader };
}

/**
 * Wait up to `ms` for the process `pid` (written by a test script to `pidFile`) to be gone: no
 * longer in /proc, or a zombie (killed, waiting for a parent that may never reap it). Resolves
 * to whether it is gone.
 */
export async function processGone(pidFile: string, ms = 3000): Promise<boolean> {
  const pid = (await Deno.readTextFile(pidFile)).trim();
  if (!/^\d+$/.test(pid)) throw new Error(`No pid in ${pidFile}: ${JSON.stringify(pid)}`);
  for (const end = Date.now() + ms; Date.now() < end;) {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
    // The state follows the command name in parentheses: "123 (sleep) S ...".
    if (stat === null || stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** Whether strace is installed and may trace a child here (ptrace can be forbidden). */
export function haveStrace(): boolean {
  try {
    return new Deno.Command("strace", {
      args: ["-qq", "-e", "trace=none", "true"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Run `code` (as `deno eval`) under strace and return the paths of the files and folders it
 * fsynced (`fsync` or `fdatasync`; strace `-y` names each descriptor's path). Fails when the code
 * fails.
 */
export async function fsyncedPaths(code: string): Promise<Set<string>> {
  await using dir = await tempDir("ms11-strace-");
  const log = `${dir.path}/trace`;
  const run = await runDeno(["eval", code], {
    prefix: ["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", log],
  });
  if (run.code !== 0) throw new Error(`traced code failed (${run.code}): ${run.stderr}`);
  const synced = new Set<string>();
  for (
    const match of (await Deno.readTextFile(log)).matchAll(/(?:fsync|fdatasync)\(\d+<([^>]*)>/g)
  ) {
    synced.add(match[1]);
  }
  return synced;
}
