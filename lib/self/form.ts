/**
 * Which ms11-update is running, and in which form: the compiled executable (`deno compile`), the
 * code-split bundle (`deno bundle --code-splitting`, run by `deno run`), or the source tree. The
 * form says where the launcher's path is (the file to replace when the updater updates itself)
 * and which updater artifact of a manifest fits it. Nothing here writes to the disk.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };

/**
 * This program's version (deno.json's, inlined by `deno bundle` and `deno compile`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import denoJson from "../../deno.json" with { type: "json" };
 * import { UPDATER_VERSION } from "./form.ts";
 * assert.equal(UPDATER_VERSION, denoJson.version);
 * ```
 */
export const UPDATER_VERSION: string = denoJson.version;

/**
 * How a candidate bundle is started with `deno run`: all permissions, no project configuration,
 * and the V8 flags of the compile task (docs/PERFORMANCE.md, "Peak memory").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLE_RUN_ARGS } from "./form.ts";
 * assert.deepEqual(BUNDLE_RUN_ARGS.slice(0, 4), ["run", "-A", "--no-config", "--quiet"]);
 * assert.match(BUNDLE_RUN_ARGS[4], /^--v8-flags=/);
 * ```
 */
export const BUNDLE_RUN_ARGS: readonly string[] = [
  "run",
  "-A",
  "--no-config",
  "--quiet",
  ...(String(denoJson.tasks.compile).match(/--v8-flags=\S+/g) ?? []),
];

/**
 * The key of the code-split bundle among a manifest's updater artifacts (the compiled
 * executables are keyed by platform).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLE_KEY } from "./form.ts";
 * assert.equal(BUNDLE_KEY, "bundle");
 * ```
 */
export const BUNDLE_KEY = "bundle";

/**
 * The name of the compiled executable inside a kept copy (`<root>/updater/<version>/`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXECUTABLE_NAME } from "./form.ts";
 * assert.equal(EXECUTABLE_NAME, "ms11-update");
 * ```
 */
export const EXECUTABLE_NAME = "ms11-update";

/**
 * The bundle's entry module inside a kept copy and inside a bundle artifact.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLE_ENTRY } from "./form.ts";
 * assert.equal(BUNDLE_ENTRY, "main.js");
 * ```
 */
export const BUNDLE_ENTRY = "main.js";

/**
 * The form of a running (or kept) ms11-update.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdaterForm } from "./form.ts";
 * const form: UpdaterForm = { kind: "bundle", path: "/opt/ms11/updater/main.js", key: "bundle" };
 * assert.equal(form.key, "bundle");
 * ```
 */
export interface UpdaterForm {
  /**
   * `executable`: one file, run directly; `bundle`: an entry module run by `deno run`, its
   * chunks beside it; `source`: main.ts of a source tree (updated with its checkout, never by
   * itself).
   */
  kind: "executable" | "bundle" | "source";
  /** The file the launcher runs: the executable, or the bundle's entry module. */
  path: string;
  /** The manifest's updater artifact for this form (a platform, or `bundle`); null for source. */
  key: string | null;
}

/**
 * What {@linkcode formOf} looks at (the running process's, by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formOf, type ProcessFacts } from "./form.ts";
 * const facts: ProcessFacts = {
 *   standalone: true, execPath: "/opt/ms11/bin/ms11-update", mainModule: "file:///x/main.ts",
 *   platform: "linux-x64",
 * };
 * assert.equal(formOf(facts).kind, "executable");
 * ```
 */
export interface ProcessFacts {
  /** `Deno.build.standalone`: a `deno compile` executable. */
  standalone: boolean;
  /** `Deno.execPath()`. */
  execPath: string;
  /** `Deno.mainModule`. */
  mainModule: string;
  /** This machine's platform key (`linux-x64`, …). */
  platform: string;
}

/**
 * The form a process with these facts runs in (pure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formOf } from "./form.ts";
 * const facts = { standalone: false, execPath: "/usr/bin/deno", platform: "linux-x64" };
 * assert.deepEqual(formOf({ ...facts, mainModule: "file:///opt/ms11/updater/main.js" }), {
 *   kind: "bundle", path: "/opt/ms11/updater/main.js", key: "bundle",
 * });
 * assert.deepEqual(formOf({ ...facts, mainModule: "file:///src/ms11-update/main.ts" }), {
 *   kind: "source", path: "/src/ms11-update/main.ts", key: null,
 * });
 * assert.deepEqual(formOf({ ...facts, standalone: true, execPath: "/opt/bin/ms11-update", mainModule: "file:///x.ts" }).key, "linux-x64");
 * ```
 */
export function formOf(facts: ProcessFacts): UpdaterForm {
  if (facts.standalone) return { kind: "executable", path: facts.execPath, key: facts.platform };
  let path = facts.mainModule;
  try {
    const url = new URL(facts.mainModule);
    if (url.protocol === "file:") path = decodeURIComponent(url.pathname);
  } catch {
    // not a URL: keep it as it is
  }
  return path.endsWith(".js") && facts.mainModule.startsWith("file:")
    ? { kind: "bundle", path, key: BUNDLE_KEY }
    : { kind: "source", path, key: null };
}

/**
 * The form of this process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runningForm } from "./form.ts";
 * assert.equal(runningForm().kind, "source"); // a test runs from the source tree
 * ```
 */
export function runningForm(): UpdaterForm {
  // As detectPlatform (lib/core/config.ts) says it, without loading the configuration code on the
  // launcher's path.
  const arch = Deno.build.arch === "x86_64"
    ? "x64"
    : Deno.build.arch === "aarch64"
    ? "arm64"
    : Deno.build.arch;
  return formOf({
    standalone: Deno.build.standalone,
    execPath: Deno.execPath(),
    mainModule: Deno.mainModule,
    platform: `${Deno.build.os}-${arch}`,
  });
}

/**
 * The command line that starts an updater of `kind` whose file is `path`, with `args`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLE_RUN_ARGS, commandOf } from "./form.ts";
 * assert.deepEqual(commandOf("executable", "/u/ms11-update", ["--version"]), ["/u/ms11-update", "--version"]);
 * assert.deepEqual(commandOf("bundle", "/u/main.js", ["--version"]),
 *   [Deno.execPath(), ...BUNDLE_RUN_ARGS, "/u/main.js", "--version"]);
 * ```
 */
export function commandOf(kind: UpdaterForm["kind"], path: string, args: string[]): string[] {
  return kind === "executable"
    ? [path, ...args]
    : [Deno.execPath(), ...BUNDLE_RUN_ARGS, path, ...args];
}
