// The command-line interface: commander definitions only. Each action loads its implementation
// lazily, so that `apply` (run at every application start) loads no network code.
import { Command, CommanderError, Option } from "commander";
import denoJson from "../deno.json" with { type: "json" };

/** The program's version. */
export const VERSION: string = denoJson.version;

function globals(command: Command, json = true): Command {
  command
    .option(
      "--config <path>",
      "configuration file (env MS11_UPDATE_CONFIG; default ~/.config/ms11/update_channel.json)",
    )
    .option(
      "--root <dir>",
      "install root (env MS11_UPDATE_ROOT; default config install_root, else ~/.local/share/ms11)",
    );
  if (json) command.option("--json", "print data as JSON on stdout");
  return command;
}

function waitOption(command: Command, seconds: number): Command {
  return command.option(
    "--wait <seconds>",
    `wait this long for another ms11-update holding the install lock (default ${seconds})`,
  );
}

/** Build the program; `run` receives each action's exit code. */
export function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command("ms11-update")
    .description(
      "Keeps MS11 up to date: checks a release channel, downloads and verifies the newest build, stages it for the next launch, and rolls back on request.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(text.startsWith("error: ") ? text : `error: ${text}`),
    });

  globals(program)
    .option("--channel <name>", "channel to use for this run (see `ms11-update channel`)")
    .option(
      "--allow-downgrade",
      "install the channel's newest release even when it is lower than the installed one",
    )
    .option("--force", "install a release even if it was rolled back from")
    .addHelpText(
      "after",
      "\nWith no command: check the channel and, if a newer release exists, download, verify and stage it for the next launch.",
    )
    .action(async (options) =>
      setCode(await (await import("./commands.ts")).updateCommand(options))
    );
  waitOption(program, 0);

  const sub = (name: string, description: string) => {
    const command = program.command(name).description(description).exitOverride();
    command.configureOutput({ outputError: (text, write) => write(text) });
    return command;
  };

  globals(sub("check", "report the installed and available versions; download nothing"))
    .option("--channel <name>", "channel to check")
    .option("--allow-downgrade", "report a lower release as applicable")
    .action(async (options) =>
      setCode(await (await import("./commands.ts")).checkCommand(options))
    );

  waitOption(
    globals(
      sub(
        "install",
        "set up an install root from a channel's current release, or adopt an existing build",
      ),
    )
      .option("--channel <name>", "channel to install from")
      .option(
        "--adopt <path>",
        "adopt this existing executable or build directory instead of downloading",
      )
      .option("--version <version>", "the adopted build's version (with --adopt)")
      .action(async (options) =>
        setCode(await (await import("./commands.ts")).installCommand(options))
      ),
    0,
  );

  waitOption(
    globals(sub("apply", "launcher hook: swap in the staged build, if any (fast, no network)"))
      .action(async (options) => setCode(await (await import("./apply.ts")).applyCommand(options))),
    5,
  );

  waitOption(
    globals(
      sub("rollback", "restore the newest backup (or --to VERSION); the replaced build is kept"),
    )
      .option("--to <version>", "the backup to restore")
      .action(async (options) =>
        setCode(await (await import("./commands.ts")).rollbackCommand(options))
      ),
    0,
  );

  globals(sub("status", "show current, staged and backup builds, last check and last error"))
    .option("--channel <name>", "channel to report")
    .addHelpText("after", "\nThe --json document is described in docs/STATUS.md.")
    .action(async (options) =>
      setCode(await (await import("./commands.ts")).statusCommand(options))
    );

  globals(
    sub("channel", "list channels, or switch channel persistently (saved in the config file)"),
  )
    .argument("[name]", "channel to switch to")
    .action(async (name, options) =>
      setCode(await (await import("./commands.ts")).channelCommand(name, options))
    );

  sub(
    "release",
    "publisher: add a build to a release tree (hashes it, copies it, writes the manifest)",
  )
    .requiredOption("--channel <name>", "channel to publish on")
    .requiredOption("--version <version>", "the release's version (not lower than the channel's)")
    .requiredOption("--artifact <file>", "the build: an executable, .tar.gz or .zip")
    .requiredOption("--out <dir>", "the release tree (holds <channel>/manifest.json)")
    .option("--platform <key>", "platform key such as linux-x64 (default: this machine's)")
    .option("--notes <text>", "release notes")
    .option("--json", "print data as JSON on stdout")
    .action(async (options) =>
      setCode(await (await import("./commands.ts")).releaseCommand(options))
    );

  sub("serve", "serve a release directory over HTTP on 127.0.0.1 (Range and ETag supported)")
    .argument("<dir>", "release directory (holds <channel>/manifest.json)")
    .option("--port <port>", "port (0 picks a free one)", "8011")
    .addOption(new Option("--host <host>", "address to bind").default("127.0.0.1"))
    .action(async (dir, options) =>
      setCode(await (await import("./commands.ts")).serveCommand(dir, options))
    );

  return program;
}

/** Whether a commander error is a usage error (exit 2) rather than help or version (exit 0). */
export function usageExitCode(error: CommanderError): number {
  return error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
      error.code === "commander.help"
    ? 0
    : 2;
}

export { CommanderError };
