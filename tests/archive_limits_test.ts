// Archives: names and sizes (issue 11, part 4). Entry names with NUL or another control
// character are refused in every form a format stores them (ustar fields, pax records, GNU long
// names, zip names); an archive's content is bounded by the expanded size its signed manifest
// declares (stop at the first byte over; fewer is refused too), or without one by an expansion
// ratio; `release` publishes the expanded size and the preflight counts it.
import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import * as tar from "tar";
import { makeTarGz, makeZip, run, type TarEntry, type ZipEntry } from "./_archives.ts";
import { rejectsWith, sha256, tempDir } from "./_helpers.ts";
import { linuxPlatform, makeWorld, snapshot } from "./_e2e.ts";
import { UnsafeArchiveError } from "../lib/core/errors.ts";
import {
  EXPANSION_FLOOR_BYTES,
  extractArchive,
  inspectArchive,
  MAX_EXPANSION_RATIO,
} from "../lib/archive/extract.ts";
import { parseManifest } from "../lib/trust/manifest.ts";
import { publishRelease, verifyRelease } from "../lib/publish/release.ts";
import { signDocument } from "../lib/publish/signing.ts";
import { validateConfig } from "../lib/core/config_schema.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { SPACE_MARGIN_BYTES } from "../lib/root/space.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { readAudit } from "../lib/root/audit.ts";

const LONG = "d".repeat(120); // forces a pax record or a GNU long name

/** One hostile name: the archive to build and the entry and reason of the refusal. */
interface NameCase {
  name: string;
  kind: "tar.gz" | "zip";
  tar?: { entries: TarEntry[]; format: "pax" | "gnu" | "ustar" };
  zip?: ZipEntry[];
  entry: string;
  reason: string;
}

const NUL = "path contains a NUL character";

const NAME_CASES: NameCase[] = [
  {
    name: "ustar name field",
    kind: "tar.gz",
    tar: { format: "ustar", entries: [{ type: "file", name: "evil\0/../../x", data: "x" }] },
    entry: "evil\0/../../x",
    reason: NUL,
  },
  {
    name: "ustar link field",
    kind: "tar.gz",
    tar: {
      format: "ustar",
      entries: [{ type: "symlink", name: "lib", target: "ok\0/../../../etc" }],
    },
    entry: "lib",
    reason: `symlink target ${JSON.stringify("ok\0/../../../etc")}: ${NUL}`,
  },
  {
    name: "pax path",
    kind: "tar.gz",
    tar: { format: "pax", entries: [{ type: "file", name: `evil\0/${LONG}/../../x`, data: "x" }] },
    entry: `evil\0/${LONG}/../../x`,
    reason: NUL,
  },
  {
    name: "pax path (non-ASCII)",
    kind: "tar.gz",
    tar: { format: "pax", entries: [{ type: "file", name: "évil\0/../../x", data: "x" }] },
    entry: "évil\0/../../x",
    reason: NUL,
  },
  {
    name: "pax linkpath",
    kind: "tar.gz",
    tar: {
      format: "pax",
      entries: [{ type: "symlink", name: "lib", target: `ok\0/${LONG}/../../../../etc` }],
    },
    entry: `ok\0/${LONG}/../../../../etc`,
    reason: `pax linkpath: ${NUL}`,
  },
  {
    name: "GNU long name",
    kind: "tar.gz",
    tar: { format: "gnu", entries: [{ type: "file", name: `evil\0/${LONG}/../../x`, data: "x" }] },
    entry: `evil\0/${LONG}/../../x`,
    reason: NUL,
  },
  {
    name: "GNU long link name",
    kind: "tar.gz",
    tar: {
      format: "gnu",
      entries: [{ type: "symlink", name: "lib", target: `ok\0/${LONG}/../../../../etc` }],
    },
    entry: "(GNU long link name)",
    reason: `symlink target ${JSON.stringify(`ok\0/${LONG}/../../../../etc`)}: ${NUL}`,
  },
  {
    name: "zip name",
    kind: "zip",
    zip: [{ name: "ms11X.bak", storedName: "ms11\0.bak", data: "x" }],
    entry: "ms11\0.bak",
    reason: NUL,
  },
  {
    name: "pax path with an escape sequence",
    kind: "tar.gz",
    tar: { format: "pax", entries: [{ type: "file", name: "ms11\x1b[2J", data: "x" }] },
    entry: "ms11\x1b[2J",
    reason: "path contains the control character U+001B",
  },
  {
    name: "ustar name with DEL",
    kind: "tar.gz",
    tar: { format: "ustar", entries: [{ type: "file", name: "ms11\x7f", data: "x" }] },
    entry: "ms11\x7f",
    reason: "path contains the control character U+007F",
  },
  {
    name: "GNU long name with a newline",
    kind: "tar.gz",
    tar: { format: "gnu", entries: [{ type: "file", name: `${LONG}\nms11`, data: "x" }] },
    entry: `${LONG}\nms11`,
    reason: "path contains the control character U+000A",
  },
  {
    name: "zip name with an escape (not marked UTF-8)",
    kind: "zip",
    zip: [{ name: "ms11\x1b]0;pwned\x07", data: "x" }],
    entry: "ms11\x1b]0;pwned\x07",
    reason: "path contains the control character U+001B",
  },
  {
    name: "zip name with a C1 control (UTF-8)",
    kind: "zip",
    zip: [{ name: "ms11\u009b31m", data: "x" }],
    entry: "ms11\u009b31m",
    reason: "path contains the control character U+009B",
  },
];

Deno.test("names with NUL or another control character are refused in every archive format", async (t) => {
  for (const c of NAME_CASES) {
    await t.step(c.name, async () => {
      await using dir = await tempDir();
      const archive = c.kind === "zip"
        ? await makeZip(`${dir.path}/a.zip`, c.zip!)
        : await makeTarGz(`${dir.path}/a.tar.gz`, c.tar!.entries, { format: c.tar!.format });
      const dest = `${dir.path}/build`;
      await rejectsWith(
        extractArchive(archive, dest, { kind: c.kind }),
        UnsafeArchiveError,
        `Unsafe archive ${archive}: entry ${JSON.stringify(c.entry)} refused: ${c.reason}`,
      );
      await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound); // nothing left
      // The publisher's check refuses the same archive.
      await rejectsWith(
        inspectArchive(archive, { kind: c.kind }),
        UnsafeArchiveError,
        `Unsafe archive ${archive}: entry ${JSON.stringify(c.entry)} refused: ${c.reason}`,
      );
    });
  }
});

Deno.test("the zip name evil\\0/../../x is refused (by zip.js's own name check first)", async () => {
  await using dir = await tempDir();
  const archive = await makeZip(`${dir.path}/a.zip`, [
    { name: "evilX/../../x", storedName: "evil\0/../../x", data: "x" },
  ]);
  await rejectsWith(
    extractArchive(archive, `${dir.path}/build`, { kind: "zip" }),
    UnsafeArchiveError,
    /^Unsafe archive .*: entry "evil\\u0000\/\.\.\/\.\.\/x" refused: /,
  );
});

Deno.test("clean names in every format still extract (padding after the NUL is fine)", async () => {
  await using dir = await tempDir();
  for (const format of ["ustar", "pax", "gnu"] as const) {
    const archive = await makeTarGz(`${dir.path}/${format}.tar.gz`, [
      { type: "file", name: `ms11`, data: "#!/bin/sh\n", mode: 0o755 },
      { type: "file", name: `lib/${LONG}/café.so`, data: "x" },
      // ustar has no room for a long link target; a long name goes in its prefix field.
      {
        type: "symlink",
        name: `lib/libms11.so`,
        target: format === "ustar" ? "x" : `${LONG}/café.so`,
      },
    ], { format });
    const result = await extractArchive(archive, `${dir.path}/${format}`, { kind: "tar.gz" });
    assert.deepEqual(result, { files: 2, bytes: 11 }, format);
  }
  const zip = await makeZip(`${dir.path}/a.zip`, [{ name: "ms11", data: "x" }, {
    name: "données/é.txt",
    data: "y",
  }]);
  assert.deepEqual(await extractArchive(zip, `${dir.path}/zip`, { kind: "zip" }), {
    files: 2,
    bytes: 2,
  });
});

// --- sizes ----------------------------------------------------------------------------------

/** A tar.gz and a zip each holding two files of 600 bytes. */
async function twoFiles(dir: string): Promise<{ "tar.gz": string; zip: string }> {
  const data = "x".repeat(600);
  return {
    "tar.gz": await makeTarGz(`${dir}/two.tar.gz`, [
      { type: "file", name: "ms11", data, mode: 0o755 },
      { type: "file", name: "data", data },
    ]),
    zip: await makeZip(`${dir}/two.zip`, [
      { name: "ms11", data, mode: 0o100755 },
      { name: "data", data },
    ]),
  };
}

Deno.test("an archive over its declared expanded size stops at the first byte over", async () => {
  await using dir = await tempDir();
  const archives = await twoFiles(dir.path);
  for (const kind of ["tar.gz", "zip"] as const) {
    const dest = `${dir.path}/build-${kind}`;
    let most = 0;
    await rejectsWith(
      extractArchive(archives[kind], dest, {
        kind,
        expandedSize: 1000,
        onProgress: (p) => most = Math.max(most, p.done),
      }),
      UnsafeArchiveError,
      `Unsafe archive ${
        archives[kind]
      }: entry "data" refused: archive content exceeds the 1000 bytes its manifest declares (expanded_size)`,
    );
    assert.ok(most <= 1000, `${kind}: ${most} bytes were written`);
    await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound);
  }
});

Deno.test("an archive with less content than declared is refused; exactly the declared size passes", async () => {
  await using dir = await tempDir();
  const archives = await twoFiles(dir.path);
  for (const kind of ["tar.gz", "zip"] as const) {
    const dest = `${dir.path}/build-${kind}`;
    await rejectsWith(
      extractArchive(archives[kind], dest, { kind, expandedSize: 1300 }),
      UnsafeArchiveError,
      `Unsafe archive ${
        archives[kind]
      }: entry "(all entries)" refused: archive holds 1200 bytes of content, not the 1300 bytes its manifest declares (expanded_size)`,
    );
    await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound);
    assert.deepEqual(await extractArchive(archives[kind], dest, { kind, expandedSize: 1200 }), {
      files: 2,
      bytes: 1200,
    });
  }
});

/** A .tar.gz (or .zip) of one file of `mib` MiB of zeros: a bomb. */
async function zeros(dir: string, mib: number, kind: "tar.gz" | "zip"): Promise<string> {
  await run("dd", ["if=/dev/zero", `of=${dir}/ms11`, "bs=1M", `count=${mib}`, "status=none"]);
  const out = `${dir}/bomb.${kind}`;
  if (kind === "zip") await run("zip", ["-q", "-9", out, "ms11"], dir);
  else await run("tar", ["-czf", out, "-C", dir, "ms11"]);
  await Deno.remove(`${dir}/ms11`);
  return out;
}

Deno.test("an archive over the expansion ratio is refused when its manifest declares no size", async () => {
  await using dir = await tempDir();
  for (const kind of ["tar.gz", "zip"] as const) {
    const archive = await zeros(dir.path, 80, kind);
    const size = (await Deno.stat(archive)).size;
    assert.ok(80 * 1024 ** 2 > size * MAX_EXPANSION_RATIO, "it really is a bomb");
    const dest = `${dir.path}/build-${kind}`;
    await rejectsWith(
      extractArchive(archive, dest, { kind }),
      UnsafeArchiveError,
      `Unsafe archive ${archive}: entry "ms11" refused: archive content exceeds ${EXPANSION_FLOOR_BYTES} bytes, the most an archive of ${size} bytes may hold without a declared expanded_size (${MAX_EXPANSION_RATIO} times its size, at least ${EXPANSION_FLOOR_BYTES})`,
    );
    await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound);
    // Declared in the signed manifest, the same archive is fine.
    const result = await extractArchive(archive, dest, {
      kind,
      expandedSize: 80 * 1024 ** 2,
      sync: false,
    });
    assert.equal(result.bytes, 80 * 1024 ** 2);
    await Deno.remove(dest, { recursive: true });
    await Deno.remove(archive);
  }
});

Deno.test("inspectArchive reads an archive as extraction would and writes nothing", async () => {
  await using dir = await tempDir();
  const archive = await makeTarGz(`${dir.path}/a.tar.gz`, [
    { type: "file", name: "ms11", data: "#!/bin/sh\n", mode: 0o4755 },
    { type: "file", name: "lib/libms11.so.1", data: "ELF" },
    { type: "symlink", name: "lib/libms11.so", target: "libms11.so.1" },
  ]);
  const before = (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name).sort();
  assert.deepEqual(await inspectArchive(archive, { kind: "tar.gz" }), {
    files: 2,
    bytes: 13,
    entries: [
      { path: "lib", kind: "dir", mode: 0o755 },
      { path: "lib/libms11.so", kind: "symlink", mode: 0o777, target: "libms11.so.1" },
      { path: "lib/libms11.so.1", kind: "file", mode: 0o644, sha256: sha256("ELF") },
      { path: "ms11", kind: "file", mode: 0o755, sha256: sha256("#!/bin/sh\n") }, // setuid dropped
    ],
  });
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name).sort(),
    before,
  );
});

// --- the manifest, the publisher, the client ------------------------------------------------

const URL_ = "https://updates.ms11.com/stable/manifest.json";

function manifestWith(artifact: Record<string, unknown>): string {
  return JSON.stringify({
    schema: 1,
    channel: "stable",
    version: "1.1.0",
    released_at: "2026-11-20T10:00:00Z",
    artifacts: {
      "linux-x64": { url: "1.1.0/a.tar.gz", size: 3, sha256: "a".repeat(64), ...artifact },
    },
  });
}

Deno.test("parseManifest: expanded_size of an archive is kept, refused when not a size, ignored for an executable", () => {
  const tar = parseManifest(manifestWith({ kind: "tar.gz", expanded_size: 9000 }), { url: URL_ });
  assert.equal(tar.artifacts["linux-x64"].expanded_size, 9000);
  const none = parseManifest(manifestWith({ kind: "zip" }), { url: URL_ });
  assert.equal("expanded_size" in none.artifacts["linux-x64"], false);
  const exe = parseManifest(manifestWith({ kind: "executable", expanded_size: 3 }), { url: URL_ });
  assert.equal("expanded_size" in exe.artifacts["linux-x64"], false);
  for (const bad of [-1, 1.5, "9000", null]) {
    assert.throws(
      () => parseManifest(manifestWith({ kind: "tar.gz", expanded_size: bad }), { url: URL_ }),
      {
        name: "TypeError",
        message:
          `Manifest ${URL_}: artifacts.linux-x64.expanded_size must be a non-negative integer, got ${
            JSON.stringify(bad)
          }`,
      },
    );
  }
});

Deno.test("release publishes the expanded size of a tar.gz and a zip; verify-release checks it", async () => {
  await using world = await makeWorld();
  const archives = await twoFiles(world.dir);
  for (const [i, kind] of (["tar.gz", "zip"] as const).entries()) {
    const version = `1.${i}.0`;
    const { manifest, manifestPath } = await publishRelease(world.tree, {
      channel: "stable",
      version,
      platform: "linux-x64",
      artifact: archives[kind],
      keys: [world.key],
    });
    assert.equal(manifest.artifacts["linux-x64"].expanded_size, 1200);
    const written = JSON.parse(await Deno.readTextFile(manifestPath));
    assert.equal(written.artifacts["linux-x64"].expanded_size, 1200);
    const keys = { threshold: 1, keys: [world.key.publicKey] };
    assert.deepEqual((await verifyRelease(world.tree, { keys }))[0].problems, []);
    // A manifest (validly signed) that declares another size is caught before upload.
    written.artifacts["linux-x64"].expanded_size = 1100;
    const bytes = new TextEncoder().encode(JSON.stringify(written));
    await Deno.writeFile(manifestPath, bytes);
    await Deno.writeTextFile(`${manifestPath}.sig`, await signDocument(bytes, [world.key]));
    const [{ problems }] = await verifyRelease(world.tree, { keys });
    const file = `${world.tree}/stable/${version}/two.${kind}`;
    assert.deepEqual(problems, [
      `Artifact ${file} (linux-x64) would be refused by clients: Unsafe archive ${file}: entry "data" refused: archive content exceeds the 1100 bytes its manifest declares (expanded_size)`,
    ]);
  }
});

Deno.test("a client refuses an archive over the expanded size its signed manifest declares; nothing is staged", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const src = `${world.dir}/src`;
  await Deno.mkdir(src);
  await Deno.writeTextFile(`${src}/ms11`, "#!/bin/sh\necho MS11 1.1.0\n");
  await Deno.chmod(`${src}/ms11`, 0o755);
  await Deno.writeFile(`${src}/big`, new Uint8Array(4096));
  await run("tar", ["-czf", `${world.dir}/ms11-1.1.0.tar.gz`, "-C", src, "."]);
  const { manifestPath } = await publishRelease(world.tree, {
    channel: "stable",
    version: "1.1.0",
    platform: linuxPlatform(),
    artifact: `${world.dir}/ms11-1.1.0.tar.gz`,
    keys: [world.key],
  });
  // The publisher (or whoever signed) declares less than the archive holds.
  const doc = JSON.parse(await Deno.readTextFile(manifestPath));
  assert.equal(doc.artifacts[linuxPlatform()].expanded_size, 4096 + 26);
  doc.artifacts[linuxPlatform()].expanded_size = 100;
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  await Deno.writeFile(manifestPath, bytes);
  await Deno.writeTextFile(`${manifestPath}.sig`, await signDocument(bytes, [world.key]));
  const before = await snapshot(world.root);
  const run1 = await world.cli([]);
  assert.equal(run1.code, 1);
  assert.match(
    run1.stderr,
    /entry "\.\/(big|ms11)" refused: archive content exceeds the 100 bytes its manifest declares \(expanded_size\)/,
  );
  assert.equal(await snapshot(world.root), before);
  const refused = (await readAudit(layoutOf(world.root))).filter((e) =>
    e.event === "artifact_refused"
  );
  assert.equal(refused.length, 1);
});

Deno.test("the preflight counts the declared expanded size of an archive", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const archives = await twoFiles(world.dir);
  await publishRelease(world.tree, {
    channel: "stable",
    version: "1.1.0",
    platform: linuxPlatform(),
    artifact: archives["tar.gz"],
    keys: [world.key],
  });
  const size = (await Deno.stat(archives["tar.gz"])).size;
  const config = validateConfig(JSON.parse(await Deno.readTextFile(world.configPath)));
  const layout = layoutOf(world.root);
  const M = SPACE_MARGIN_BYTES;
  await rejectsWith(
    runUpdate(layout, config, {
      channel: "stable",
      platform: linuxPlatform(),
      freeSpace: () => Promise.resolve(1000),
    }),
    Error,
    `Not enough free space in ${layout.downloads}: need ${
      size + 1200 + M
    } bytes (artifact ${size}, extraction 1200, margin ${M}), 1000 available`,
  );
});

Deno.test("a tarball written by node-tar (as every npm package is) extracts: atime and ctime follow its prefix", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  // A name over 100 bytes goes in the ustar prefix field; node-tar keeps that prefix within
  // 130 bytes and writes the atime and ctime after it (bytes 476..500).
  const deep = `package/${"d".repeat(60)}/${"e".repeat(40)}`;
  await Deno.mkdir(`${src}/${deep}`, { recursive: true });
  await Deno.writeTextFile(`${src}/${deep}/index.js`, "x");
  await Deno.writeTextFile(`${src}/package/ms11`, "#!/bin/sh\n");
  const archive = `${dir.path}/npm.tgz`;
  await tar.create({ gzip: true, file: archive, cwd: src, portable: false }, ["package"]);
  // The first file header really has a prefix and a time after it, as an npm tarball has.
  const raw = gunzipSync(await Deno.readFile(archive));
  const at = findHeader(raw, `${deep}/index.js`);
  assert.notEqual(raw[at + 345], 0, "a prefix");
  assert.equal(raw[at + 475], 0, "a 130-byte prefix");
  assert.notEqual(raw[at + 476], 0, "an atime after it");
  const result = await extractArchive(archive, `${dir.path}/build`, { kind: "tar.gz" });
  assert.deepEqual(result, { files: 2, bytes: 11 });
  assert.equal(await Deno.readTextFile(`${dir.path}/build/${deep}/index.js`), "x");
  // A NUL inside those 130 bytes followed by more name is still refused.
  raw.set(new TextEncoder().encode("evil\0x"), at + 345);
  const sum = raw.subarray(at, at + 512).reduce((s, b, i) => s + (i >= 148 && i < 156 ? 32 : b), 0);
  raw.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), at + 148);
  const bad = `${dir.path}/bad.tar`;
  await Deno.writeFile(bad, gzipSync(raw));
  await rejectsWith(
    extractArchive(bad, `${dir.path}/bad`, { kind: "tar.gz" }),
    UnsafeArchiveError,
    /refused: path contains a NUL character$/,
  );
});

/** The offset of the ustar header whose name and prefix make `path`. */
function findHeader(raw: Uint8Array, path: string): number {
  const text = new TextDecoder();
  for (let at = 0; at + 512 <= raw.length; at += 512) {
    const field = (from: number, to: number) =>
      text.decode(raw.subarray(from, to)).replace(/\0.*$/s, "");
    if (text.decode(raw.subarray(at + 257, at + 263)) !== "ustar\0") continue;
    const name = field(at, at + 100);
    const prefix = field(at + 345, at + 475);
    if (`${prefix}/${name}` === path) return at;
  }
  throw new Error(`No ustar header for ${path}`);
}
