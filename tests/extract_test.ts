import assert from "node:assert/strict";
import { archiveKindOf, extractArchive, type ExtractOptions } from "../lib/archive/extract.ts";
import type { Progress } from "../lib/core/env.ts";
import { UnsafeArchiveError } from "../lib/core/errors.ts";
import { newTree } from "../lib/archive/_paths.ts";
import { type Job, writeFile } from "../lib/archive/_write.ts";
import { exists, makeTarGz, makeZip, run, type TarEntry, type ZipEntry } from "./_archives.ts";

/** A temp root (removed on dispose) with `build` (the destination, not yet created) and `outside`. */
async function fixture(): Promise<
  { root: string; dest: string; outside: string } & AsyncDisposable
> {
  const root = await Deno.makeTempDir({ prefix: "extract_test_" });
  await Deno.mkdir(`${root}/outside`);
  await Deno.writeTextFile(`${root}/outside/secret`, "secret");
  return {
    root,
    dest: `${root}/build`,
    outside: `${root}/outside`,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** Unix permission bits of a path (not following a final symlink). */
async function modeOf(path: string): Promise<number> {
  return (await Deno.lstat(path)).mode! & 0o7777;
}

/** A sorted listing of everything under `dir` ("/" suffix for directories, "@" for links). */
async function listing(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${entry.name}`;
    if (entry.isSymlink) out.push(`${rel}@`);
    else if (entry.isDirectory) out.push(`${rel}/`, ...await listing(dir, `${rel}/`));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * Assert that extraction is refused with UnsafeArchiveError naming `entry` and `reason`, that
 * `dest` is gone, that none of `escapes` exists and that `outside` still holds only `secret`.
 */
async function assertRefused(
  run: Promise<unknown>,
  fx: { dest: string; outside: string; root: string },
  archive: string,
  entry: string,
  reason: string | RegExp,
  escapes: string[] = [],
): Promise<void> {
  const error = await run.then(() => null, (e: unknown) => e);
  assert.ok(error instanceof UnsafeArchiveError, `expected UnsafeArchiveError, got ${error}`);
  assert.equal(error.entry, entry);
  assert.equal(error.archive, archive);
  assert.ok(
    error.message.startsWith(`Unsafe archive ${archive}: entry ${JSON.stringify(entry)} refused: `),
    error.message,
  );
  if (typeof reason === "string") assert.ok(error.message.includes(reason), error.message);
  else assert.match(error.message, reason);
  assert.equal(await exists(fx.dest), false, "dest must be removed");
  for (const path of escapes) assert.equal(await exists(path), false, `${path} must not exist`);
  assert.deepEqual(await listing(fx.outside), ["secret"]);
  assert.equal(await Deno.readTextFile(`${fx.outside}/secret`), "secret");
  assert.deepEqual((await listing(fx.root)).filter((p) => !p.startsWith("outside")).sort(), [
    archive.slice(fx.root.length + 1),
  ]);
}

/** Assert a plain Error (not UnsafeArchiveError) whose message matches, and dest removed. */
async function assertFails(
  run: Promise<unknown>,
  dest: string,
  message: RegExp,
  type: new (...args: never[]) => Error = Error,
): Promise<void> {
  const error = await run.then(() => null, (e: unknown) => e);
  assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  assert.ok(!(error instanceof UnsafeArchiveError) || type === UnsafeArchiveError);
  assert.match(error.message, message);
  assert.equal(await exists(dest), false, "dest must not exist");
}

const TAR: ExtractOptions = { kind: "tar.gz", sync: false };
const ZIP: ExtractOptions = { kind: "zip", sync: false };

Deno.test("archiveKindOf tells the format by suffix", () => {
  assert.equal(archiveKindOf("ms11-1.2.0-linux-x64.tar.gz"), "tar.gz");
  assert.equal(archiveKindOf("/dl/APP.TGZ"), "tar.gz");
  assert.equal(archiveKindOf("app.zip"), "zip");
  assert.equal(archiveKindOf("app.Zip"), "zip");
  assert.equal(archiveKindOf("app.tar.xz"), null);
  assert.equal(archiveKindOf("app.tar"), null);
  assert.equal(archiveKindOf("app.gz"), null);
  assert.equal(archiveKindOf("zip"), null);
  assert.equal(archiveKindOf(""), null);
});

Deno.test("tar.gz from GNU tar: nested dirs, modes, internal symlinks, progress", async () => {
  await using fx = await fixture();
  const src = `${fx.root}/src`;
  await Deno.mkdir(`${src}/bin`, { recursive: true });
  await Deno.mkdir(`${src}/lib`);
  await Deno.mkdir(`${src}/share/doc/ms11`, { recursive: true });
  await Deno.writeTextFile(`${src}/bin/ms11`, "#!/bin/sh\necho hi\n");
  await Deno.chmod(`${src}/bin/ms11`, 0o755);
  await Deno.writeTextFile(`${src}/lib/libfoo.so.1`, "ELF");
  await Deno.chmod(`${src}/lib/libfoo.so.1`, 0o644);
  await Deno.symlink("libfoo.so.1", `${src}/lib/libfoo.so`);
  await Deno.symlink("../lib/libfoo.so", `${src}/bin/libfoo-link`);
  await Deno.writeTextFile(`${src}/share/doc/ms11/README`, "readme");
  await Deno.chmod(`${src}/share/doc/ms11/README`, 0o600);
  await Deno.chmod(`${src}/share`, 0o750);
  const archive = `${fx.root}/app.tar.gz`;
  await run("tar", ["-czf", archive, "-C", src, "."]);
  await Deno.remove(src, { recursive: true });

  const reports: Progress[] = [];
  const result = await extractArchive(archive, fx.dest, {
    kind: "tar.gz",
    onProgress: (p) => reports.push(p),
  });
  assert.deepEqual(result, { files: 3, bytes: 18 + 3 + 6 });
  assert.deepEqual(await listing(fx.dest), [
    "bin/",
    "bin/libfoo-link@",
    "bin/ms11",
    "lib/",
    "lib/libfoo.so.1",
    "lib/libfoo.so@",
    "share/",
    "share/doc/",
    "share/doc/ms11/",
    "share/doc/ms11/README",
  ]);
  assert.equal(await modeOf(fx.dest), 0o700);
  assert.equal(await modeOf(`${fx.dest}/bin/ms11`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/lib/libfoo.so.1`), 0o644);
  assert.equal(await modeOf(`${fx.dest}/share/doc/ms11/README`), 0o600);
  assert.equal(await modeOf(`${fx.dest}/share`), 0o750);
  assert.equal(await Deno.readLink(`${fx.dest}/lib/libfoo.so`), "libfoo.so.1");
  assert.equal(await Deno.readTextFile(`${fx.dest}/bin/libfoo-link`), "ELF");
  assert.equal(await Deno.readTextFile(`${fx.dest}/bin/ms11`), "#!/bin/sh\necho hi\n");
  assert.ok(reports.length >= 3);
  assert.ok(reports.every((p) => p.phase === "extract" && p.total === null));
  assert.deepEqual(reports.at(-1), { phase: "extract", done: 27, total: null });
  assert.ok(reports.every((p, i) => i === 0 || p.done >= reports[i - 1].done));
});

Deno.test("tar.gz long names in pax, GNU and ustar-prefix headers", async () => {
  for (const format of ["pax", "gnu", "ustar"] as const) {
    await using fx = await fixture();
    const deep = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(20)}.txt`;
    const long = format === "ustar" ? deep : `${"a".repeat(120)}/${"b".repeat(120)}.txt`;
    const target = format === "ustar" ? "x" : `../${"a".repeat(120)}/${"b".repeat(120)}.txt`;
    const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
      { type: "file", name: long, data: "long", mode: 0o755 },
      { type: "symlink", name: "z/link", target },
    ], { format });
    const result = await extractArchive(archive, fx.dest, TAR);
    assert.deepEqual(result, { files: 1, bytes: 4 }, format);
    assert.equal(await Deno.readTextFile(`${fx.dest}/${long}`), "long");
    assert.equal(await modeOf(`${fx.dest}/${long}`), 0o755);
    assert.equal(await Deno.readLink(`${fx.dest}/z/link`), target);
    assert.equal(await modeOf(`${fx.dest}/z`), 0o755, "implicit directories get 0755");
  }
});

Deno.test("tar.gz modes: setuid, setgid, sticky and group/other write are dropped", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "dir", name: "d", mode: 0o1777 },
    { type: "file", name: "d/suid", data: "x", mode: 0o4755 },
    { type: "file", name: "d/gw", data: "x", mode: 0o2775 },
    { type: "file", name: "d/ro", data: "x", mode: 0o444 },
    { type: "dir", name: "ro", mode: 0o555 },
    { type: "file", name: "ro/f", data: "x", mode: 0o644 },
  ]);
  await extractArchive(archive, fx.dest, TAR);
  assert.equal(await modeOf(`${fx.dest}/d`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/d/suid`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/d/gw`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/d/ro`), 0o444);
  assert.equal(await modeOf(`${fx.dest}/ro`), 0o755, "owner keeps write access to directories");
  assert.equal(await Deno.readTextFile(`${fx.dest}/ro/f`), "x");
});

Deno.test("tar.gz without end-of-archive blocks is accepted; a repeated directory is fine", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "dir", name: "a" },
    { type: "dir", name: "./a/" },
    { type: "file", name: "a/f", data: "abc" },
  ], { noEnd: true });
  assert.deepEqual(await extractArchive(archive, fx.dest, TAR), { files: 1, bytes: 3 });
  assert.deepEqual(await listing(fx.dest), ["a/", "a/f"]);
});

Deno.test("tar.gz unsafe entries are refused and nothing is written anywhere", async (t) => {
  const cases: {
    name: string;
    entries: (root: string) => TarEntry[];
    entry: (root: string) => string;
    reason: string;
    escapes: (root: string) => string[];
  }[] = [
    {
      name: "../evil",
      entries: () => [{ type: "file", name: "ok", data: "x" }, {
        type: "file",
        name: "../evil",
        data: "x",
      }],
      entry: () => "../evil",
      reason: 'path has a ".." component',
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "a/../../evil",
      entries: () => [{ type: "file", name: "a/../../evil", data: "x" }],
      entry: () => "a/../../evil",
      reason: 'path has a ".." component',
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "harmless-looking a/b/../c",
      entries: () => [{ type: "file", name: "a/b/../c", data: "x" }],
      entry: () => "a/b/../c",
      reason: 'path has a ".." component',
      escapes: () => [],
    },
    {
      name: "absolute path",
      entries: (r) => [{ type: "file", name: `${r}/outside/abs-evil`, data: "x" }],
      entry: (r) => `${r}/outside/abs-evil`,
      reason: "absolute path",
      escapes: (r) => [`${r}/outside/abs-evil`, `${r}/build${r}/outside/abs-evil`],
    },
    {
      name: "C:\\evil",
      entries: () => [{ type: "file", name: "C:\\evil", data: "x" }],
      entry: () => "C:\\evil",
      reason: "path contains a backslash",
      escapes: () => [],
    },
    {
      name: "C:/evil",
      entries: () => [{ type: "file", name: "C:/evil", data: "x" }],
      entry: () => "C:/evil",
      reason: "path starts with a Windows drive letter",
      escapes: () => [],
    },
    {
      name: "backslash ..\\evil",
      entries: () => [{ type: "file", name: "..\\evil", data: "x" }],
      entry: () => "..\\evil",
      reason: "path contains a backslash",
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "leading backslash",
      entries: () => [{ type: "file", name: "\\evil", data: "x" }],
      entry: () => "\\evil",
      reason: "path contains a backslash",
      escapes: () => [],
    },
    {
      name: "symlink to an absolute directory, then a write through it",
      entries: (r) => [
        { type: "symlink", name: "etc", target: `${r}/outside` },
        { type: "file", name: "etc/evil", data: "x" },
      ],
      entry: () => "etc",
      reason: "absolute path",
      escapes: (r) => [`${r}/outside/evil`],
    },
    {
      name: "symlink to /etc",
      entries: () => [{ type: "symlink", name: "etc", target: "/etc" }],
      entry: () => "etc",
      reason: 'symlink target "/etc": absolute path',
      escapes: () => [],
    },
    {
      name: "symlink to ..",
      entries: () => [
        { type: "symlink", name: "up", target: ".." },
        { type: "file", name: "up/evil", data: "x" },
      ],
      entry: () => "up",
      reason: 'symlink target ".." resolves outside the build directory',
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "nested symlink climbing out",
      entries: () => [
        { type: "dir", name: "a/b" },
        { type: "symlink", name: "a/b/up", target: "../../../outside" },
      ],
      entry: () => "a/b/up",
      reason: "resolves outside the build directory",
      escapes: () => [],
    },
    {
      name: "symlink with a backslash target",
      entries: () => [{ type: "symlink", name: "l", target: "..\\..\\x" }],
      entry: () => "l",
      reason: "path contains a backslash",
      escapes: () => [],
    },
    {
      name: "symlink with a drive-letter target",
      entries: () => [{ type: "symlink", name: "l", target: "C:/Windows" }],
      entry: () => "l",
      reason: "Windows drive letter",
      escapes: () => [],
    },
    {
      name: "chained symlinks escaping (s -> ., t -> s/..)",
      entries: () => [
        { type: "symlink", name: "s", target: "." },
        { type: "symlink", name: "t", target: "s/.." },
      ],
      entry: () => "t",
      reason: 'symlink target "s/.." resolves outside the build directory',
      escapes: () => [],
    },
    {
      name: "write through an inside symlink (CVE-2025-29787)",
      entries: () => [
        { type: "dir", name: "sub" },
        { type: "symlink", name: "link", target: "sub" },
        { type: "file", name: "link/file", data: "x" },
      ],
      entry: () => "link/file",
      reason: "path goes through the symlink link",
      escapes: () => [],
    },
    {
      name: "write through a symlink that escapes only later (CVE-2025-29787)",
      entries: () => [
        { type: "symlink", name: "x", target: "s/.." },
        { type: "symlink", name: "s", target: "." },
        { type: "file", name: "x/evil", data: "x" },
      ],
      entry: () => "x/evil",
      reason: "path goes through the symlink x",
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "symlink replaced by a directory entry",
      entries: () => [
        { type: "symlink", name: "link", target: "sub" },
        { type: "dir", name: "link" },
      ],
      entry: () => "link/",
      reason: "duplicate entry for link",
      escapes: () => [],
    },
    {
      name: "file written over an earlier symlink",
      entries: () => [
        { type: "symlink", name: "link", target: "sub/../x" },
        { type: "file", name: "link", data: "x" },
      ],
      entry: () => "link",
      reason: "duplicate entry for link",
      escapes: (r) => [`${r}/x`],
    },
    {
      name: "duplicate file",
      entries: () => [
        { type: "file", name: "a", data: "1" },
        { type: "file", name: "./a", data: "2" },
      ],
      entry: () => "./a",
      reason: "duplicate entry for a",
      escapes: () => [],
    },
    {
      name: "entry below a file",
      entries: () => [
        { type: "file", name: "a", data: "1" },
        { type: "file", name: "a/b", data: "2" },
      ],
      entry: () => "a/b",
      reason: "path goes through the file a",
      escapes: () => [],
    },
    {
      name: "hard link to a file inside",
      entries: () => [
        { type: "file", name: "a", data: "1" },
        { type: "hardlink", name: "b", target: "a" },
      ],
      entry: () => "b",
      reason: "hard links are not allowed",
      escapes: () => [],
    },
    {
      name: "hard link to a file outside",
      entries: (r) => [{ type: "hardlink", name: "b", target: `${r}/outside/secret` }],
      entry: () => "b",
      reason: "hard links are not allowed",
      escapes: () => [],
    },
    {
      name: "hard link with a relative escape",
      entries: () => [{ type: "hardlink", name: "b", target: "../outside/secret" }],
      entry: () => "b",
      reason: "hard links are not allowed",
      escapes: () => [],
    },
    {
      name: "fifo",
      entries: () => [{ type: "fifo", name: "pipe" }],
      entry: () => "pipe",
      reason: "entry type FIFO is not allowed",
      escapes: () => [],
    },
    {
      name: "character device",
      entries: () => [{ type: "chr", name: "null" }],
      entry: () => "null",
      reason: "entry type CharacterDevice is not allowed",
      escapes: () => [],
    },
    {
      name: "block device",
      entries: () => [{ type: "blk", name: "sda" }],
      entry: () => "sda",
      reason: "entry type BlockDevice is not allowed",
      escapes: () => [],
    },
    {
      name: "unknown entry type",
      entries: () => [{ type: "raw", name: "weird", typeflag: "Z", data: "x" }],
      entry: () => "weird",
      reason: "entry type Unsupported is not allowed",
      escapes: () => [],
    },
    {
      name: "sparse file",
      entries: () => [{ type: "raw", name: "sparse", typeflag: "S", data: "x" }],
      entry: () => "sparse",
      reason: "entry type SparseFile is not allowed",
      escapes: () => [],
    },
    {
      name: "file named like the destination itself",
      entries: () => [{ type: "raw", name: ".", typeflag: "0", data: "x" }],
      entry: () => ".",
      reason: "entry names the build directory itself",
      escapes: () => [],
    },
    {
      name: "long pax name with ..",
      entries: () => [{ type: "file", name: `../${"x".repeat(150)}`, data: "x" }],
      entry: () => `../${"x".repeat(150)}`,
      reason: 'path has a ".." component',
      escapes: (r) => [`${r}/${"x".repeat(150)}`],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using fx = await fixture();
      const archive = await makeTarGz(`${fx.root}/app.tar.gz`, c.entries(fx.root));
      await assertRefused(
        extractArchive(archive, fx.dest, TAR),
        fx,
        archive,
        c.entry(fx.root),
        c.reason,
        c.escapes(fx.root),
      );
    });
  }
});

Deno.test("tar.gz unsafe long names in GNU format are refused too", async () => {
  await using fx = await fixture();
  const name = `../${"y".repeat(150)}`;
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "file", name, data: "x" },
  ], { format: "gnu" });
  await assertRefused(extractArchive(archive, fx.dest, TAR), fx, archive, name, '".."', [
    `${fx.root}/${"y".repeat(150)}`,
  ]);
});

Deno.test("tar.gz symlink that a later symlink turns outside is refused at the end", async () => {
  await using fx = await fixture();
  // When x is extracted, s does not exist yet and x resolves inside; s -> . makes x = "..".
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "symlink", name: "x", target: "s/.." },
    { type: "symlink", name: "s", target: "." },
    { type: "file", name: "f", data: "x" },
  ]);
  await assertRefused(
    extractArchive(archive, fx.dest, TAR),
    fx,
    archive,
    "x",
    'symlink target "s/.." resolves outside the build directory',
  );
});

Deno.test("tar.gz symlink loops are refused", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "symlink", name: "a", target: "b/x" },
    { type: "symlink", name: "b", target: "a/y" },
  ]);
  await assertRefused(
    extractArchive(archive, fx.dest, TAR),
    fx,
    archive,
    "a",
    'symlink target "b/x" is a symlink loop',
  );
});

Deno.test("tar.gz that is not an archive, corrupt or truncated fails and leaves no dest", async (t) => {
  await using fx = await fixture();
  const payload: TarEntry[] = [
    { type: "file", name: "a", data: "a".repeat(5000) },
    { type: "file", name: "b", data: "b".repeat(5000) },
  ];
  const cases: { name: string; make: (out: string) => Promise<unknown>; message: RegExp }[] = [
    {
      name: "text file",
      make: (out) => Deno.writeTextFile(out, "just text, not an archive"),
      message: /^Cannot extract .*: not a gzip file \(no gzip magic number\)$/,
    },
    {
      name: "empty file",
      make: (out) => Deno.writeFile(out, new Uint8Array(0)),
      message: /not a gzip file/,
    },
    {
      name: "plain tar (not gzipped)",
      make: (out) => makeTarGz(out, payload, { plain: true }),
      message: /not a gzip file/,
    },
    {
      name: "gzip of text",
      make: async (out) => {
        await Deno.writeTextFile(`${out}.txt`, "hello ".repeat(200));
        const gz = await new Deno.Command("gzip", { args: ["-c", `${out}.txt`], stdout: "piped" })
          .output();
        await Deno.writeFile(out, gz.stdout);
        await Deno.remove(`${out}.txt`);
      },
      message: /^Cannot extract .*: not a tar archive$/,
    },
    {
      name: "gzip of zeros only",
      make: (out) => makeTarGz(out, [], {}),
      message: /not a tar archive \(no entries\)/,
    },
    {
      name: "truncated gzip",
      make: async (out) => {
        await makeTarGz(out, payload);
        const bytes = await Deno.readFile(out);
        await Deno.writeFile(out, bytes.subarray(0, bytes.length - 12));
      },
      message: /^Cannot extract .*: corrupt gzip data \(.+\)$/,
    },
    {
      name: "truncated gzip halfway",
      make: (out) => makeTarGz(out, payload, { truncateGz: 60 }),
      message: /corrupt gzip data/,
    },
    {
      name: "corrupt gzip bytes",
      make: async (out) => {
        await makeTarGz(out, payload);
        const bytes = await Deno.readFile(out);
        for (let i = 20; i < 40; i++) bytes[i] ^= 0x5a;
        await Deno.writeFile(out, bytes);
      },
      message: /corrupt gzip data/,
    },
    {
      name: "tar truncated inside a file body",
      make: (out) => makeTarGz(out, payload, { truncateTar: 512 + 3000 }),
      message: /^Cannot extract .*: truncated tar data in entry "a"$/,
    },
    {
      name: "tar truncated inside a header",
      make: (out) => makeTarGz(out, payload, { truncateTar: 512 + 5120 + 100 }),
      message: /^Cannot extract .*: truncated tar header at byte 5632$/,
    },
    {
      name: "bad checksum in a later header",
      make: (out) =>
        makeTarGz(out, [
          { type: "file", name: "a", data: "a" },
          { type: "raw", name: "b", typeflag: "0", data: "b", badChecksum: true },
        ]),
      message: /^Cannot extract .*: corrupt tar header at byte 1024 \(checksum mismatch\)$/,
    },
    {
      name: "invalid size field",
      make: (out) => makeTarGz(out, [{ type: "raw", name: "b", typeflag: "0", sizeField: "zz" }]),
      message: /^Cannot extract .*: invalid size in the tar header at byte 0$/,
    },
    {
      name: "header without a path",
      make: (out) => makeTarGz(out, [{ type: "raw", name: "", typeflag: "0", data: "x" }]),
      message: /^Cannot extract .*: tar header at byte 0 has no path$/,
    },
    {
      name: "pax header without an entry",
      make: (out) =>
        makeTarGz(out, [
          { type: "file", name: "a", data: "a" },
          { type: "raw", name: "PaxHeader", typeflag: "x", data: "12 path=abc\n" },
        ]),
      message: /^Cannot extract .*: extended header without an entry$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const archive = `${fx.root}/${c.name.replaceAll(" ", "_")}.tar.gz`;
      await c.make(archive);
      await assertFails(extractArchive(archive, fx.dest, TAR), fx.dest, c.message);
      assert.ok(!(await listing(fx.root)).some((p) => p.startsWith("build")));
    });
  }
});

Deno.test("tar.gz pax path overrides the header name and is checked", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "raw", name: "PaxHeader", typeflag: "x", data: "16 path=../evil\n" },
    { type: "file", name: "innocent", data: "x" },
  ]);
  await assertRefused(
    extractArchive(archive, fx.dest, TAR),
    fx,
    archive,
    "../evil",
    '".." component',
    [`${fx.root}/evil`],
  );
});

Deno.test("tar.gz oversized extended header and trailing data are refused", async () => {
  await using fx = await fixture();
  const big = await makeTarGz(`${fx.root}/big.tar.gz`, [
    { type: "raw", name: "PaxHeader", typeflag: "x", data: "x".repeat(1024 * 1024 + 1) },
    { type: "file", name: "a", data: "x" },
  ]);
  const error = await extractArchive(big, fx.dest, TAR).catch((e) => e);
  assert.ok(error instanceof UnsafeArchiveError);
  assert.equal(error.entry, "PaxHeader");
  assert.match(error.message, /extended header of 1048577 bytes exceeds 1048576 bytes$/);
  assert.equal(await exists(fx.dest), false);

  const trailer = await makeTarGz(`${fx.root}/trailer.tar.gz`, [
    { type: "file", name: "a", data: "x" },
  ], { trailer: 3 * 1024 * 1024 });
  await assertFails(
    extractArchive(trailer, fx.dest, TAR),
    fx.dest,
    /^Cannot extract .*: more than 1048576 bytes follow the end of the tar archive$/,
  );

  // Normal record padding (GNU tar pads to 10 KiB) is fine.
  const padded = await makeTarGz(`${fx.root}/padded.tar.gz`, [
    { type: "file", name: "a", data: "x" },
  ], { trailer: 64 * 1024 });
  assert.deepEqual(await extractArchive(padded, fx.dest, TAR), { files: 1, bytes: 1 });
});

Deno.test("tar.gz entry and byte limits", async () => {
  await using fx = await fixture();
  const entries: TarEntry[] = [
    { type: "dir", name: "d" },
    { type: "file", name: "d/1", data: "x".repeat(40) },
    { type: "symlink", name: "d/l", target: "1" },
    { type: "file", name: "d/2", data: "y".repeat(60) },
  ];
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, entries);
  await assertRefused(
    extractArchive(archive, fx.dest, { ...TAR, maxEntries: 3 }),
    fx,
    archive,
    "d/2",
    "archive has more than 3 entries (the limit)",
  );
  await assertRefused(
    extractArchive(archive, fx.dest, { ...TAR, maxBytes: 99 }),
    fx,
    archive,
    "d/2",
    "archive content exceeds the limit of 99 bytes",
  );
  assert.deepEqual(
    await extractArchive(archive, fx.dest, { ...TAR, maxEntries: 4, maxBytes: 100 }),
    { files: 2, bytes: 100 },
  );
});

Deno.test("tar.gz bomb: a huge zero file is refused by maxBytes before it is written", async () => {
  await using fx = await fixture();
  const zeros = `${fx.root}/zeros`;
  await run("truncate", ["-s", "64M", zeros]);
  const archive = `${fx.root}/bomb.tar.gz`;
  await run("tar", ["-czf", archive, "-C", fx.root, "zeros"]);
  await Deno.remove(zeros);
  assert.ok((await Deno.stat(archive)).size < 1024 * 1024);
  await assertRefused(
    extractArchive(archive, fx.dest, { ...TAR, maxBytes: 1024 * 1024 }),
    fx,
    archive,
    "zeros",
    "archive content exceeds the limit of 1048576 bytes",
  );
});

Deno.test("tar.gz many pax headers count against maxEntries", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "raw", name: "P1", typeflag: "x", data: "12 path=aaa\n" },
    { type: "raw", name: "P2", typeflag: "x", data: "12 path=bbb\n" },
    { type: "raw", name: "P3", typeflag: "x", data: "12 path=ccc\n" },
    { type: "file", name: "f", data: "x" },
  ]);
  await assertRefused(
    extractArchive(archive, fx.dest, { ...TAR, maxEntries: 2 }),
    fx,
    archive,
    "P3",
    "archive has more than 2 extended headers (the limit)",
  );
  assert.deepEqual(await extractArchive(archive, fx.dest, { ...TAR, maxEntries: 3 }), {
    files: 1,
    bytes: 1,
  });
  assert.deepEqual(await listing(fx.dest), ["ccc"]);
});

Deno.test("zip from the zip CLI: nested dirs, exec bit, progress with total", async () => {
  await using fx = await fixture();
  const src = `${fx.root}/src`;
  await Deno.mkdir(`${src}/bin`, { recursive: true });
  await Deno.mkdir(`${src}/share/doc`, { recursive: true });
  await Deno.writeTextFile(`${src}/bin/ms11`, "#!/bin/sh\n");
  await Deno.chmod(`${src}/bin/ms11`, 0o755);
  await Deno.writeTextFile(`${src}/share/doc/README`, "x".repeat(10_000));
  await Deno.chmod(`${src}/share/doc/README`, 0o644);
  const archive = `${fx.root}/app.zip`;
  await run("zip", ["-q", "-r", archive, "."], src);
  await Deno.remove(src, { recursive: true });

  const reports: Progress[] = [];
  const result = await extractArchive(archive, fx.dest, {
    kind: "zip",
    onProgress: (p) => reports.push(p),
  });
  assert.deepEqual(result, { files: 2, bytes: 10_010 });
  assert.deepEqual(await listing(fx.dest), [
    "bin/",
    "bin/ms11",
    "share/",
    "share/doc/",
    "share/doc/README",
  ]);
  assert.equal(await modeOf(fx.dest), 0o700);
  assert.equal(await modeOf(`${fx.dest}/bin/ms11`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/share/doc/README`), 0o644);
  assert.equal(await Deno.readTextFile(`${fx.dest}/share/doc/README`), "x".repeat(10_000));
  assert.deepEqual(reports.at(-1), { phase: "extract", done: 10_010, total: 10_010 });
  assert.ok(reports.every((p) => p.phase === "extract" && p.total === 10_010));
});

Deno.test("zip modes: MS-DOS entries get defaults, special bits are dropped", async () => {
  await using fx = await fixture();
  const archive = await makeZip(`${fx.root}/app.zip`, [
    { name: "dos/", dos: true },
    { name: "dos/file.txt", data: "d", dos: true },
    { name: "suid", data: "s", mode: 0o104775 },
    { name: "ro", data: "r", mode: 0o100400 },
    { name: "locked/", mode: 0o40500 },
    { name: "locked/f", data: "f" },
  ]);
  assert.deepEqual(await extractArchive(archive, fx.dest, ZIP), { files: 4, bytes: 4 });
  assert.equal(await modeOf(`${fx.dest}/dos`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/dos/file.txt`), 0o644);
  assert.equal(await modeOf(`${fx.dest}/suid`), 0o755);
  assert.equal(await modeOf(`${fx.dest}/ro`), 0o400);
  assert.equal(await modeOf(`${fx.dest}/locked`), 0o700);
});

Deno.test("zip unsafe entries are refused and nothing is written anywhere", async (t) => {
  const cases: {
    name: string;
    entries: (root: string) => ZipEntry[];
    entry: (root: string) => string;
    reason: string;
    escapes: (root: string) => string[];
  }[] = [
    {
      name: "symlink pointing inside",
      entries: () => [{ name: "a", data: "a" }, { name: "link", data: "a", mode: 0o120777 }],
      entry: () => "link",
      reason: "symlink entries are not allowed in zip archives",
      escapes: () => [],
    },
    {
      name: "symlink pointing outside, then a write through it",
      entries: () => [
        { name: "link", data: "../outside", mode: 0o120777 },
        { name: "link/evil", data: "x" },
      ],
      entry: () => "link",
      reason: "symlink entries are not allowed in zip archives",
      escapes: (r) => [`${r}/outside/evil`],
    },
    {
      name: "../evil",
      entries: () => [{ name: "ok", data: "x" }, { name: "../evil", data: "x" }],
      entry: () => "../evil",
      reason: "zip.js reports an unsafe file name",
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "a/../../evil",
      entries: () => [{ name: "a/../../evil", data: "x" }],
      entry: () => "a/../../evil",
      reason: "zip.js reports an unsafe file name",
      escapes: (r) => [`${r}/evil`],
    },
    {
      name: "absolute path",
      entries: (r) => [{ name: `${r}/outside/abs-evil`, data: "x" }],
      entry: (r) => `${r}/outside/abs-evil`,
      reason: "zip.js reports an unsafe file name",
      escapes: (r) => [`${r}/outside/abs-evil`],
    },
    {
      name: "C:/evil",
      entries: () => [{ name: "C:/evil", data: "x" }],
      entry: () => "C:/evil",
      reason: "zip.js reports an unsafe file name",
      escapes: () => [],
    },
    {
      name: "C:\\evil",
      entries: () => [{ name: "C:\\evil", data: "x" }],
      entry: () => "C:\\evil",
      reason: "zip.js reports an unsafe file name",
      escapes: () => [],
    },
    {
      name: "backslash inside a name",
      entries: () => [{ name: "dir\\evil", data: "x" }],
      entry: () => "dir\\evil",
      reason: "path contains a backslash",
      escapes: () => [],
    },
    {
      name: "fifo",
      entries: () => [{ name: "pipe", mode: 0o010644 }],
      entry: () => "pipe",
      reason: "entry type FIFO is not allowed",
      escapes: () => [],
    },
    {
      name: "character device",
      entries: () => [{ name: "null", mode: 0o020644 }],
      entry: () => "null",
      reason: "entry type character device is not allowed",
      escapes: () => [],
    },
    {
      name: "block device",
      entries: () => [{ name: "sda", mode: 0o060644 }],
      entry: () => "sda",
      reason: "entry type block device is not allowed",
      escapes: () => [],
    },
    {
      name: "unknown file type",
      entries: () => [{ name: "odd", mode: 0o030644 }],
      entry: () => "odd",
      reason: "entry type 0o30000 is not allowed",
      escapes: () => [],
    },
    {
      name: "socket",
      entries: () => [{ name: "sock", mode: 0o140644 }],
      entry: () => "sock",
      reason: "entry type socket is not allowed",
      escapes: () => [],
    },
    {
      name: "entry below a file",
      entries: () => [{ name: "a", data: "1" }, { name: "a/b", data: "2" }],
      entry: () => "a/b",
      reason: "path goes through the file a",
      escapes: () => [],
    },
    {
      name: "duplicate after normalisation",
      entries: () => [{ name: "a/b", data: "1" }, { name: "a//b", data: "2" }],
      entry: () => "a//b",
      reason: "duplicate entry for a/b",
      escapes: () => [],
    },
    {
      name: "duplicate names",
      entries: () => [{ name: "a", data: "1" }, { name: "a", data: "2" }],
      entry: () => "a",
      reason: "duplicate entry for a",
      escapes: () => [],
    },
    {
      name: "file named like the destination itself",
      entries: () => [{ name: ".", data: "1" }],
      entry: () => ".",
      reason: "entry names the build directory",
      escapes: () => [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using fx = await fixture();
      const archive = await makeZip(`${fx.root}/app.zip`, c.entries(fx.root));
      await assertRefused(
        extractArchive(archive, fx.dest, ZIP),
        fx,
        archive,
        c.entry(fx.root),
        c.reason,
        c.escapes(fx.root),
      );
    });
  }
});

Deno.test("zip entry and byte limits are checked before anything is written", async () => {
  await using fx = await fixture();
  const archive = await makeZip(`${fx.root}/app.zip`, [
    { name: "d/" },
    { name: "d/1", data: "x".repeat(40) },
    { name: "d/2", data: "y".repeat(60) },
  ]);
  await assertRefused(
    extractArchive(archive, fx.dest, { ...ZIP, maxEntries: 2 }),
    fx,
    archive,
    "d/2",
    "archive has more than 2 entries (the limit)",
  );
  await assertRefused(
    extractArchive(archive, fx.dest, { ...ZIP, maxBytes: 99 }),
    fx,
    archive,
    "d/2",
    "archive content exceeds the limit of 99 bytes",
  );
  assert.deepEqual(
    await extractArchive(archive, fx.dest, { ...ZIP, maxEntries: 3, maxBytes: 100 }),
    { files: 2, bytes: 100 },
  );
});

Deno.test("zip bomb: a huge zero file is refused by maxBytes", async () => {
  await using fx = await fixture();
  const zeros = `${fx.root}/zeros`;
  await run("truncate", ["-s", "64M", zeros]);
  const archive = `${fx.root}/bomb.zip`;
  await run("zip", ["-q", "-j", archive, zeros]);
  await Deno.remove(zeros);
  await assertRefused(
    extractArchive(archive, fx.dest, { ...ZIP, maxBytes: 1024 * 1024 }),
    fx,
    archive,
    "zeros",
    "archive content exceeds the limit of 1048576 bytes",
  );
});

Deno.test("zip that is not an archive, corrupt, empty or has appended data fails and leaves no dest", async (t) => {
  await using fx = await fixture();
  const good = await makeZip(`${fx.root}/good.zip`, [{ name: "a", data: "a".repeat(5000) }]);
  const goodBytes = await Deno.readFile(good);
  const cases: { name: string; make: (out: string) => Promise<unknown>; message: RegExp }[] = [
    {
      name: "text file",
      make: (out) => Deno.writeTextFile(out, "just text, not an archive"),
      message: /^Cannot extract .*: invalid or corrupt zip archive: .+/,
    },
    {
      name: "tar.gz passed as zip",
      make: (out) => makeTarGz(out, [{ type: "file", name: "a", data: "a" }]),
      message: /invalid or corrupt zip archive/,
    },
    {
      name: "truncated zip",
      make: (out) => Deno.writeFile(out, goodBytes.subarray(0, goodBytes.length - 30)),
      message: /invalid or corrupt zip archive/,
    },
    {
      name: "corrupt compressed data",
      make: (out) => {
        const bytes = goodBytes.slice();
        for (let i = 40; i < 50; i++) bytes[i] ^= 0xff;
        return Deno.writeFile(out, bytes);
      },
      message: /^Cannot extract .*: invalid or corrupt zip archive \(entry "a"\): .+/,
    },
    {
      name: "entry larger than its declared size",
      make: (out) => makeZip(out, [{ name: "a", data: "a".repeat(1000), declaredSize: 10 }]),
      message: /^Cannot extract .*: invalid or corrupt zip archive \(entry "a"\): .+/,
    },
    {
      name: "entry smaller than its declared size",
      make: (out) => makeZip(out, [{ name: "a", data: "a".repeat(1000), declaredSize: 5000 }]),
      message: /^Cannot extract .*: invalid or corrupt zip archive \(entry "a"\): .+/,
    },
    {
      name: "empty zip",
      make: (out) => makeZip(out, []),
      message: /^Cannot extract .*: the zip archive has no entries$/,
    },
    {
      name: "data appended after the archive",
      make: (out) => Deno.writeFile(out, new Uint8Array([...goodBytes, 1, 2, 3])),
      message: /invalid or corrupt zip archive/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const archive = `${fx.root}/${c.name.replaceAll(" ", "_")}.zip`;
      await c.make(archive);
      await assertFails(extractArchive(archive, fx.dest, ZIP), fx.dest, c.message);
    });
  }
});

Deno.test("zip encrypted entries are refused", async () => {
  await using fx = await fixture();
  await Deno.writeTextFile(`${fx.root}/a`, "secret data");
  const archive = `${fx.root}/app.zip`;
  await run("zip", ["-q", "-j", "-P", "password", archive, `${fx.root}/a`]);
  await Deno.remove(`${fx.root}/a`);
  await assertRefused(
    extractArchive(archive, fx.dest, ZIP),
    fx,
    archive,
    "a",
    "encrypted entries are not supported",
  );
});

Deno.test("tar.gz symlink entry with a body: the body is skipped, not written", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "file", name: "a", data: "A" },
    { type: "raw", name: "l", typeflag: "2", linkname: "a", data: "j".repeat(700) },
    { type: "file", name: "b", data: "B" },
  ]);
  assert.deepEqual(await extractArchive(archive, fx.dest, TAR), { files: 2, bytes: 2 });
  assert.equal(await Deno.readLink(`${fx.dest}/l`), "a");
  assert.equal(await Deno.readTextFile(`${fx.dest}/b`), "B");
  await Deno.remove(fx.dest, { recursive: true });
  await assertRefused(
    extractArchive(archive, fx.dest, { ...TAR, maxBytes: 500 }),
    fx,
    archive,
    "l",
    "archive content exceeds the limit of 500 bytes",
  );
});

Deno.test("writeFile refuses content beyond the declared size and the byte limit", async () => {
  await using fx = await fixture();
  await Deno.mkdir(fx.dest);
  const job: Job = {
    archive: "x.zip",
    dest: fx.dest,
    maxEntries: 10,
    maxBytes: 8,
    sync: false,
    total: null,
    entries: 0,
    files: 0,
    bytes: 0,
    tree: newTree(),
  };
  const four = new Uint8Array(4);
  const over = await writeFile(job, "e", "e", 0o644, 6, async (out) => {
    await out.write(four);
    await out.write(four);
  }).catch((e) => e);
  assert.ok(over instanceof UnsafeArchiveError);
  assert.equal(
    over.message,
    'Unsafe archive x.zip: entry "e" refused: entry content is larger than its declared size of 6 bytes',
  );
  const limit = await writeFile(job, "f", "f", 0o644, 100, async (out) => {
    await out.write(four);
    await out.write(four);
    await out.write(four);
  }).catch((e) => e);
  assert.ok(limit instanceof UnsafeArchiveError);
  assert.match(limit.message, /entry "f" refused: archive content exceeds the limit of 8 bytes$/);
  assert.equal(job.bytes, 8);
  assert.equal(job.files, 0);
});

Deno.test("an existing destination is refused and left untouched", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [{ type: "file", name: "a" }]);
  await Deno.mkdir(fx.dest);
  await Deno.writeTextFile(`${fx.dest}/keep`, "keep");
  const error = await extractArchive(archive, fx.dest, TAR).catch((e) => e);
  assert.ok(error instanceof Deno.errors.AlreadyExists);
  assert.equal(error.message, `Cannot extract ${archive}: destination ${fx.dest} already exists`);
  assert.deepEqual(await listing(fx.dest), ["keep"]);

  await Deno.symlink(fx.outside, `${fx.root}/dangerous`);
  const viaLink = await extractArchive(archive, `${fx.root}/dangerous`, TAR).catch((e) => e);
  assert.ok(viaLink instanceof Deno.errors.AlreadyExists);
  assert.deepEqual(await listing(fx.outside), ["secret"]);
});

Deno.test("a missing archive or parent directory fails with the OS error and leaves nothing", async () => {
  await using fx = await fixture();
  await assertFails(
    extractArchive(`${fx.root}/missing.tar.gz`, fx.dest, TAR),
    fx.dest,
    /No such file/,
    Deno.errors.NotFound,
  );
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [{ type: "file", name: "a" }]);
  await assertFails(
    extractArchive(archive, `${fx.root}/no/such/dir`, TAR),
    `${fx.root}/no`,
    /No such file/,
    Deno.errors.NotFound,
  );
});

Deno.test("invalid options are rejected before anything is created", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [{ type: "file", name: "a" }]);
  await assertFails(
    extractArchive(archive, fx.dest, { kind: "rar" as "zip" }),
    fx.dest,
    /^Extract option kind must be "tar.gz" or "zip", got "rar"$/,
    TypeError,
  );
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    await assertFails(
      extractArchive(archive, fx.dest, { ...TAR, maxEntries: bad }),
      fx.dest,
      new RegExp(`^Extract option maxEntries must be a positive integer, got ${bad}$`),
      RangeError,
    );
    await assertFails(
      extractArchive(archive, fx.dest, { ...TAR, maxBytes: bad }),
      fx.dest,
      new RegExp(`^Extract option maxBytes must be a positive integer, got ${bad}$`),
      RangeError,
    );
  }
});

Deno.test("sync: true (the default) extracts the same tree", async () => {
  await using fx = await fixture();
  const archive = await makeTarGz(`${fx.root}/app.tar.gz`, [
    { type: "file", name: "a/b/c", data: "abc" },
    { type: "symlink", name: "a/l", target: "b/c" },
  ]);
  assert.deepEqual(await extractArchive(archive, fx.dest, { kind: "tar.gz" }), {
    files: 1,
    bytes: 3,
  });
  assert.equal(await Deno.readTextFile(`${fx.dest}/a/l`), "abc");
});
