// `ms11-update publish`: its help and its usage errors (exit 2, one line), which need no store.
// Publishing through the CLI to a real store is tests/s3_publish_cli_test.ts.
import assert from "node:assert/strict";
import { runCli } from "./_e2e.ts";
import { tempDir } from "./_helpers.ts";
import { timeBound } from "./_swift.ts";

/** Env with no AWS settings from this machine: keys set, files pointed at nothing. */
function isolated(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "AKIDTEST",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_SESSION_TOKEN: "",
    AWS_PROFILE: "",
    AWS_REGION: "",
    AWS_DEFAULT_REGION: "",
    AWS_ENDPOINT_URL: "",
    AWS_ENDPOINT_URL_S3: "",
    AWS_SHARED_CREDENTIALS_FILE: `${dir}/none/credentials`,
    AWS_CONFIG_FILE: `${dir}/none/config`,
    ...extra,
  };
}

Deno.test("publish --help explains the order, the Cache-Control and where credentials come from", () =>
  timeBound(30_000, async () => {
    const help = await runCli(["publish", "--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (
      const text of [
        "Usage: ms11-update publish [options] <release-dir>",
        "--to <s3-url>",
        "--endpoint <url>",
        "--dry-run",
        "--metadata-max-age <seconds>",
        "--json",
        "public, max-age=31536000, immutable",
        "AWS_ACCESS_KEY_ID",
        "~/.aws/credentials",
        "docs/DEPLOYMENT.md",
      ]
    ) {
      assert.ok(help.stdout.includes(text), `help lacks ${text}:\n${help.stdout}`);
    }
    const top = await runCli(["--help"]);
    assert.match(
      top.stdout,
      /publish \[options\] <release-dir>\s+publisher: upload a release tree/,
    );
  }));

Deno.test("publish usage errors exit 2 with one line", () =>
  timeBound(60_000, async () => {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/tree`);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ["publish", `${dir.path}/tree`],
        {},
        /^error: required option '--to <s3-url>' not specified$/,
      ],
      [
        ["publish", `${dir.path}/tree`, "--to", "releases/x"],
        {},
        /^error: Invalid --to "releases\/x": expected s3:\/\/bucket or s3:\/\/bucket\/prefix$/,
      ],
      [
        ["publish", `${dir.path}/tree`, "--to", "s3://releases", "--metadata-max-age", "1m"],
        {},
        /^error: Invalid --metadata-max-age "1m": expected whole seconds from 0 to 86400$/,
      ],
      [
        ["publish", `${dir.path}/missing`, "--to", "s3://releases"],
        {},
        new RegExp(`^error: Release directory ${dir.path}/missing does not exist$`),
      ],
      [
        ["publish", `${dir.path}/tree`, "--to", "s3://releases", "--endpoint", "localhost:9000"],
        {},
        /^error: Invalid --endpoint "localhost:9000": expected an http or https URL such as https:\/\/s3\.example\.com$/,
      ],
      [
        ["publish", `${dir.path}/tree`, "--to", "s3://releases"],
        { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
        /^error: No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or aws_access_key_id and aws_secret_access_key in profile "default" of .*\/none\/credentials$/,
      ],
      [
        ["publish", `${dir.path}/tree`, "--to", "s3://releases"],
        { AWS_PROFILE: "ci" },
        /^error: AWS profile "ci" \(AWS_PROFILE\) is in neither .*\/none\/credentials nor .*\/none\/config$/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const run = await runCli(args, { env: isolated(dir.path, env) });
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr.trim(), message, args.join(" "));
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.equal(run.stdout, "");
    }
  }));

Deno.test("publish fails with exit 1 and one line when the store cannot be reached", () =>
  timeBound(60_000, async () => {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/tree`);
    // A port that stays ours and hangs up on every connection: a closed port could be taken by
    // another test's server between closing it here and the client's first attempt.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const hangUp = (async () => {
      for await (const conn of listener) conn.close();
    })();
    const run = await runCli(
      [
        "publish",
        `${dir.path}/tree`,
        "--to",
        "s3://releases/ms11",
        "--endpoint",
        `http://127.0.0.1:${port}`,
      ],
      { env: isolated(dir.path) },
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr.trim(),
      /^error: Store request list s3:\/\/releases\/ms11\/ failed: .+ \(after 5 attempts\)$/,
    );
    listener.close();
    await hangUp.catch(() => {});
  }));
