// The smoke test of a staged build: run its executable with the configured arguments (such as
// `--version`) and a timeout, before it is swapped in. Loaded only when a build is staged.
import { killGroup, spawnGroup } from "../core/process.ts";

/** How to smoke-test a build. */
export interface SmokeOptions {
  /** The application's file name inside the build. */
  executable: string;
  /** Arguments to run it with. */
  args: string[];
  /** Time allowed, in milliseconds. */
  timeoutMs: number;
}

/** Run the smoke test in `dir`; resolves to null when it passed, else why it failed. */
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
