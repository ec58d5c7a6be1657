// The command-line interface: commander definitions only. Each action loads its implementation
// lazily, so that `apply` (run at every application start) loads no network code.
import { Command, CommanderError } from "commander";
import denoJson from "../deno.json" with { type: "json" };
import { escapeLines } from "../lib/core/text.ts";
import { addRolloutCommands } from "./_rollout_program.ts";

function writeAll(to: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += to.writeSync(bytes.subarray(off));
}

/**
 * The program's version (deno.json's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import denoJson from "../deno.json" with { type: "json" };
 * import { VERSION } from "./program.ts";
 * assert.equal(VERSION, denoJson.version);
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION: string = denoJson.version;

type Action = (command: Command) => Promise<number>;

/** Options every command takes: where the config and the install root are, and --json. */
function globals(command: Command, json = true): Command {
  command
    .option(
      "--config <path>",
      "configuration file (env MS11_UPDATE_CONFIG; default ~/.config/ms11/update_channel.json)",
    )
    .option(
      "--root <dir>",
      "install root (env MS11_UPDATE_ROOT; default: config install_root, else ~/.local/share/ms11)",
    );
  if (json) command.option("--json", "print data as JSON on stdout");
  return command;
}

function waitOption(command: Command, seconds: number): Command {
  return command.option(
    "--wait <seconds>",
    `wait up to this long for another ms11-update holding the install lock (default ${seconds})`,
  );
}

/**
 * Build the program; `setCode` receives each action's exit code. Help, the version and usage
 * errors are thrown as a {@linkcode CommanderError} (see {@linkcode usageExitCode}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildProgram } from "./program.ts";
 * const root = await Deno.makeTempDir();
 * let code = -1;
 * await buildProgram((c) => code = c).parseAsync(["apply", "--root", root, "--json"], { from: "user" });
 * assert.equal(code, 0);
 * await assert.rejects(
 *   buildProgram(() => {}).parseAsync(["--version"], { from: "user" }), // prints the version
 *   { name: "CommanderError", code: "commander.version", exitCode: 0 },
 * );
 * await Deno.remove(root);
 * ```
 */
export function buildProgram(setCode: (code: number) => void): Command {
  // Options may stand before or after the command: each action sees them all merged.
  const act = (action: Action) => async (...args: unknown[]) => {
    setCode(await action(args.at(-1) as Command));
  };
  const update = () => import("./update.ts");
  const builds = () => import("./builds.ts");
  const publish = () => import("./publish.ts");

  const program = new Command("ms11-update")
    .description(
      "Keeps MS11 up to date: checks a release channel, downloads and verifies the newest build, stages it for the next launch, and rolls back on request.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .enablePositionalOptions()
    .allowExcessArguments(true)
    .showSuggestionAfterError(true)
    .helpCommand(false)
    // commander's own lines (usage errors quoting an argument, help) are escaped like every
    // other line for people (cli/_ui.ts); subcommands inherit this.
    .configureOutput({
      writeOut: (text) => writeAll(Deno.stdout, escapeLines(text)),
      writeErr: (text) => writeAll(Deno.stderr, escapeLines(text)),
    })
    .exitOverride();

  globals(program)
    .option("--channel <name>", "channel to use for this run (see `ms11-update channel`)")
    .option(
      "--allow-downgrade",
      "install the channel's newest release even when it is lower than the installed one",
    )
    .option(
      "--force",
      "install a release even if it was rolled back from; with --auto, check even when not due",
    )
    .option(
      "--auto",
      "unattended run (launchers): check only when auto_check_enabled and check_interval_hours say it is due",
    )
    .option(
      "--now",
      "take the channel's newest release even when its staged rollout has not reached this install",
    )
    .option("--no-delta", "download the full build even when the manifest offers a delta")
    .addHelpText(
      "after",
      "\nWith no command: check the channel and, if a newer release exists, download, verify and stage it for the next launch. With --json, progress events and then the result are printed as JSON lines (docs/EVENTS.md).",
    )
    .action(act(async (command) => {
      // An unknown word is a misspelt command: let commander say so, with a suggestion.
      if (command.args.length > 0) {
        (command as unknown as { unknownCommand(): never }).unknownCommand();
      }
      return (await update()).updateCommand(command.optsWithGlobals());
    }));
  waitOption(program, 0);

  // A stray word after a command is a usage error (`status extra`), not ignored.
  const sub = (name: string, description: string) =>
    program.command(name).description(description).allowExcessArguments(false).exitOverride();

  globals(sub("check", "report the installed and available versions; download nothing"))
    .option("--channel <name>", "channel to check")
    .option("--allow-downgrade", "report a lower release as applicable")
    .option(
      "--now",
      "report the newest release even when its staged rollout has not reached this install",
    )
    .option("--no-delta", "report the full download even when the manifest offers a delta")
    // The program's own --no-delta defaults `delta` to true, and globals overwrite locals in
    // optsWithGlobals: this command's flag is read from its own options.
    .action(
      act(async (c) =>
        (await update()).checkCommand({ ...c.optsWithGlobals(), delta: c.opts().delta })
      ),
    );

  waitOption(
    globals(
      sub("install", "set up an install root from a channel's current release, or adopt a build"),
    ),
    0,
  )
    .option("--channel <name>", "channel to install from")
    .option("--force", "install the channel's release even if it was rejected on this install")
    .option("--adopt <path>", "adopt this existing executable or build directory instead")
    .option("--version <version>", "the adopted build's version (with --adopt)")
    .action(act(async (c) => (await update()).installCommand(c.optsWithGlobals())));

  waitOption(
    globals(sub("apply", "launcher hook: swap in the staged build, if any (fast, no network)")),
    5,
  ).action(act(async (c) => (await import("./apply.ts")).applyCommand(c.optsWithGlobals())));

  waitOption(
    globals(
      sub(
        "run",
        "launcher: apply, start COMMAND, roll back a new build that fails its health window",
      ),
      false,
    ),
    5,
  )
    .usage("[options] -- COMMAND [ARGS...]")
    .argument("<command...>", "the application to start, usually <root>/current/<executable>")
    .option(
      "--health-timeout <seconds>",
      "how long a new build must run without failing (default: health.health_timeout_seconds)",
    )
    .passThroughOptions()
    .action(act(async (c) => (await import("./apply.ts")).runCommand(c.args, c.optsWithGlobals())));

  waitOption(
    globals(sub("confirm", "commit the build on trial: it is healthy, keep it")),
    5,
  ).action(act(async (c) => (await builds()).confirmCommand(c.optsWithGlobals())));

  waitOption(
    globals(
      sub(
        "rollback",
        "restore the newest backup that ran healthy (or --to VERSION); the replaced build is kept",
      ),
    ),
    0,
  )
    .option("--to <version>", "the backup to restore")
    .option(
      "--reject",
      "mark the build rolled back from as bad (default: updates only skip it until a newer release)",
    )
    .action(act(async (c) => (await builds()).rollbackCommand(c.optsWithGlobals())));

  globals(sub("status", "show current, staged and backup builds, last check and last error"))
    .option("--channel <name>", "channel to report")
    .addHelpText("after", "\nThe --json document is described in docs/STATUS.md.")
    .action(act(async (c) => (await builds()).statusCommand(c.optsWithGlobals())));

  globals(
    sub("channel", "list channels, or switch channel persistently (saved in the config file)"),
  )
    .argument("[name]", "channel to switch to")
    .option(
      "--allow-downgrade",
      "if the channel's newest release is lower than the installed build: switch and install it",
    )
    .option(
      "--keep-current",
      "if the channel's newest release is lower than the installed build: switch and keep the installed one until the channel catches up",
    )
    .option("--yes", "switch to a channel of a higher risk than the configured one")
    .addHelpText(
      "after",
      "\nA switch to a riskier channel shows its risk and description and asks first on a terminal; elsewhere it needs --yes. A switch that would mean a downgrade asks too; elsewhere it needs --allow-downgrade or --keep-current. Nothing changes without an answer.",
    )
    .action(act(async (c) => (await builds()).channelCommand(c.args[0], c.optsWithGlobals())));

  const trust = globals(
    sub(
      "trust",
      "show the trust state: the last manifest accepted per channel (rollback protection)",
    ),
  )
    .addHelpText(
      "after",
      "\nThe trust state is kept in <root>/trust.json and a verified backup copy; see docs/SECURITY.md.",
    )
    .action(act(async (c) => (await import("./trust.ts")).trustCommand(c.optsWithGlobals())));
  waitOption(
    globals(
      trust.command("reset").description(
        "start trust afresh from the pinned keys (the way out of a damaged trust state; audited)",
      ).exitOverride(),
    ),
    5,
  )
    .option("--channel <name>", "only this channel (default: every channel)")
    .action(act(async (c) => (await import("./trust.ts")).trustResetCommand(c.optsWithGlobals())));

  const self = sub(
    "self",
    "the updater itself: update it (signed, verified, tried at a launch), or roll it back",
  )
    .addHelpText(
      "after",
      "\nA new ms11-update takes over only after it has started under a real launch; see docs/ARCHITECTURE.md.",
    );
  waitOption(
    globals(
      self.command("update").description(
        "stage the ms11-update the channel offers, when newer: it takes over at the next launch, once it has started",
      ).exitOverride(),
    ),
    0,
  )
    .option("--channel <name>", "channel whose manifest offers it")
    .option("--check", "only say what the channel offers; download nothing")
    .option("--force", "stage a version that was refused (failed its trial, or rolled back from)")
    .action(act(async (c) => (await import("./self.ts")).selfUpdateCommand(c.optsWithGlobals())));
  waitOption(
    globals(
      self.command("rollback").description(
        "put the kept previous ms11-update back at the launcher's path",
      ).exitOverride(),
    ),
    5,
  ).action(act(async (c) => (await import("./self.ts")).selfRollbackCommand(c.optsWithGlobals())));

  waitOption(
    globals(
      sub("dashboard", "serve a live status page and JSON API on 127.0.0.1 (prints its URL)"),
    ),
    5,
  )
    .option("--port <port>", "port (0 picks a free one)", "0")
    .option("--host <host>", "address to bind: loopback only unless --allow-remote", "127.0.0.1")
    .option(
      "--allow-remote",
      "allow a non-loopback --host such as 0.0.0.0 (the token is still required)",
    )
    .option("--open", "open the page in the default browser")
    .addHelpText("after", "\nRoutes and the security model are described in docs/DASHBOARD.md.")
    .action(
      act(async (c) => (await import("./dashboard.ts")).dashboardCommand(c.optsWithGlobals())),
    );

  sub("release", "publisher: add a build to a release tree (hash, copy, write the manifest)")
    .requiredOption("--channel <name>", "channel to publish on")
    .requiredOption("--version <version>", "the release's version (higher than the channel's)")
    .requiredOption("--artifact <file>", "the build: an executable, .tar.gz or .zip")
    .requiredOption("--out <dir>", "the release tree (holds <channel>/manifest.json)")
    .option("--platform <key>", "platform key such as linux-x64 (default: this machine's)")
    .option(
      "--executable <name>",
      "the file clients start (their config's executable): an archive must hold it at its top level, executable",
      "ms11",
    )
    .option("--notes <text>", "release notes")
    .option(
      "--key <file>",
      "private key file that signs the manifest (repeat for several keys)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--unsigned", "publish without a signature (clients that verify refuse it)")
    .option(
      "--next-key <key>",
      "key rotation: announce this public key (ed25519:… or .pub file) as the channel's next; repeatable",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--next-threshold <k>", "signatures the next key set requires (default 1)")
    .option("--expires <lifetime>", "how long the manifest is valid: 30d, 12h, 90m", "30d")
    .option(
      "--republish",
      "publish the channel's current version again: add a platform, or refresh its expiry",
    )
    .option(
      "--updater <file>",
      "also offer this ms11-update: a compiled executable, or a .tar.gz/.zip of the code-split bundle",
    )
    .option("--updater-version <version>", "the offered ms11-update's version (with --updater)")
    .option(
      "--updater-platform <key>",
      "the offered ms11-update's key: a platform for an executable (default --platform), bundle for an archive",
    )
    .option(
      "--rollout <percent>",
      "staged rollout: offer it to this share of installs, a whole percent 1-100 (10 means 10%)",
    )
    .option("--ramp <steps>", "staged rollout on a schedule: 1,10,50,100 or HOURS:PERCENT steps")
    .option("--ramp-every <hours>", "with a --ramp of percents: the time between steps (24h, 2d)")
    .option(
      "--deltas <k>",
      "deltas from the channel's last K releases in --out to this one, 0-32 (default 3; given, a missing bsdiff fails the release)",
    )
    .option("--no-deltas", "publish without deltas (the same as --deltas 0)")
    .option(
      "--delta-max-ratio <r>",
      "list a delta only when it is under this share of the full artifact, above 0 and at most 1 (default 0.5)",
    )
    .option("--json", "print data as JSON on stdout")
    .addHelpText(
      "after",
      "\nDeltas (docs/DELTA.md) need Debian's bsdiff and bzip2 (apt-get install bsdiff bzip2); without them, release publishes without deltas and says so, unless --deltas is given, which makes it fail.",
    )
    .action(act(async (c) => (await publish()).releaseCommand(c.opts())));

  addRolloutCommands(sub, act);

  sub("keygen", "publisher: generate an Ed25519 key pair for signing manifests")
    .requiredOption("--out <dir>", "where to write <name>.key (0600) and <name>.pub")
    .option("--name <name>", "file name stem", "ms11-update")
    .option("--json", "print data as JSON on stdout")
    .action(act(async (c) => (await publish()).keygenCommand(c.opts())));

  sub("verify-release", "publisher: check a release tree's signatures, expiry and files")
    .argument("<dir>", "release tree (holds <channel>/manifest.json)")
    .option(
      "--pubkey <key>",
      "public key (ed25519:… or a .pub file) clients pin; repeat for several",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--threshold <k>", "signatures required", "1")
    .option(
      "--executable <name>",
      "the file clients start: every build in the tree must hold it, executable",
      "ms11",
    )
    .option("--json", "print data as JSON on stdout")
    .action(act(async (c) => (await publish()).verifyReleaseCommand(c.args[0], c.opts())));

  sub("serve", "serve a release tree over HTTP on 127.0.0.1 (Range and ETag supported)")
    .argument("<dir>", "release tree (holds <channel>/manifest.json)")
    .option("--port <port>", "port (0 picks a free one)", "8011")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .action(act(async (c) => (await publish()).serveCommand(c.args[0], c.opts())));

  sub("publish", "publisher: upload a release tree to an S3-compatible bucket (behind a CDN)")
    .argument("<release-dir>", "release tree (holds <channel>/manifest.json)")
    .requiredOption("--to <s3-url>", "where: s3://bucket or s3://bucket/prefix")
    .option(
      "--endpoint <url>",
      "S3 endpoint of a store other than AWS, addressed path-style (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url)",
    )
    .option("--dry-run", "list what would change; write nothing")
    .option(
      "--metadata-max-age <seconds>",
      "how long caches may keep manifest.json and manifest.json.sig (Cache-Control max-age)",
      "60",
    )
    .option("--json", "print data as JSON on stdout")
    .addHelpText(
      "after",
      `
Uploads what the bucket lacks, in an order that never shows a client a torn release: the
artifacts (Cache-Control: public, max-age=31536000, immutable; an existing one with other
bytes is refused, never overwritten), each checked after upload (the store verifies the
signed SHA-256 and Content-MD5, a HEAD the size, ETag and sha256 metadata); then each
channel's signatures, named by the manifest's SHA-256 and in manifest.json.sig (which keeps
the signatures of the manifests it replaces); then, once caches can no longer hold the
previous manifest.json.sig (its max-age), the manifests. Re-running uploads only what is
missing or changed, so an interrupted publish is completed by running it again.

Credentials and region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_REGION (or AWS_DEFAULT_REGION), else the profile AWS_PROFILE (default "default") in
~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). Clients'
base_url is <where the bucket is served>/<prefix>/<channel>. See docs/DEPLOYMENT.md.`,
    )
    .action(
      act(async (c) => (await import("./publish_s3.ts")).publishCommand(c.args[0], c.opts())),
    );

  sub("help", "show the help of the program, or of a command")
    .argument("[command]", "the command")
    .action(act((c) => {
      const name = c.args[0];
      const target = name === undefined
        ? program
        : program.commands.find((cmd) => cmd.name() === name);
      if (target === undefined) c.error(`error: unknown command '${name}'`, { exitCode: 2 });
      target!.outputHelp();
      return Promise.resolve(0);
    }));

  return program;
}

/**
 * The exit code for a commander error: 0 for help and version, 2 for usage errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CommanderError, usageExitCode } from "./program.ts";
 * assert.equal(usageExitCode(new CommanderError(0, "commander.version", "0.1.0")), 0);
 * const unknown = new CommanderError(1, "commander.unknownOption", "error: unknown option '--bogus'");
 * assert.equal(usageExitCode(unknown), 2);
 * ```
 */
export function usageExitCode(error: CommanderError): number {
  return ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code)
    ? 0
    : 2;
}

export { CommanderError };
