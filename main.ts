#!/usr/bin/env -S deno run -A
// ms11-update: the entry point and the only place that exits. Usage errors and bad configuration
// exit 2, failures exit 1; one line on stderr says what failed.
//
// `apply` runs at every application start, so its common forms skip loading the full command
// line parser (commander): they are parsed with node:util's parseArgs, and anything it does not
// accept (help, an unknown flag) falls through to the full parser and its messages.
import { parseArgs } from "node:util";
import { ConfigError } from "./lib/errors.ts";

function applyArgs(args: string[]): Record<string, string | boolean | undefined> | null {
  if (args[0] !== "apply") return null;
  try {
    return parseArgs({
      args: args.slice(1),
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string" },
        root: { type: "string" },
        json: { type: "boolean" },
        wait: { type: "string" },
      },
    }).values;
  } catch {
    return null;
  }
}

/** Run the CLI with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const fast = applyArgs(args);
    if (fast !== null) return await (await import("./cli/apply.ts")).applyCommand(fast);
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
    const color = Deno.stderr.isTerminal() && !Deno.noColor;
    console.error(`${color ? "\x1b[31merror\x1b[0m" : "error"}: ${message}`);
    return error instanceof ConfigError ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
