// Publishing to a real S3-compatible store, Debian's OpenStack Swift 2.30 (tests/_swift.ts), behind
// Debian's nginx as a caching CDN (tests/_nginx.ts): what clients fetch anonymously, idempotence,
// refusals that change nothing, dry runs, resuming after a crash, and a client fetching in a
// tight loop during publications that never sees a torn state. Swift starts once (~10 s) and
// every step uses its own prefix of one public-read bucket.
import assert from "node:assert/strict";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import {
  IMMUTABLE_CACHE_CONTROL,
  type UploadOptions,
  uploadRelease,
} from "../lib/publish/upload.ts";
import { verifyManifest } from "../lib/trust/verify.ts";
import { parseManifest } from "../lib/trust/manifest.ts";
import { rejectsWith, sha256, tempDir } from "./_helpers.ts";
import { NGINX_PATH, startCdn } from "./_nginx.ts";
import { clientView, type ClientViewOptions, listing, storeOf } from "./_s3.ts";
import { startSwift, timeBound } from "./_swift.ts";

const PLATFORM = "linux-x64";

Deno.test("publish to a real S3 store (Swift) behind an nginx CDN", (t) =>
  timeBound(300_000, async () => {
    await using dir = await tempDir("ms11-s3-");
    await using swift = await startSwift();
    await swift.createBucket("releases", { publicRead: true });
    const origin = swift.publicUrl("releases");
    const cdn = await startCdn(origin);
    assert.ok(cdn, `${NGINX_PATH} is not installed: apt-get install nginx (.ci/run does)`);
    await using _cdn = cdn;
    const store = storeOf(swift, "releases");
    const written = await writeKeyPair(`${dir.path}/keys`);
    const key = await readSigningKey(written.privatePath);
    const pinned = { threshold: 1, keys: [written.publicKey] };

    /** Add `version` (an executable saying so, plus `extra`) to the tree `name`. */
    const release = async (name: string, version: string, { extra = "" } = {}) => {
      const artifact = `${dir.path}/app-${name}-${version}`;
      await Deno.writeTextFile(artifact, `#!/bin/sh\necho "MS11 ${version}"\n${extra}`);
      await publishRelease(`${dir.path}/${name}`, {
        channel: "stable",
        version,
        platform: PLATFORM,
        artifact,
        keys: [key],
      });
      return `${dir.path}/${name}`;
    };
    const upload = (tree: string, prefix: string, options: Partial<UploadOptions> = {}) =>
      uploadRelease(tree, { store, prefix, metadataMaxAge: 1, ...options });
    const versionAt = async (base: string) =>
      (await clientView(base, { pinned, platform: PLATFORM })).version;
    const step = (name: string, fn: () => Promise<void>) =>
      t.step(name, () => timeBound(90_000, fn));

    await step(
      "a tree is published: the CDN serves manifest, signatures and artifact with their Cache-Control",
      async () => {
        const tree = await release("a", "1.0.0");
        const result = await upload(tree, "a/", { metadataMaxAge: 30 });
        const manifestSha = sha256(await Deno.readFile(`${tree}/stable/manifest.json`));
        assert.deepEqual(result.actions.map((a) => `${a.change} ${a.kind} ${a.key}`), [
          "create file a/stable/1.0.0/app-a-1.0.0",
          `create signature a/stable/signatures/${manifestSha}.sig`,
          "create channel-signature a/stable/manifest.json.sig",
          "create manifest a/stable/manifest.json",
        ]);
        assert.equal(result.changed, 4);
        assert.equal(result.waitMs, 0); // a first publication replaces nothing
        assert.equal(result.target, "s3://releases/a/");

        const view = await clientView(`${cdn.url}/a/stable`, { pinned, platform: PLATFORM });
        assert.deepEqual(view, { version: "1.0.0", serial: 1, cacheControl: "public, max-age=30" });
        const sig = await fetch(`${cdn.url}/a/stable/manifest.json.sig`);
        assert.equal(sig.headers.get("cache-control"), "public, max-age=30");
        const entries = await sig.json();
        assert.deepEqual(entries.map((e: { manifest_sha256: string }) => e.manifest_sha256), [
          manifestSha,
        ]);
        // The signature named by the manifest's hash verifies it too, and never changes.
        const manifestBytes = new Uint8Array(
          await (await fetch(`${cdn.url}/a/stable/manifest.json`)).arrayBuffer(),
        );
        const addressed = await fetch(`${cdn.url}/a/stable/signatures/${manifestSha}.sig`);
        assert.equal(addressed.headers.get("cache-control"), IMMUTABLE_CACHE_CONTROL);
        const url = `${cdn.url}/a/stable/manifest.json`;
        await verifyManifest(manifestBytes, new Uint8Array(await addressed.arrayBuffer()), {
          url,
          signatureUrl: `${url}.sig`,
          channel: "stable",
          manifest: parseManifest(manifestBytes, { url, channel: "stable" }),
          pinned,
          trusted: null,
          startedAt: new Date(),
        });
        // The artifact: immutable for a year, its bytes the tree's, then served from the cache.
        const path = `${cdn.url}/a/stable/1.0.0/app-a-1.0.0`;
        for (let i = 0; i < 4; i++) {
          const got = await fetch(path);
          assert.equal(got.headers.get("cache-control"), IMMUTABLE_CACHE_CONTROL);
          // clientView's HEAD filled the cache (nginx fetches the whole object for it).
          assert.equal(got.headers.get("x-cache-status"), "HIT");
          assert.equal(
            sha256(new Uint8Array(await got.arrayBuffer())),
            sha256(await Deno.readFile(`${tree}/stable/1.0.0/app-a-1.0.0`)),
          );
        }
        const log = await Deno.readTextFile(cdn.accessLogPath);
        const toOrigin = log.split("\n").filter((l) =>
          /^(GET|HEAD) \/a\/stable\/1\.0\.0\//.test(l) && !l.endsWith(" HIT")
        );
        assert.deepEqual(toOrigin, ["HEAD /a/stable/1.0.0/app-a-1.0.0 200 MISS"], log);
        // Anonymous reads straight from the store agree.
        const direct = await fetch(`${origin}/a/stable/manifest.json`);
        assert.deepEqual(new Uint8Array(await direct.arrayBuffer()), manifestBytes);
      },
    );

    await step("publishing the same tree again changes nothing", async () => {
      const before = await listing(store, "a/");
      const requests = store.requests;
      const again = await upload(`${dir.path}/a`, "a/", { metadataMaxAge: 30 });
      assert.equal(again.changed, 0);
      assert.equal(again.bytes, 0);
      assert.deepEqual(again.actions.map((a) => a.change), [
        "unchanged",
        "unchanged",
        "unchanged",
        "unchanged",
      ]);
      // One listing and the two small metadata files: nothing uploaded, nothing hashed.
      assert.equal(store.requests - requests, 3);
      assert.equal(again.requests, 3);
      assert.deepEqual(await listing(store, "a/"), before);
    });

    await step("a new max-age re-sends only the metadata with the new Cache-Control", async () => {
      const result = await upload(`${dir.path}/a`, "a/", { metadataMaxAge: 7 });
      assert.deepEqual(result.actions.map((a) => `${a.change} ${a.kind}`), [
        "unchanged file",
        "unchanged signature",
        "metadata channel-signature",
        "metadata manifest",
      ]);
      assert.equal(result.waitMs, 0); // same bytes: nothing to wait for
      assert.equal((await store.head("a/stable/manifest.json"))?.cacheControl, "public, max-age=7");
    });

    await step("a dry run lists what would change and writes nothing", async () => {
      const before = await listing(store, "a/");
      const tree = await release("a", "1.1.0");
      const dry = await upload(tree, "a/", { dryRun: true, metadataMaxAge: 7 });
      assert.equal(dry.dryRun, true);
      assert.deepEqual(
        dry.actions.filter((a) => a.change !== "unchanged").map((a) => `${a.change} ${a.kind}`),
        ["create file", "create signature", "update channel-signature", "update manifest"],
      );
      assert.equal(dry.changed, 4);
      assert.equal(dry.waitMs, 7000); // at most the previous signature file's max-age
      assert.deepEqual(await listing(store, "a/"), before);
      assert.equal(
        await versionAt(`${origin}/a/stable`),
        "1.0.0",
      );
    });

    await step("an artifact with other bytes is refused before anything is written", async () => {
      await upload(await release("c", "1.0.0"), "c/");
      const before = await listing(store, "c/");
      const other = await release("c-other", "1.0.0", { extra: "echo rebuilt\n" });
      const mine = sha256(await Deno.readFile(`${dir.path}/c/stable/1.0.0/app-c-1.0.0`));
      // Same key, other bytes: the tree names its artifact like the store's.
      await Deno.rename(
        `${other}/stable/1.0.0/app-c-other-1.0.0`,
        `${other}/stable/1.0.0/app-c-1.0.0`,
      );
      const text = (await Deno.readTextFile(`${other}/stable/manifest.json`)).replace(
        "app-c-other-1.0.0",
        "app-c-1.0.0",
      );
      await Deno.writeTextFile(`${other}/stable/manifest.json`, text);
      await Deno.remove(`${other}/stable/manifest.json.sig`);
      const theirs = sha256(await Deno.readFile(`${other}/stable/1.0.0/app-c-1.0.0`));
      const sizes = await Promise.all(
        [`${dir.path}/c`, other].map(async (t) =>
          (await Deno.stat(`${t}/stable/1.0.0/app-c-1.0.0`)).size
        ),
      );
      await rejectsWith(
        upload(other, "c/"),
        Error,
        `Refusing to overwrite s3://releases/c/stable/1.0.0/app-c-1.0.0: the store has sha256 ${mine} (${
          sizes[0]
        } bytes), the tree has sha256 ${theirs} (${
          sizes[1]
        } bytes); a published file never changes, publish the new build under a new version`,
      );
      assert.deepEqual(await listing(store, "c/"), before);
    });

    await step("a manifest that would take the channel back is refused", async () => {
      const old = `${dir.path}/c-old`;
      await new Deno.Command("cp", { args: ["-a", `${dir.path}/c`, old] }).output();
      await upload(await release("c", "1.1.0"), "c/");
      const before = await listing(store, "c/");
      await rejectsWith(
        upload(old, "c/"),
        Error,
        "Refusing to publish s3://releases/c/stable/manifest.json with serial 1 (1.0.0): the store has serial 2 (1.1.0), and clients refuse a manifest that goes back",
      );
      assert.deepEqual(await listing(store, "c/"), before);
    });

    await step("a publish that crashes midway is completed by running it again", async () => {
      await upload(await release("d", "1.0.0"), "d/");
      const tree = await release("d", "1.1.0");
      // Crash right after the artifact is uploaded and checked.
      await rejectsWith(
        upload(tree, "d/", {
          onEvent(event) {
            if (event.type === "uploaded" && event.action.kind === "file") {
              throw new Error("simulated crash");
            }
          },
        }),
        Error,
        "simulated crash",
      );
      assert.notEqual(await store.head("d/stable/1.1.0/app-d-1.1.0"), null);
      assert.equal(
        await versionAt(`${origin}/d/stable`),
        "1.0.0",
      );
      const resumed = await upload(tree, "d/");
      assert.deepEqual(resumed.actions.map((a) => `${a.change} ${a.kind}`), [
        "unchanged file",
        "unchanged file",
        "create signature",
        "update channel-signature",
        "update manifest",
      ]);
      assert.equal(
        await versionAt(`${origin}/d/stable`),
        "1.1.0",
      );

      // Crash between the signature file and the manifest: the old manifest still verifies
      // against the new signature file, and the re-run waits out the rest of the max-age.
      const third = await release("d", "1.2.0");
      const controller = new AbortController();
      await assert.rejects(
        upload(third, "d/", {
          signal: controller.signal,
          metadataMaxAge: 3,
          onEvent(event) {
            if (event.type === "waiting") controller.abort(new Error("killed while waiting"));
          },
        }),
        /killed while waiting/,
      );
      assert.equal(
        await versionAt(`${origin}/d/stable`),
        "1.1.0",
      );
      const finished = await upload(third, "d/", { metadataMaxAge: 3 });
      assert.deepEqual(
        finished.actions.filter((a) => a.change !== "unchanged").map((a) => a.kind),
        ["manifest"],
      );
      // At most the max-age and two seconds of Last-Modified's rounding.
      assert.ok(finished.waitMs <= 5000, `waited ${finished.waitMs} ms`);
      // However long the crashed run waited, the manifest follows the signature file by the
      // max-age (3 s) and the second of Last-Modified's rounding.
      const written = async (key: string) => (await store.head(key))!.lastModified!.getTime();
      assert.ok(
        (await written("d/stable/manifest.json")) -
            (await written("d/stable/manifest.json.sig")) >= 4000,
      );
      assert.equal(
        await versionAt(`${origin}/d/stable`),
        "1.2.0",
      );
    });

    await step(
      "a publication within a second of the last one still reaches revalidating caches",
      async () => {
        // Swift rounds Last-Modified to the second and answers 304 to If-Modified-Since even when
        // If-None-Match differs: a signature file rewritten within the same second would be kept
        // by nginx's revalidation for good, beside the new manifest.
        const tree = await release("f", "1.0.0");
        // Start early in a second (the store's clock is this machine's): both publications'
        // signature files are then written within it.
        await new Promise((resolve) => setTimeout(resolve, 1000 - Date.now() % 1000));
        await upload(tree, "f/");
        assert.equal(await versionAt(`${cdn.url}/f/stable`), "1.0.0"); // fills the CDN
        await upload(await release("f", "1.1.0"), "f/");
        await new Promise((resolve) => setTimeout(resolve, 1200)); // the CDN's copies expire
        assert.equal(await versionAt(`${cdn.url}/f/stable`), "1.1.0");
      },
    );

    await step(
      "clients fetching in a tight loop during publications never see a torn state",
      async () => {
        await upload(await release("e", "1.0.0"), "e/");
        // A second CDN node: a client whose two requests reach different caches, whose copies
        // were filled at different times (half a max-age apart), may pair a fresh manifest with
        // a signature file cached before the publication began.
        const edge = await startCdn(origin);
        assert.ok(edge);
        await using _edge = edge;
        await (await fetch(`${edge.url}/e/stable/manifest.json.sig`)).arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 500));
        let publishing = true;
        const loop = async (base: string, options: Partial<ClientViewOptions> = {}) => {
          const seen = new Set<string>();
          let rounds = 0;
          const failures: string[] = [];
          while (publishing) {
            try {
              seen.add(
                (await clientView(base, { pinned, platform: PLATFORM, ...options })).version,
              );
            } catch (error) {
              failures.push((error as Error).message);
            }
            rounds++;
          }
          return { seen: [...seen].sort(), rounds, failures };
        };
        const loops = {
          "the store": loop(`${origin}/e/stable`),
          "the CDN": loop(`${cdn.url}/e/stable`),
          "two CDN nodes": loop(`${cdn.url}/e/stable`, { signatureBase: `${edge.url}/e/stable` }),
        };
        for (const version of ["1.1.0", "1.2.0", "1.3.0"]) {
          await upload(await release("e", version), "e/");
        }
        await new Promise((resolve) => setTimeout(resolve, 2500)); // the CDN's copies expire
        publishing = false;
        const results = Object.entries(loops).map(async ([name, running]) => ({
          name,
          ...await running,
        }));
        for (const result of await Promise.all(results)) {
          assert.deepEqual(
            result.failures.slice(0, 3),
            [],
            `${result.name}: ${result.failures.length} torn reads in ${result.rounds}`,
          );
        }
        for (const result of await Promise.all(results)) {
          assert.ok(result.rounds > 30, `${result.name}: only ${result.rounds} rounds`);
          assert.deepEqual(result.seen, ["1.0.0", "1.1.0", "1.2.0", "1.3.0"], result.name);
        }
        // The signature file keeps two replaced manifests' signatures behind the current one.
        const entries = await (await fetch(`${origin}/e/stable/manifest.json.sig`)).json();
        assert.equal(
          new Set(entries.map((e: { manifest_sha256: string }) => e.manifest_sha256)).size,
          3,
        );
      },
    );
  }));
