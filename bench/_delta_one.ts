// One step of bench/delta.ts, in its own process so that its peak RSS and time are its own:
//
//   deno run -A bench/_delta_one.ts idle
//   deno run -A bench/_delta_one.ts hash FILE
//   deno run -A bench/_delta_one.ts apply OLD PATCH OUT SIZE SHA256
//   deno run -A bench/_delta_one.ts make OLD NEW OUT FULL_SIZE
//   deno run -A bench/_delta_one.ts make-folder OLD_DIR NEW_DIR OUT FULL_SIZE
//   deno run -A bench/_delta_one.ts apply-folder OLD_DIR DELTA OUT SEAL
//   deno run -A bench/_delta_one.ts extract ARCHIVE DEST
//   deno run -A bench/_delta_one.ts stage ARCHIVE DEST
//
// `idle` loads the client's delta modules and does nothing (the baseline RSS); `apply` and
// `apply-folder` are what a client does (the folder one fsyncs, as extraction does, and checks the
// seal); `stage` is what staging a full tar.gz does: extract it and seal the result; `extract`
// only extracts (to set up the benchmark's folders). Prints {"peak_rss_kib": N, "ms": N, "result": …}.

function peakRssKib(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

const [mode, ...args] = Deno.args;
const start = performance.now();
let result: unknown = null;
if (mode === "idle") {
  await import("../lib/delta/apply.ts");
  await import("../lib/delta/folder.ts");
} else if (mode === "hash") {
  const { hashFile } = await import("../lib/core/hash.ts");
  result = await hashFile(args[0]);
} else if (mode === "apply") {
  const { applyPatch } = await import("../lib/delta/apply.ts");
  const [old, patch, out, size, sha256] = args;
  result = await applyPatch(old, patch, { out, size: Number(size), sha256 });
} else if (mode === "make") {
  const { makeDelta } = await import("../lib/delta/make.ts");
  const [old, next, out, fullSize] = args;
  result = await makeDelta(old, next, { out, fullSize: Number(fullSize), maxRatio: 1 });
} else if (mode === "make-folder") {
  const { makeFolderDelta } = await import("../lib/delta/make_folder.ts");
  const [old, next, out, fullSize] = args;
  result = await makeFolderDelta(old, next, { out, fullSize: Number(fullSize), maxRatio: 1 });
} else if (mode === "apply-folder") {
  const { applyFolderDelta } = await import("../lib/delta/folder.ts");
  const [old, delta, out, seal] = args;
  result = await applyFolderDelta(old, delta, { out, seal });
} else if (mode === "extract" || mode === "stage") {
  const { extractArchive } = await import("../lib/archive/extract.ts");
  const [archive, dest] = args;
  result = await extractArchive(archive, dest, { kind: "tar.gz" });
  if (mode === "stage") {
    const { treeDigest } = await import("../lib/root/seal.ts");
    result = { ...result as object, seal: await treeDigest(dest) };
  }
} else {
  throw new TypeError(`Unknown mode ${JSON.stringify(mode)}`);
}
const ms = Math.round(performance.now() - start);
console.log(JSON.stringify({ peak_rss_kib: peakRssKib(), ms, result }));
