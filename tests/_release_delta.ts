// Helpers of the publisher's delta tests (release_delta_test.ts, release_delta_verify_test.ts):
// builds worth a delta, `release` through the CLI, the manifest as the strict parser reads it.
import assert from "node:assert/strict";
import { parseManifest } from "../lib/trust/manifest.ts";
import { appScript, linuxPlatform, runCli } from "./_e2e.ts";
import { HAVE_BSDIFF, textOf, writeTree } from "./_delta.ts";
import { run } from "./_archives.ts";

/** The platform the tests publish for: this machine's, so that clients here take it. */
export const PLATFORM = linuxPlatform();
/** Tests that make deltas need bsdiff and bzip2 (CI installs them). */
export const ignore = !HAVE_BSDIFF;

/** An executable build big enough for a delta to pay: the version, then the same filler. */
export function build(version: string): string {
  return appScript(version, "# filler line of the build, the same in every version\n".repeat(4000));
}

/** A tar.gz folder build: ms11, 40 files, one of which changes with the version, and a link. */
export async function folderBuild(dir: string, version: string): Promise<string> {
  const src = `${dir}/src-${version}`;
  const files: Parameters<typeof writeTree>[1] = {
    "ms11": { mode: 0o755, text: appScript(version) },
    "lib/version.txt": `${version}\n${textOf("version")}`,
    "lib/current": { link: "version.txt" },
  };
  for (let i = 0; i < 40; i++) files[`lib/f${i}.txt`] = textOf(`f${i}`);
  await writeTree(src, files);
  const out = `${dir}/ms11-${version}.tar.gz`;
  await run("tar", ["-czf", out, "-C", src, "."]);
  return out;
}

/** `release` through the CLI into `tree`, signed with `key`. */
export function release(
  tree: string,
  key: string,
  args: { version: string; artifact: string; extra?: string[]; env?: Record<string, string> },
) {
  return runCli([
    "release",
    "--channel",
    "stable",
    "--version",
    args.version,
    "--artifact",
    args.artifact,
    "--out",
    tree,
    "--platform",
    PLATFORM,
    "--key",
    key,
    ...args.extra ?? [],
  ], { env: args.env });
}

/** The stable channel's manifest in `tree`, checked by the strict parser first. */
export async function manifestOf(tree: string) {
  const bytes = await Deno.readFile(`${tree}/stable/manifest.json`);
  // The strict parser accepts what release wrote.
  parseManifest(bytes, { url: "https://u.ms11.com/stable/manifest.json", channel: "stable" });
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** A key pair for the tests that do not need a world. */
export async function keyIn(dir: string): Promise<string> {
  const made = await runCli(["keygen", "--out", `${dir}/keys`]);
  assert.equal(made.code, 0, made.stderr);
  return `${dir}/keys/ms11-update.key`;
}
