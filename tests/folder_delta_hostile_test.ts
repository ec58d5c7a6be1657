// Hostile folder deltas (lib/delta/folder.ts): deltas that try to write outside the build, read
// outside the old one, or lie about what they make; each refused with its reason and message,
// nothing written outside, the old build untouched and no new folder left behind.
import assert from "node:assert/strict";
import { applyFolderDelta } from "../lib/delta/folder.ts";
import type { DeltaReason } from "../lib/delta/errors.ts";
import { encodePatch } from "../lib/delta/_make_patch.ts";
import { treeDigest } from "../lib/root/seal.ts";
import { exists } from "../lib/core/fs.ts";
import { zstdCompressSync } from "node:zlib";
import { sha256, tempDir } from "./_helpers.ts";
import {
  concat,
  craftFolderDelta,
  craftPatch,
  DELTA_TIMEOUT_MS,
  describeTree,
  rejectsDelta,
  writeTree,
  zstd,
} from "./_delta.ts";

/** A whole-file blob (a patch made from nothing) for `text`. */
async function wholeBlob(dir: string, text: string): Promise<Uint8Array> {
  const path = `${dir}/blob-src-${crypto.randomUUID()}`;
  await Deno.writeTextFile(path, text);
  const digest = { size: new TextEncoder().encode(text).length, sha256: sha256(text) };
  await encodePatch(null, { path, digest }, `${path}.bsz`, {
    level: 3,
    concurrency: 1,
    maxMemory: 1e9,
  });
  const bytes = await Deno.readFile(`${path}.bsz`);
  await Deno.remove(path);
  await Deno.remove(`${path}.bsz`);
  return bytes;
}

interface Scene {
  root: string;
  old: string;
  out: string;
  outside: string;
  fromSeal: string;
}

async function scene(root: string): Promise<Scene> {
  await writeTree(`${root}/old`, {
    "a.txt": "a",
    "sub/b.txt": "b",
    "link": { link: "sub" },
  });
  await writeTree(`${root}/outside`, { "secret": "secret" });
  return {
    root,
    old: `${root}/old`,
    out: `${root}/rebuilt`,
    outside: `${root}/outside`,
    fromSeal: await treeDigest(`${root}/old`),
  };
}

interface HostileFolder {
  name: string;
  /** The delta's bytes (from the scene). */
  delta: (s: Scene) => Promise<Uint8Array>;
  reason: DeltaReason;
  message: RegExp;
  options?: { seal?: string; maxEntries?: number; maxBytes?: number };
}

function index(s: Scene, entries: unknown[], extra: Record<string, unknown> = {}) {
  return {
    format: "ms11-folder-delta",
    version: 1,
    from: { seal: s.fromSeal },
    to: { seal: "ab".repeat(32) },
    removed: [],
    entries,
    ...extra,
  };
}

/** A delta of one whole file `path` holding `text`, besides `entries`. */
async function withFile(
  s: Scene,
  path: string,
  text: string,
  entries: unknown[] = [],
  extra: Record<string, unknown> = {},
) {
  const blob = await wholeBlob(s.root, text);
  const file = {
    path,
    type: "file",
    mode: 0o644,
    size: text.length,
    sha256: sha256(text),
    data: { offset: 0, size: blob.length },
  };
  return craftFolderDelta(index(s, [...entries, file], extra), blob);
}

/** The blocks of a patch, its 96-byte header left off (a MS11FDZ2 blob). */
function bare(patch: Uint8Array): Uint8Array {
  return patch.subarray(96);
}

/** A MS11FDZ2 delta: a version 2 index and its header-less blobs. */
function craftV2(s: Scene, entries: unknown[], blobs?: Uint8Array, extra = {}) {
  return craftFolderDelta(index(s, entries, { version: 2, ...extra }), blobs, "MS11FDZ2");
}

/** A MS11FDZ2 delta of one whole file `path` holding `text`, its entry said to be `size` bytes. */
async function withFileV2(s: Scene, path: string, text: string, size = text.length) {
  const blob = bare(await wholeBlob(s.root, text));
  const file = {
    path,
    type: "file",
    mode: 0o644,
    size,
    sha256: sha256(text),
    data: { offset: 0, size: blob.length, blocks: 1 },
  };
  return { blob, file, delta: craftV2(s, [file], blob) };
}

/** A MS11FDZ2 delta packing the files `texts` (path → text) in one frame, `edit` applied. */
function withPack(
  s: Scene,
  texts: Record<string, string>,
  edit: (
    parts: { entries: Record<string, unknown>[]; pack: Record<string, number>; frame: Uint8Array },
  ) => void = () => {},
) {
  const bytes = new TextEncoder().encode(Object.values(texts).join(""));
  const parts = {
    frame: new Uint8Array(zstdCompressSync(bytes)),
    pack: { offset: 0, size: 0, bytes: bytes.length },
    entries: [] as Record<string, unknown>[],
  };
  let at = 0;
  for (const [path, text] of Object.entries(texts)) {
    parts.entries.push({
      path,
      type: "file",
      mode: 0o644,
      size: text.length,
      sha256: sha256(text),
      pack: { at },
    });
    at += text.length;
  }
  parts.pack.size = parts.frame.length;
  edit(parts);
  return Promise.resolve(craftV2(s, parts.entries, parts.frame, { pack: parts.pack }));
}

const HOSTILE: HostileFolder[] = [
  {
    name: "MS11FDZ2 pack: a packed file whose size lies (past the pack)",
    delta: (s) => withPack(s, { "x.txt": "xx", "y.txt": "yyy" }, (p) => (p.entries[1].size = 9)),
    reason: "corrupt",
    message: /: index field entries\[1\]\.pack spans bytes past the 5 bytes of the pack$/,
  },
  {
    name: "MS11FDZ2 pack: packed files that do not tile it",
    delta: (s) =>
      withPack(s, { "x.txt": "xx", "y.txt": "yyy" }, (p) => (p.entries[1].pack = { at: 1 })),
    reason: "corrupt",
    message: /: index field entries\[1\]\.pack\.at must be 2, got 1$/,
  },
  {
    name: "MS11FDZ2 pack: packed files that leave part of it",
    delta: (s) => withPack(s, { "x.txt": "xx", "y.txt": "yyy" }, (p) => p.entries.pop()),
    reason: "corrupt",
    message: /: index packs 2 bytes of files, its pack holds 5$/,
  },
  {
    name: "MS11FDZ2 pack: a packed file with another hash",
    delta: (s) =>
      withPack(s, { "x.txt": "xx", "y.txt": "yyy" }, (p) => (p.entries[0].sha256 = sha256("zz"))),
    reason: "mismatch",
    message: /entry "x\.txt": packed file has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}$/,
  },
  {
    name: "MS11FDZ2 pack: a truncated frame",
    delta: (s) =>
      withPack(s, { "x.txt": "x".repeat(300) }, (p) => {
        p.frame = p.frame.subarray(0, p.frame.length - 4);
        p.pack.size = p.frame.length;
      }),
    reason: "corrupt",
    message:
      /: pack (is not valid zstd data \(.*\)|decompresses to \d+ bytes, its header says 300)$/,
  },
  {
    name: "MS11FDZ2 pack: a frame past the end of the delta",
    delta: (s) => withPack(s, { "x.txt": "xx" }, (p) => (p.pack.offset = 3)),
    reason: "corrupt",
    message: /: index field pack spans bytes 3\.\.\d+, past the \d+ bytes of blobs$/,
  },
  {
    name: "MS11FDZ2 pack: a frame that expands past its declared size",
    delta: (s) =>
      withPack(s, { "x.txt": "xx" }, (p) => {
        p.frame = new Uint8Array(zstdCompressSync(new Uint8Array(1 << 20)));
        p.pack.size = p.frame.length;
      }),
    reason: "unsafe",
    message: /: pack decompresses to more than its declared 2 bytes$/,
  },
  {
    name: "MS11FDZ2 pack: more than the limit",
    delta: (s) => withPack(s, { "x.txt": "xx" }, (p) => (p.pack.bytes = 2 ** 21)),
    reason: "unsafe",
    message: /: pack declares 2097152 bytes, more than the limit of 1048576$/,
  },
  {
    name: "MS11FDZ2 pack: a packed file without a pack",
    delta: (s) =>
      Promise.resolve(craftV2(s, [{
        path: "x",
        type: "file",
        mode: 0o644,
        size: 0,
        sha256: sha256(""),
        pack: { at: 0 },
      }])),
    reason: "corrupt",
    message: /: index field entries\[0\]\.pack refers to a pack the index does not have$/,
  },
  {
    name: "MS11FDZ1: a pack",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [], { pack: { offset: 0, size: 0, bytes: 0 } }))),
    reason: "corrupt",
    message: /: index has an unknown field pack$/,
  },
  {
    name: "MS11FDZ2: a path with ..",
    delta: async (s) => (await withFileV2(s, "../evil.txt", "evil")).delta,
    reason: "unsafe",
    message: /: entries\[0\]\.path "\.\.\/evil\.txt" refused: path has a "\.\." component$/,
  },
  {
    name: "MS11FDZ2: a size that lies (smaller than the file the blob makes)",
    delta: async (s) => (await withFileV2(s, "x.txt", "x".repeat(100), 50)).delta,
    reason: "unsafe",
    message:
      /entry "x\.txt": block 1 entry 1 writes past the new size of 50 bytes \(to byte 100\)$/,
  },
  {
    name: "MS11FDZ2: a size that lies (larger than the file the blob makes)",
    delta: async (s) => (await withFileV2(s, "x.txt", "x".repeat(100), 150)).delta,
    reason: "corrupt",
    message: /entry "x\.txt": patch makes 100 bytes, its header says 150$/,
  },
  {
    name: "MS11FDZ2: a size past the limit of bytes",
    delta: async (s) => (await withFileV2(s, "x.txt", "x", 1e6)).delta,
    reason: "unsafe",
    message: /: new build holds 1000002 bytes, more than the limit of 100000$/,
    options: { maxBytes: 100_000 },
  },
  {
    name: "MS11FDZ2: a truncated frame",
    delta: async (s) => {
      const { blob, file } = await withFileV2(s, "x.txt", "x".repeat(100));
      const cut = blob.subarray(0, blob.length - 5);
      return craftV2(s, [{ ...file, data: { offset: 0, size: cut.length, blocks: 1 } }], cut);
    },
    reason: "corrupt",
    message: /entry "x\.txt": patch is truncated in block 1 \(frame of \d+ bytes, \d+ left\)$/,
  },
  {
    name: "MS11FDZ2: a blob past the end of the delta",
    delta: async (s) => {
      const { blob, file } = await withFileV2(s, "x.txt", "x".repeat(100));
      return craftV2(s, [{ ...file, data: { offset: 4, size: blob.length, blocks: 1 } }], blob);
    },
    reason: "corrupt",
    message: /: index field entries\[0\]\.data spans bytes 4\.\.\d+, past the \d+ bytes of blobs$/,
  },
  {
    name: "MS11FDZ2: more blocks than the blob holds",
    delta: async (s) => {
      const { blob, file } = await withFileV2(s, "x.txt", "x".repeat(100));
      return craftV2(s, [{ ...file, data: { offset: 0, size: blob.length, blocks: 1e6 } }], blob);
    },
    reason: "corrupt",
    message:
      /: index field entries\[0\]\.data declares 1000000 blocks in \d+ bytes, more than fit$/,
  },
  {
    name: "MS11FDZ2: a block the blob does not hold",
    delta: async (s) => {
      const { blob, file } = await withFileV2(s, "x.txt", "x".repeat(100));
      return craftV2(s, [{ ...file, data: { offset: 0, size: blob.length, blocks: 2 } }], blob);
    },
    reason: "corrupt",
    message: /entry "x\.txt": patch is truncated: block 2 of 2 is missing$/,
  },
  {
    name: "MS11FDZ2: fewer blocks than the blob holds",
    delta: async (s) => {
      const { blob, file } = await withFileV2(s, "x.txt", "x".repeat(100));
      return craftV2(s, [{ ...file, data: { offset: 0, size: blob.length, blocks: 0 } }], blob);
    },
    reason: "corrupt",
    message: /entry "x\.txt": patch has \d+ bytes after its last block$/,
  },
  {
    name: "MS11FDZ2: a blob without its block count",
    delta: async (s) => {
      const { blob, file } = await withFileV2(s, "x.txt", "x");
      return craftV2(s, [{ ...file, data: { offset: 0, size: blob.length } }], blob);
    },
    reason: "corrupt",
    message: /: index field entries\[0\]\.data\.blocks must be a non-negative integer$/,
  },
  {
    name: "MS11FDZ1: a blob with a block count",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [{
        path: "x",
        type: "file",
        mode: 0o644,
        size: 0,
        sha256: sha256(""),
        data: { offset: 0, size: 0, blocks: 0 },
      }]))),
    reason: "corrupt",
    message: /: index field entries\[0\]\.data has an unknown field blocks$/,
  },
  {
    name: "MS11FDZ2: a patch that reads past its old file",
    delta: (s) => {
      const blob = bare(craftPatch({
        oldSize: 1,
        oldSha256: sha256("a"),
        newSize: 5,
        newSha256: sha256("aaaaa"),
        blocks: [{ entries: [[5, 0, 0]] }],
      }));
      return Promise.resolve(craftV2(s, [{
        path: "a.txt",
        type: "file",
        mode: 0o644,
        size: 5,
        sha256: sha256("aaaaa"),
        patch: { from: "a.txt", offset: 0, size: blob.length, blocks: 1 },
      }], blob));
    },
    reason: "unsafe",
    message:
      /entry "a\.txt": block 1 entry 1 reads old bytes 0\.\.5, outside the old file's 1 bytes$/,
  },
  {
    name: "MS11FDZ2: the wrong final hash of a file",
    delta: (s) => {
      const blob = bare(craftPatch({
        oldSize: 0,
        newSize: 1,
        newSha256: sha256("x"),
        blocks: [{ entries: [[0, 1, 0]], extra: new TextEncoder().encode("y") }],
      }));
      return Promise.resolve(craftV2(s, [{
        path: "x",
        type: "file",
        mode: 0o644,
        size: 1,
        sha256: sha256("x"),
        data: { offset: 0, size: blob.length, blocks: 1 },
      }], blob));
    },
    reason: "mismatch",
    message: /entry "x": rebuilt file has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}$/,
  },
  {
    name: "MS11FDZ2: a version 1 index",
    delta: (s) => Promise.resolve(craftV2(s, [], undefined, { version: 1 })),
    reason: "format",
    message: /: index version is 1; this client reads version 2 in a MS11FDZ2 delta$/,
  },
  {
    name: "a path with ..",
    delta: (s) => withFile(s, "../evil.txt", "evil"),
    reason: "unsafe",
    message: /: entries\[0\]\.path "\.\.\/evil\.txt" refused: path has a "\.\." component$/,
  },
  {
    name: "an absolute path",
    delta: (s) => withFile(s, "/tmp/ms11-evil.txt", "evil"),
    reason: "unsafe",
    message: /: entries\[0\]\.path "\/tmp\/ms11-evil\.txt" refused: absolute path$/,
  },
  {
    name: "a removal outside the build",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [], { removed: ["../outside/secret"] }))),
    reason: "unsafe",
    message: /: removed\[0\] "\.\.\/outside\/secret" refused: path has a "\.\." component$/,
  },
  {
    name: "a write through a symlink of the old build",
    delta: (s) => withFile(s, "link/evil.txt", "evil"),
    reason: "unsafe",
    message: /: entry "link\/evil\.txt" refused: path goes through the symlink link$/,
  },
  {
    name: "a write through a symlink the delta makes",
    delta: (s) =>
      withFile(s, "l2/evil.txt", "evil", [{ path: "l2", type: "symlink", target: "../outside" }]),
    reason: "unsafe",
    message:
      /: entry "l2" refused: symlink target "\.\.\/outside" resolves outside the build directory$/,
  },
  {
    name: "a write through a symlink the delta makes, inside the build",
    delta: (s) =>
      withFile(s, "l3/evil.txt", "evil", [{ path: "l3", type: "symlink", target: "sub" }]),
    reason: "unsafe",
    message: /: entry "l3\/evil\.txt" refused: path goes through the symlink l3$/,
  },
  {
    name: "a symlink to an absolute path",
    delta: (s) =>
      Promise.resolve(
        craftFolderDelta(index(s, [{ path: "etc", type: "symlink", target: "/etc" }])),
      ),
    reason: "unsafe",
    message: /: entry "etc" refused: symlink target "\/etc": absolute path$/,
  },
  {
    name: "a copy from outside the old build",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [{
        path: "stolen",
        type: "file",
        mode: 0o644,
        size: 6,
        sha256: sha256("secret"),
        copy: "../outside/secret",
      }]))),
    reason: "unsafe",
    message: /: entries\[0\]\.copy "\.\.\/outside\/secret" refused: path has a "\.\." component$/,
  },
  {
    name: "a copy from a symlink of the old build",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [{
        path: "c",
        type: "file",
        mode: 0o644,
        size: 1,
        sha256: sha256("b"),
        copy: "link",
      }]))),
    reason: "corrupt",
    message: /: entry "c" is made from "link", which is not a file of the old build$/,
  },
  {
    name: "a file in a folder the build does not have",
    delta: (s) => withFile(s, "nodir/x.txt", "x"),
    reason: "corrupt",
    message: /: entry "nodir\/x\.txt" is in "nodir", which is not a directory of the new build$/,
  },
  {
    name: "an old build of another seal",
    delta: (s) => withFile(s, "x.txt", "x", [], { from: { seal: "0".repeat(64) } }),
    reason: "source",
    message: /: old build .*\/old has seal [0-9a-f]{64}, the delta was made from 0{64}$/,
  },
  {
    name: "a result with another seal",
    delta: (s) => withFile(s, "x.txt", "x"),
    reason: "mismatch",
    message: /: rebuilt build .*\/rebuilt has seal [0-9a-f]{64}, expected (ab){32}$/,
  },
  {
    name: "a delta to another seal than the manifest's",
    delta: (s) => withFile(s, "x.txt", "x"),
    reason: "mismatch",
    message: /: delta makes a build with seal (ab){32}, expected (cd){32}$/,
    options: { seal: "cd".repeat(32) },
  },
  {
    name: "a blob for another file than its entry",
    delta: async (s) => {
      const blob = await wholeBlob(s.root, "other");
      return craftFolderDelta(
        index(s, [{
          path: "x",
          type: "file",
          mode: 0o644,
          size: 1,
          sha256: sha256("x"),
          data: { offset: 0, size: blob.length },
        }]),
        blob,
      );
    },
    reason: "corrupt",
    message: /entry "x": patch makes 5 bytes with sha256 [0-9a-f]{64}, the index says 1 bytes/,
  },
  {
    name: "the wrong final hash of a file",
    delta: (s) => {
      const blob = craftPatch({
        oldSize: 0,
        newSize: 1,
        newSha256: sha256("x"),
        blocks: [{ entries: [[0, 1, 0]], extra: new TextEncoder().encode("y") }],
      });
      return Promise.resolve(craftFolderDelta(
        index(s, [{
          path: "x",
          type: "file",
          mode: 0o644,
          size: 1,
          sha256: sha256("x"),
          data: { offset: 0, size: blob.length },
        }]),
        blob,
      ));
    },
    reason: "mismatch",
    message: /entry "x": rebuilt file has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}$/,
  },
  {
    name: "a patch in the delta that reads past its old file",
    delta: (s) => {
      const blob = craftPatch({
        oldSize: 1,
        oldSha256: sha256("a"),
        newSize: 5,
        newSha256: sha256("aaaaa"),
        blocks: [{ entries: [[5, 0, 0]] }],
      });
      return Promise.resolve(craftFolderDelta(
        index(s, [{
          path: "a.txt",
          type: "file",
          mode: 0o644,
          size: 5,
          sha256: sha256("aaaaa"),
          patch: { from: "a.txt", offset: 0, size: blob.length },
        }]),
        blob,
      ));
    },
    reason: "unsafe",
    message:
      /entry "a\.txt": block 1 entry 1 reads old bytes 0\.\.5, outside the old file's 1 bytes$/,
  },
  {
    name: "a blob past the end of the delta (truncated)",
    delta: async (s) => {
      const bytes = await withFile(s, "x.txt", "x".repeat(100));
      return bytes.subarray(0, bytes.length - 10);
    },
    reason: "corrupt",
    message: /: index field entries\[0\]\.data spans bytes 0\.\.\d+, past the \d+ bytes of blobs$/,
  },
  {
    name: "not a folder delta",
    delta: () => Promise.resolve(new TextEncoder().encode("PK\x03\x04 a zip, perhaps")),
    reason: "format",
    message: /: not a folder delta \(no MS11FDZ2 or MS11FDZ1 magic\)$/,
  },
  {
    name: "an index that is not JSON",
    delta: () => {
      const bytes = craftFolderDelta("x");
      const json = new TextEncoder().encode("{not json");
      const frame = zstd(json);
      const head = bytes.subarray(0, 16);
      new DataView(head.buffer).setUint32(8, frame.length, true);
      new DataView(head.buffer).setUint32(12, json.length, true);
      return Promise.resolve(concat([head, frame]));
    },
    reason: "corrupt",
    message: /: index is not JSON \(.*\)$/,
  },
  {
    name: "an index that expands past its declared size",
    delta: () => {
      const frame = zstd(new Uint8Array(1 << 20));
      const head = craftFolderDelta({}).subarray(0, 16);
      new DataView(head.buffer).setUint32(8, frame.length, true);
      new DataView(head.buffer).setUint32(12, 4096, true);
      return Promise.resolve(concat([head, frame]));
    },
    reason: "unsafe",
    message: /: index decompresses to more than its declared 4096 bytes$/,
  },
  {
    name: "an unknown field",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [{ path: "d", type: "dir", mode: 0o755, x: 1 }]))),
    reason: "corrupt",
    message: /: index field entries\[0\] has an unknown field x$/,
  },
  {
    name: "two entries for one path",
    delta: (s) =>
      Promise.resolve(craftFolderDelta(index(s, [
        { path: "d", type: "dir", mode: 0o755 },
        { path: "d", type: "symlink", target: "a.txt" },
      ]))),
    reason: "corrupt",
    message: /: index has two entries for "d"$/,
  },
  {
    name: "a newer version",
    delta: (s) => Promise.resolve(craftFolderDelta(index(s, [], { version: 2 }))),
    reason: "format",
    message: /: index version is 2; this client reads version 1 in a MS11FDZ1 delta$/,
  },
  {
    name: "more entries than the limit",
    delta: (s) => withFile(s, "x.txt", "x"),
    reason: "unsafe",
    message: /: new build has 5 entries, more than the limit of 4$/,
    options: { maxEntries: 4 },
  },
  {
    name: "more bytes than the limit",
    delta: (s) => withFile(s, "x.txt", "x".repeat(100)),
    reason: "unsafe",
    message: /: new build holds 102 bytes, more than the limit of 101$/,
    options: { maxBytes: 101 },
  },
  {
    name: "a removal of what the old build does not have",
    delta: (s) => Promise.resolve(craftFolderDelta(index(s, [], { removed: ["nothing"] }))),
    reason: "corrupt",
    message: /: removes "nothing", which the old build does not have$/,
  },
  {
    name: "a directory replaced without being removed",
    delta: (s) => withFile(s, "sub", "now a file"),
    reason: "corrupt",
    message: /: replaces the directory "sub" with a file without removing it$/,
  },
];

Deno.test({
  name: "hostile folder deltas are refused with their reason and leave nothing behind",
  timeout: DELTA_TIMEOUT_MS,
  fn: async (t) => {
    for (const hostile of HOSTILE) {
      await t.step(hostile.name, async () => {
        await using dir = await tempDir("ms11-fdelta-hostile-");
        const s = await scene(dir.path);
        const oldBefore = await describeTree(s.old);
        const bytes = await hostile.delta(s);
        await Deno.writeFile(`${dir.path}/delta.fdz`, bytes);
        const error = await rejectsDelta(
          applyFolderDelta(s.old, `${dir.path}/delta.fdz`, {
            out: s.out,
            sync: false,
            ...hostile.options,
          }),
          hostile.reason,
          hostile.message,
        );
        assert.ok(error.message.startsWith(`Delta ${dir.path}/delta.fdz`), error.message);
        assert.equal(await exists(s.out), false, "the new folder is removed");
        assert.deepEqual(await describeTree(s.outside), [`secret f 644 ${sha256("secret")}`]);
        assert.deepEqual(await describeTree(s.old), oldBefore, "old build untouched");
        for (const escaped of ["evil.txt", "stolen", "etc"]) {
          assert.equal(await exists(`${dir.path}/${escaped}`), false);
        }
        assert.equal(await exists("/tmp/ms11-evil.txt"), false);
      });
    }
  },
});
