// The commander definitions of the publisher's rollout commands (`rollout`, `yank`, `unyank`,
// `minimum-version`), added by cli/program.ts; each action loads cli/rollout.ts lazily.
import type { Command } from "commander";

/** The signing and output flags every rollout change takes. */
function signing(command: Command): Command {
  return command
    .requiredOption("--channel <name>", "the channel whose manifest to change")
    .option(
      "--key <file>",
      "private key file that signs the manifest (repeat for several keys)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--unsigned", "write the manifest without a signature (clients that verify refuse it)")
    .option(
      "--expires <lifetime>",
      "how long the rewritten manifest is valid, from now: 30d, 12h, 90m",
      "30d",
    )
    .option("--json", "print data as JSON on stdout");
}

const AFTER = `
Each change rewrites <tree>/<channel>/manifest.json with the next serial and a new expiry, signs it
again (--key, or --unsigned), and writes it atomically; a refused change writes nothing. Upload the
tree afterwards (ms11-update publish). See docs/UPDATE_POLICY.md, "Staged rollouts (publisher)".`;

/**
 * Add the rollout commands to a program: `sub` makes a command, `act` wraps an action that
 * returns an exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command } from "commander";
 * import { addRolloutCommands } from "./_rollout_program.ts";
 * const program = new Command("ms11-update");
 * addRolloutCommands((name, description) => program.command(name).description(description), () => () => Promise.resolve());
 * assert.deepEqual(program.commands.map((c) => c.name()), ["rollout", "yank", "unyank", "minimum-version"]);
 * ```
 */
export function addRolloutCommands(
  sub: (name: string, description: string) => Command,
  act: (action: (command: Command) => Promise<number>) => (...args: unknown[]) => Promise<void>,
): void {
  const rollout = () => import("./rollout.ts");
  signing(
    sub(
      "rollout",
      "publisher: widen, pause, resume, complete or show the staged rollout of a channel's release",
    ),
  )
    .argument("<tree>", "the release tree (holds <channel>/manifest.json)")
    .argument("<action>", "widen PERCENT, pause, resume, complete or show")
    .argument("[percent]", "widen: the new share, a whole percent 1-100 (10 means 10%)")
    .addHelpText(
      "after",
      `
widen PERCENT   a larger share (never smaller: to stop a rollout, pause it); 100 completes it.
                On a ramp, widen replaces the schedule by the fixed share.
pause           no install outside the cohort takes the release (installs in it stay)
resume          the share goes on; a ramp's steps not reached when it was paused move later
                by the pause's length, so no step is skipped
complete        every install is offered the release (the rollout and previous are dropped)
show            print the state (share, ramp step, paused, yanked, minimum); changes nothing
${AFTER}`,
    )
    .action(
      act(async (c) =>
        (await rollout()).rolloutCommand(
          c.args[0],
          { action: c.args[1], value: c.args[2] },
          c.opts(),
        )
      ),
    );

  signing(sub("yank", "publisher: mark a version as pulled, with a reason clients record"))
    .argument("<tree>", "the release tree (holds <channel>/manifest.json)")
    .argument("<version>", "the version to yank")
    .requiredOption("--reason <text>", "why (up to 500 characters; clients record it)")
    .addHelpText(
      "after",
      `
Clients never install a yanked version, and installs running it move off it. Yanking the
channel's current release puts the release before it (the manifest's previous) on top again, for
every install; yanking that previous release leaves installs outside the cohort offered nothing.
A version never published in the tree is recorded all the same (a no-op for clients).
${AFTER}`,
    )
    .action(act(async (c) => (await rollout()).yankCommand(c.args[0], c.args[1], c.opts())));

  signing(sub("unyank", "publisher: take a version off the channel's yanked list"))
    .argument("<tree>", "the release tree (holds <channel>/manifest.json)")
    .argument("<version>", "the yanked version")
    .addHelpText(
      "after",
      `
Unyanking does not offer the version again: release it again for that (its files stay in the tree).
${AFTER}`,
    )
    .action(act(async (c) => (await rollout()).unyankCommand(c.args[0], c.args[1], c.opts())));

  signing(
    sub(
      "minimum-version",
      "publisher: installs below this version update at once (a critical update), or none",
    ),
  )
    .argument("<tree>", "the release tree (holds <channel>/manifest.json)")
    .argument("<version>", "the minimum version (at most the channel's release), or none")
    .addHelpText(
      "after",
      `
Installs below the minimum bypass the rollout and the check interval, and apply at the next launch.
${AFTER}`,
    )
    .action(
      act(async (c) => (await rollout()).minimumVersionCommand(c.args[0], c.args[1], c.opts())),
    );
}
