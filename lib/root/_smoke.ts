// The smoke test of a staged build: run its executable with the configured arguments (such as
// `--version`) and a timeout, before it is swapped in. Loaded only when a build is staged.
import { killGroup, spawnGroup } from "../core/process.ts";

/**
 * How to smoke-test a build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SmokeOptions, smokeTest } from "./_smoke.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\nsleep 30\n", { mode: 0o755 });
 * const options: SmokeOptions = { executable: "ms11", args: ["--version"], timeoutMs: 100 };
 * assert.equal(await smokeTest(dir, options), "smoke test ms11 --version did not finish within 0.1 s");
 * ```
 */
export interface SmokeOptions {
  /** The application's file name inside the build. */
  executable: string;
  /** Arguments to run it with. */
  args: string[];
  /** Time allowed, in milliseconds. */
  timeoutMs: number;
}

/**
 * Run the smoke test in `dir`; resolves to null when it passed, else why it failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { smokeTest } from "./_smoke.ts";
 * const dir = await Deno.makeTempDir();
 * const options = { executable: "ms11", args: ["--version"], timeoutMs: 10_000 };
 * await Deno.writeTextFile(`${dir}/ms11`, '#!/bin/sh\n[ "$1" = --version ]\n', { mode: 0o755 });
 * assert.equal(await smokeTest(dir, options), null); // passed
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\nexit 4\n");
 * assert.equal(await smokeTest(dir, options), "smoke test ms11 --version exited with code 4");
 * await Deno.remove(`${dir}/ms11`);
 * assert.match((await smokeTest(dir, options))!, /^smoke test ms11 --version could not start: /);
 * ```
 */
export async function smokeTest(dir: string, options: SmokeOptions): Promise<string | null> {
  const argv = [options.executable, ...options.args].join(" ");
  let child: Deno.ChildProcess;
  try {
    child = spawnGroup(`${dir}/${options.executable}`, {
      args: options.args,
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
  } catch (error) {
    return `smoke test ${argv} could not start: ${(error as Error).message}`;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child); // with whatever the build started
  }, options.timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  if (timedOut) return `smoke test ${argv} did not finish within ${options.timeoutMs / 1000} s`;
  if (status.success) return null;
  return status.signal
    ? `smoke test ${argv} was killed by ${status.signal}`
    : `smoke test ${argv} exited with code ${status.code}`;
}
