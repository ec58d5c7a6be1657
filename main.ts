#!/usr/bin/env -S deno run -A
// ms11-update: the entry point and the only place that exits. Usage errors and bad configuration
// exit 2, failures exit 1; one line on stderr says what failed.
import { buildProgram, CommanderError, usageExitCode } from "./cli/program.ts";
import { ConfigError } from "./lib/errors.ts";

/** Run the CLI with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => code = c);
  try {
    await program.parseAsync(args, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return usageExitCode(error);
    const message = error instanceof Error ? error.message : String(error);
    const color = Deno.stderr.isTerminal() && !Deno.noColor;
    console.error(`${color ? "\x1b[31merror\x1b[0m" : "error"}: ${message}`);
    return error instanceof ConfigError ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
