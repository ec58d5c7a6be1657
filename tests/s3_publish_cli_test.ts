// `ms11-update publish` against a real S3-compatible store (Swift, tests/_swift.ts) behind an
// nginx CDN, and the real client installing and checking through that CDN; the store's own
// errors (bad secret, no write access, no such bucket) in one line with their codes.
import assert from "node:assert/strict";
import { appScript, launch, makeWorld, runCli } from "./_e2e.ts";
import { tempDir } from "./_helpers.ts";
import { NGINX_PATH, startCdn } from "./_nginx.ts";
import { listing, storeOf } from "./_s3.ts";
import { startSwift, timeBound } from "./_swift.ts";

Deno.test("ms11-update publish to a real S3 store; clients install and update through the CDN", (t) =>
  timeBound(300_000, async () => {
    await using dir = await tempDir("ms11-s3-cli-");
    await using swift = await startSwift();
    await swift.createBucket("releases", { publicRead: true });
    const cdn = await startCdn(swift.publicUrl("releases"));
    assert.ok(cdn, `${NGINX_PATH} is not installed: apt-get install nginx (.ci/run does)`);
    await using _cdn = cdn;
    const store = storeOf(swift, "releases");
    await using world = await makeWorld();
    // The store's settings and nothing of this machine's ~/.aws.
    const env = (extra: Record<string, string> = {}) => ({
      ...swift.env,
      AWS_SESSION_TOKEN: "",
      AWS_PROFILE: "",
      AWS_ENDPOINT_URL_S3: "",
      AWS_SHARED_CREDENTIALS_FILE: `${dir.path}/none/credentials`,
      AWS_CONFIG_FILE: `${dir.path}/none/config`,
      ...extra,
    });
    const publish = (args: string[], extra: Record<string, string> = {}) =>
      runCli(["publish", world.tree, ...args], { env: env(extra) });
    const step = (name: string, fn: () => Promise<void>) =>
      t.step(name, () => timeBound(90_000, fn));
    const artifactKey = `w/stable/1.0.0/ms11-1.0.0`;
    const size = `${appScript("1.0.0").length} B`;

    await step("--dry-run lists the objects it would write and writes none", async () => {
      await world.publish("stable", "1.0.0");
      const run = await publish(["--to", "s3://releases/w", "--dry-run"]);
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split("\n");
      assert.equal(lines[0], `would create file s3://releases/${artifactKey} (${size})`);
      assert.match(
        lines[1],
        /^would create signature s3:\/\/releases\/w\/stable\/signatures\/[0-9a-f]{64}\.sig \(\d+ B\)$/,
      );
      assert.match(
        lines[2],
        /^would create channel-signature s3:\/\/releases\/w\/stable\/manifest\.json\.sig /,
      );
      assert.match(lines[3], /^would create manifest s3:\/\/releases\/w\/stable\/manifest\.json /);
      assert.match(
        lines[4],
        /^Dry run: 4 of 4 objects would change in s3:\/\/releases\/w\/ \(\d+ B\)$/,
      );
      assert.deepEqual(await listing(store, "w/"), {});
    });

    await step(
      "publish uploads the tree, reporting each object, and a client installs from the CDN",
      async () => {
        const run = await publish(["--to", "s3://releases/w/", "--metadata-max-age", "1"]);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(
          run.stderr.includes(`Uploaded create file s3://releases/${artifactKey} (${size})`),
          run.stderr,
        );
        assert.match(
          run.stdout.trim(),
          /^Published s3:\/\/releases\/w\/: 4 of 4 objects written \(\d+ B, \d+ requests\)$/,
        );
        assert.equal(Object.keys(await listing(store, "w/")).length, 4);
        await world.writeConfig({
          update_servers: { stable: { base_url: `${cdn.url}/w/stable`, description: "CDN" } },
        });
        const install = await world.cli(["install"]);
        assert.equal(install.code, 0, install.stderr);
        assert.equal(await launch(world.root), "MS11 1.0.0");
        assert.ok(
          (await Deno.readTextFile(cdn.accessLogPath)).includes(`GET /${artifactKey} 200 MISS`),
        );
      },
    );

    await step(
      "a new release is published with --json, waits for caches, and clients see it within the max-age",
      async () => {
        await world.publish("stable", "1.1.0");
        const run = await publish(["--to", "s3://releases/w", "--metadata-max-age", "1", "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout);
        assert.equal(result.target, "s3://releases/w/");
        assert.equal(result.dry_run, false);
        assert.equal(result.changed, 4);
        assert.equal(result.credentials, "environment");
        assert.equal(result.endpoint, swift.endpoint);
        assert.ok(result.wait_ms <= 3000, `waited ${result.wait_ms} ms`);
        if (result.wait_ms > 0) {
          assert.match(
            run.stderr,
            /Waiting \d s before writing the manifests: caches may keep the previous signature file for 1 s/,
          );
        }
        // The manifest was written a max-age (and the second of Last-Modified's rounding) after
        // the signature file.
        const written = async (key: string) => (await store.head(key))!.lastModified!.getTime();
        assert.ok(
          (await written("w/stable/manifest.json")) -
              (await written("w/stable/manifest.json.sig")) >= 2000,
        );
        // Through the CDN the new manifest shows within its max-age (1 s), and the client sees it.
        const published = Date.now();
        let version = "";
        while (Date.now() - published < 5000) {
          const got = await fetch(`${cdn.url}/w/stable/manifest.json`);
          version = (await got.json()).version;
          if (version === "1.1.0") break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(version, "1.1.0");
        assert.ok(
          Date.now() - published <= 2500,
          `the CDN served the old manifest ${Date.now() - published} ms`,
        );
        const check = await world.cli(["check", "--json"]);
        assert.equal(check.code, 0, check.stderr);
        assert.equal(JSON.parse(check.stdout).available, "1.1.0");
        const update = await world.cli([]);
        assert.equal(update.code, 0, update.stderr);
        assert.match(update.stderr, /^Staged 1\.1\.0 from stable \(1\.0\.0 -> 1\.1\.0; /);
      },
    );

    await step("running it again is a no-op", async () => {
      const before = await listing(store, "w/");
      const run = await publish(["--to", "s3://releases/w", "--metadata-max-age", "1", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).changed, 0);
      assert.equal(JSON.parse(run.stdout).wait_ms, 0);
      assert.deepEqual(await listing(store, "w/"), before);
    });

    await step("credentials from the shared credentials file of a profile", async () => {
      await Deno.mkdir(`${dir.path}/aws`);
      await Deno.writeTextFile(
        `${dir.path}/aws/credentials`,
        `[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n\n[swift]\naws_access_key_id = ${swift.accessKeyId}\naws_secret_access_key = ${swift.secretAccessKey}\n`,
      );
      const run = await publish(["--to", "s3://releases/w", "--dry-run", "--json"], {
        // No --metadata-max-age: its default, 60, differs from the stored 1 (see below).
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
        AWS_PROFILE: "swift",
        AWS_SHARED_CREDENTIALS_FILE: `${dir.path}/aws/credentials`,
      });
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.credentials, `profile swift in ${dir.path}/aws/credentials`);
      assert.deepEqual(
        result.actions.filter((a: { change: string }) => a.change !== "unchanged")
          .map((a: { change: string; kind: string }) => `${a.change} ${a.kind}`),
        ["metadata channel-signature", "metadata manifest"],
      );
    });

    await step("the store's errors are one line with its code, and change nothing", async () => {
      const wrongSecret = await publish(["--to", "s3://releases/w"], {
        AWS_SECRET_ACCESS_KEY: "wrong",
      });
      assert.equal(wrongSecret.code, 1);
      assert.equal(
        wrongSecret.stderr.trim(),
        "error: Store request list s3://releases/w/ failed: HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method",
      );
      const reader = await publish(["--to", "s3://releases/r"], {
        AWS_ACCESS_KEY_ID: swift.readerAccessKeyId,
        AWS_SECRET_ACCESS_KEY: "reading",
      });
      assert.equal(reader.code, 1);
      assert.equal(
        reader.stderr.trim(),
        `error: Store request PUT s3://releases/r/stable/1.0.0/ms11-1.0.0 failed: HTTP 403 AccessDenied: Access Denied`,
      );
      assert.deepEqual(await listing(store, "r/"), {});
      const noBucket = await publish(["--to", "s3://no-such-bucket/w"]);
      assert.equal(noBucket.code, 1);
      assert.equal(
        noBucket.stderr.trim(),
        "error: Store request list s3://no-such-bucket/w/ failed: HTTP 404 NoSuchBucket: The specified bucket does not exist",
      );
    });
  }));
