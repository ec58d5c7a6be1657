// Private helper of notify.ts and _smoke.ts: run a program in a process group of its own, so
// that a timeout ends it together with whatever it started (a hook that backgrounds a job, a
// build whose `--version` forks), not only the process we spawned. On Windows, where there are
// no process groups to signal, only the process itself is killed.

const GROUPS = Deno.build.os !== "windows";

/**
 * Spawn `command` as the leader of a new process group (a new session, on Unix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spawnGroup } from "./process.ts";
 * // The shell prints its process group (the 5th field of /proc/<pid>/stat, on Linux).
 * const child = spawnGroup("sh", {
 *   args: ["-c", "set -- $(cat /proc/$$/stat); echo $5"],
 *   stdout: "piped",
 * });
 * const { stdout } = await child.output();
 * assert.equal(Number(new TextDecoder().decode(stdout)), child.pid);
 * ```
 */
export function spawnGroup(command: string, options: Deno.CommandOptions): Deno.ChildProcess {
  return new Deno.Command(command, { ...options, detached: GROUPS }).spawn();
}

/**
 * SIGKILL the process group that `child` leads (on Windows: `child`); never throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { killGroup, spawnGroup } from "./process.ts";
 * const child = spawnGroup("sh", { args: ["-c", "sleep 60 & echo started; wait"], stdout: "piped" });
 * const reader = child.stdout.getReader();
 * await reader.read(); // started: the group exists
 * killGroup(child); // the shell and its background sleep
 * assert.equal((await child.status).signal, "SIGKILL");
 * assert.equal((await reader.read()).done, true); // no process is left holding the pipe
 * killGroup(child); // gone already: does not throw
 * ```
 */
export function killGroup(child: Deno.ChildProcess): void {
  try {
    if (GROUPS) Deno.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // already gone
  }
}
