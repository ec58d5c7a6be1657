// The hostile-repository suite's deltas: a malicious repository whose signed manifest offers a
// delta that attacks the client through the update (tests/folder_delta_hostile_test.ts and
// tests/delta_test.ts test the library alone). Each delta is asked for once and refused with one
// clear line, nothing is written outside staging, the build it was made from is untouched, the
// delta is recorded bad, and the full update happens.
import assert from "node:assert/strict";
import { readAudit } from "../lib/root/audit.ts";
import { readState } from "../lib/root/state.ts";
import { makeTarGz } from "./_archives.ts";
import { sha256 } from "./_helpers.ts";
import { craftFolderDelta, craftPatch, describeTree, zstd } from "./_delta.ts";
import { PLATFORM, type Scene, scene } from "./_hostile_scene.ts";

const OLD = `#!/bin/sh\necho "MS11 1.0.0"\n`;
const NEW = `#!/bin/sh\necho "MS11 1.1.0"\n`;
const DELTA_PATH = "/stable/1.1.0/ms11.from-1.0.0.delta";

/** What a hostile delta is made from: the client's 1.0.0 build and the new artifact. */
interface Facts {
  /** The client's 1.0.0 seal (folder builds). */
  fromSeal: string;
  /** The scene's folder: nothing may appear outside the install. */
  dir: string;
}

interface HostileDelta {
  name: string;
  /** The builds are folders (tar.gz) rather than executables. */
  folder: boolean;
  delta(facts: Facts): Uint8Array;
  /** The refusal, after `Delta <file>: `. */
  message: RegExp;
}

/** A whole file as a patch made from nothing. */
function whole(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  return craftPatch({
    oldSize: 0,
    newSize: bytes.length,
    newSha256: sha256(text),
    blocks: [{ entries: [[0, bytes.length, 0]], extra: bytes }],
  });
}

/** A folder delta from the client's build holding `entries`, the first one's data the blob. */
function folderDelta(facts: Facts, entries: Record<string, unknown>[], blob = whole("evil")) {
  return craftFolderDelta({
    format: "ms11-folder-delta",
    version: 1,
    from: { seal: facts.fromSeal },
    to: { seal: "ab".repeat(32) },
    removed: [],
    entries,
  }, blob);
}

/** The same in the MS11FDZ2 format: a version 2 index, blobs without their patch headers. */
function folderDeltaV2(facts: Facts, entries: Record<string, unknown>[], blob: Uint8Array) {
  return craftFolderDelta(
    {
      format: "ms11-folder-delta",
      version: 2,
      from: { seal: facts.fromSeal },
      to: { seal: "ab".repeat(32) },
      removed: [],
      entries,
    },
    blob,
    "MS11FDZ2",
  );
}

/** The whole-file blob of "evil" in MS11FDZ2 (one block, no header). */
const EVIL_V2 = whole("evil").subarray(96);

/** A MS11FDZ2 file entry at `path` from {@linkcode EVIL_V2}, said to be `size` bytes. */
function evilFileV2(path: string, size = 4) {
  return {
    path,
    type: "file",
    mode: 0o644,
    size,
    sha256: sha256("evil"),
    data: { offset: 0, size: EVIL_V2.length, blocks: 1 },
  };
}

/** A file entry written at `path` from the whole-file blob of "evil". */
function evilFile(path: string, blob = whole("evil")) {
  return {
    path,
    type: "file",
    mode: 0o644,
    size: 4,
    sha256: sha256("evil"),
    data: { offset: 0, size: blob.length },
  };
}

const HOSTILE: HostileDelta[] = [
  {
    name: "a folder delta that writes outside the build (a .. path)",
    folder: true,
    delta: (f) => folderDelta(f, [evilFile("../evil.txt")]),
    message: /^entries\[0\]\.path "\.\.\/evil\.txt" refused: path has a "\.\." component$/,
  },
  {
    name: "a folder delta that writes outside the build (through a symlink it makes)",
    folder: true,
    delta: (f) =>
      folderDelta(f, [
        { path: "out", type: "symlink", target: "../../.." },
        evilFile("out/evil.txt"),
      ]),
    message:
      /^entry "out" refused: symlink target "\.\.\/\.\.\/\.\." resolves outside the build directory$/,
  },
  {
    name: "a MS11FDZ2 folder delta that writes outside the build (a .. path)",
    folder: true,
    delta: (f) => folderDeltaV2(f, [evilFileV2("../evil.txt")], EVIL_V2),
    message: /^entries\[0\]\.path "\.\.\/evil\.txt" refused: path has a "\.\." component$/,
  },
  {
    name: "a MS11FDZ2 folder delta whose entry lies about its size",
    folder: true,
    delta: (f) => folderDeltaV2(f, [evilFileV2("lib/evil.txt", 2)], EVIL_V2),
    message: /^block 1 entry 1 writes past the new size of 2 bytes \(to byte 4\)$/,
  },
  {
    name: "a MS11FDZ2 folder delta whose patch reads past the old file",
    folder: true,
    delta: (f) => {
      const blob = craftPatch({
        oldSize: 13,
        newSize: 20,
        newSha256: sha256("x".repeat(20)),
        blocks: [{ entries: [[20, 0, 0]] }],
      }).subarray(96);
      return folderDeltaV2(f, [{
        path: "lib/data.txt",
        type: "file",
        mode: 0o644,
        size: 20,
        sha256: sha256("x".repeat(20)),
        patch: { from: "lib/data.txt", offset: 0, size: blob.length, blocks: 1 },
      }], blob);
    },
    message: /^block 1 entry 1 reads old bytes 0\.\.20, outside the old file's 13 bytes$/,
  },
  {
    name: "a MS11FDZ2 folder delta whose frame is truncated",
    folder: true,
    delta: (f) => {
      const cut = EVIL_V2.subarray(0, EVIL_V2.length - 3);
      const entry = {
        ...evilFileV2("lib/evil.txt"),
        data: { offset: 0, size: cut.length, blocks: 1 },
      };
      return folderDeltaV2(f, [entry], cut);
    },
    message: /^patch is truncated in block 1 \(frame of \d+ bytes, \d+ left\)$/,
  },
  {
    name: "a folder delta whose index expands without bound",
    folder: true,
    delta: () => {
      const frame = zstd(new Uint8Array(1 << 24), 1);
      const head = craftFolderDelta({}).subarray(0, 16);
      new DataView(head.buffer).setUint32(8, frame.length, true);
      new DataView(head.buffer).setUint32(12, 4096, true);
      const out = new Uint8Array(16 + frame.length);
      out.set(head);
      out.set(frame, 16);
      return out;
    },
    message: /^index decompresses to more than its declared 4096 bytes$/,
  },
  {
    name: "a folder delta that rebuilds another build than the signed one (its seal differs)",
    folder: true,
    delta: (f) => folderDelta(f, [], new Uint8Array(0)),
    message: /^rebuilt build \S+ has seal [0-9a-f]{64}, expected (ab){32}$/,
  },
  {
    name: "a patch that reads past the old file",
    folder: false,
    delta: () =>
      craftPatch({
        oldSize: OLD.length,
        oldSha256: sha256(OLD),
        newSize: NEW.length,
        newSha256: sha256(NEW),
        blocks: [{ entries: [[5, 0, 25], [5, NEW.length - 10, 0]] }],
      }),
    message: /^block 1 entry 2 reads old bytes 30\.\.35, outside the old file's 28 bytes$/,
  },
  {
    name: "a patch that expands without bound (64 MiB of zeros for 4034 declared bytes)",
    folder: false,
    delta: () =>
      craftPatch({
        oldSize: OLD.length,
        oldSha256: sha256(OLD),
        newSize: NEW.length,
        newSha256: sha256(NEW),
        blocks: [{
          entries: [[0, NEW.length, 0]],
          frame: zstd(new Uint8Array(64 * 1024 * 1024), 1),
          header: { extra: 4010 },
        }],
      }),
    message: /^block 1 decompresses to more than its declared 4034 bytes$/,
  },
];

/** A tar.gz build whose `ms11` prints `version`. */
async function folderBuild(dir: string, version: string): Promise<Uint8Array> {
  const file = `${dir}/build-${version}.tar.gz`;
  await makeTarGz(file, [
    { type: "file", name: "ms11", mode: 0o755, data: `#!/bin/sh\necho "MS11 ${version}"\n` },
    { type: "file", name: "lib/data.txt", data: `data of ${version}` },
  ]);
  return await Deno.readFile(file);
}

/** Every path under `dir` (files, folders, links), relative, sorted. */
async function pathsUnder(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    out.push(path);
    if (entry.isDirectory) out.push(...await pathsUnder(dir, path));
  }
  return out.sort();
}

/** Publish 1.1.0 (serial 6) offering `delta` from 1.0.0, served by the hostile repository. */
async function offer(s: Scene, delta: Uint8Array, folder: boolean, facts: Facts) {
  const artifact = folder ? await folderBuild(s.dir, "1.1.0") : new TextEncoder().encode(NEW);
  s.repo.set(DELTA_PATH, delta);
  await s.publish({
    version: "1.1.0",
    serial: 6,
    artifact,
    ...(folder ? { kind: "tar.gz" } : {}),
    edit: (doc) => {
      const a = (doc.artifacts as Record<string, Record<string, unknown>>)[PLATFORM];
      a.deltas = [{
        from: "1.0.0",
        url: "1.1.0/ms11.from-1.0.0.delta",
        size: delta.length,
        sha256: sha256(delta),
        ...(folder
          ? { kind: "folder", from_seal: facts.fromSeal, seal: "ab".repeat(32) }
          : { kind: "bsdiff", from_sha256: sha256(OLD) }),
      }];
    },
  });
}

for (const hostile of HOSTILE) {
  Deno.test({
    name: `hostile: ${hostile.name} is refused, then the full build is installed`,
    async fn() {
      const work = await Deno.makeTempDir({ prefix: "ms11-hostile-build-" });
      const first = hostile.folder
        ? { artifact: await folderBuild(work, "1.0.0"), kind: "tar.gz" }
        : {};
      await Deno.remove(work, { recursive: true });
      await using s = await scene({ first });
      const before = await readState(s.layout);
      const facts: Facts = { fromSeal: before.state.builds["1.0.0"].tree_sha256 ?? "", dir: s.dir };
      const oldBuild = await describeTree(`${s.layout.root}/builds/1.0.0`);
      await offer(s, hostile.delta(facts), hostile.folder, facts);
      const outside = await pathsUnder(s.dir);
      const warnings: string[] = [];
      const result = await s.update({ onWarning: (m) => warnings.push(m) });
      assert.equal(result.staged, "1.1.0");
      assert.equal(s.repo.requests.filter((r) => r.path === DELTA_PATH).length, 1);
      const line = warnings.find((w) => w.startsWith("The delta from 1.0.0"));
      const match =
        /^The delta from 1\.0\.0 to 1\.1\.0 failed \(Delta [^:]+: (.*)\); downloading the full build$/
          .exec(line ?? "");
      assert.ok(match, `no refusal line in ${JSON.stringify(warnings)}`);
      assert.match(match[1], hostile.message);
      // Nothing was written outside staging: the scene's folder holds what it held, plus the
      // new build and the install's own records; the old build is as it was.
      const added = (await pathsUnder(s.dir)).filter((p) => !outside.includes(p));
      assert.deepEqual(
        added.filter((p) =>
          !p.startsWith("root/builds/1.1.0") && !/^root\/(audit|state|trust|downloads)/.test(p)
        ),
        [],
      );
      assert.deepEqual(added.filter((p) => /evil|\.staging|\.delta/.test(p)), []);
      assert.deepEqual(await describeTree(`${s.layout.root}/builds/1.0.0`), oldBuild);
      const { state } = await readState(s.layout);
      assert.equal(state.last_download?.method, "full");
      assert.deepEqual(state.bad_deltas?.map((b) => [b.version, b.from]), [["1.1.0", "1.0.0"]]);
      const failed = (await readAudit(s.layout)).filter((e) => e.event === "delta_failed");
      assert.equal(failed.length, 1);
      assert.ok(String(failed[0].reason).endsWith(`: ${match[1]}`), String(failed[0].reason));
    },
  });
}
