// Private helper of notify.ts and _smoke.ts: run a program in a process group of its own, so
// that a timeout ends it together with whatever it started (a hook that backgrounds a job, a
// build whose `--version` forks), not only the process we spawned. On Windows, where there are
// no process groups to signal, only the process itself is killed.

const GROUPS = Deno.build.os !== "windows";

/**
 * Spawn `command` as the leader of a new process group (a new session, on Unix).
 *
 * @example
 * ```ts ignore
 * const child = spawnGroup("sh", { args: ["-c", "sleep 60 & sleep 60"] });
 * killGroup(child);
 * ```
 */
export function spawnGroup(command: string, options: Deno.CommandOptions): Deno.ChildProcess {
  return new Deno.Command(command, { ...options, detached: GROUPS }).spawn();
}

/**
 * SIGKILL the process group that `child` leads (on Windows: `child`); never throws.
 *
 * @example
 * ```ts ignore
 * const child = spawnGroup("sleep", { args: ["60"] });
 * killGroup(child);
 * console.assert((await child.status).signal === "SIGKILL");
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
