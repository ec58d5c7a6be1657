#!/usr/bin/env -S deno run -A --v8-flags=--no-opt,--no-maglev,--max-semi-space-size=1
// ms11-update: the entry point and the only place that exits. Usage errors and bad configuration
// exit 2, failures exit 1; one line on stderr says what failed (escaped: see cli/_ui.ts).
//
// It runs with V8's optimizing compilers off and a 1 MiB young generation
// (`--v8-flags=--no-opt,--no-maglev,--max-semi-space-size=1`, here and in `deno task compile`):
// its hot paths (hashing, TLS, inflating, file I/O) are native; the optimizing tiers only added
// ~7 MiB of peak memory to a download, and a small young generation collects the buffers of a
// streamed extraction sooner (docs/PERFORMANCE.md, "Peak memory").
//
// `apply` and `run` are the launcher's path, taken at every application start, so their common
// forms skip loading the full command line parser (commander) and node: built-ins: a few lines
// below parse them, and anything they do not accept (help, an unknown flag) falls through to
// the full parser and its messages.
import { ConfigError } from "./lib/core/errors.ts";

const VALUED = new Set(["--config", "--root", "--wait", "--health-timeout"]);

/** The launcher commands' options and, for `run`, the command after `--`; null: not handled. */
function launcherArgs(
  args: string[],
): { command: "apply" | "run"; values: Record<string, string | boolean>; rest: string[] } | null {
  const command = args[0];
  if (command !== "apply" && command !== "run") return null;
  const values: Record<string, string | boolean> = {};
  let i = 1;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") break;
    if (arg === "--json" && command === "apply") values.json = true;
    else if (VALUED.has(arg) && (arg !== "--health-timeout" || command === "run")) {
      if (i + 1 >= args.length) return null;
      values[arg.slice(2)] = args[++i];
    } else return null;
  }
  const rest = args.slice(i + 1);
  if (command === "run" && rest.length === 0) return null;
  if (command === "apply" && i < args.length) return null;
  return { command, values, rest };
}

/**
 * Run the CLI with `args`; resolves to the exit code: 0, 2 for usage errors and bad
 * configuration, 1 for failures (with one line on stderr saying what failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 * assert.equal(await main(["--version"]), 0); // prints the version
 * assert.equal(await main(["status", "--bogus"]), 2); // error: unknown option '--bogus'
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const where = ["--root", `${dir}/root`, "--config", `${dir}/config.json`];
 * assert.equal(await main(["apply", ...where]), 0); // nothing staged
 * assert.equal(await main(["rollback", ...where]), 1); // error: Nothing is installed in …
 * assert.equal(await main(["rollback", "--root", `${dir}/root`, "--config", `${dir}/no.json`]), 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function main(args: string[]): Promise<number> {
  try {
    const fast = launcherArgs(args);
    if (fast?.command === "apply") {
      return await (await import("./cli/apply.ts")).applyCommand(fast.values);
    }
    if (fast?.command === "run") {
      const { runCommand } = await import("./cli/apply.ts");
      return await runCommand(fast.rest, {
        ...fast.values,
        healthTimeout: fast.values["health-timeout"] as string | undefined,
      });
    }
    const { buildProgram, CommanderError, usageExitCode } = await import("./cli/program.ts");
    let code = 0;
    try {
      await buildProgram((c) => code = c).parseAsync(args, { from: "user" });
    } catch (error) {
      if (error instanceof CommanderError) return usageExitCode(error);
      throw error;
    }
    return code;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The one error line, escaped like every line for people (cli/_ui.ts): a message can carry
    // text from a manifest, a server or an archive.
    const { errorLine } = await import("./cli/_ui.ts");
    const line = new TextEncoder().encode(
      errorLine(message, Deno.stderr.isTerminal() && !Deno.noColor),
    );
    for (let off = 0; off < line.length;) off += Deno.stderr.writeSync(line.subarray(off));
    return error instanceof ConfigError ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
