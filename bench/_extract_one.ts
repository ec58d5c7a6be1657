// One extraction for bench/extract.ts, in its own process so that its peak RSS is its own:
//
//   deno run -A bench/_extract_one.ts tar.gz|zip ARCHIVE DEST
//
// Runs lib/archive/extract.ts extractArchive (every file fsynced, as staging does) and prints
// {"peak_rss_kib": N, "ms": N} on stdout.
import { extractArchive } from "../lib/archive/extract.ts";

const [kind, archive, dest] = Deno.args;
if (kind !== "tar.gz" && kind !== "zip") {
  throw new TypeError(`Unknown kind ${JSON.stringify(kind)}: expected tar.gz or zip`);
}
const start = performance.now();
await extractArchive(archive, dest, { kind });
const ms = performance.now() - start;
const status = Deno.readTextFileSync("/proc/self/status");
const peak = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
console.log(JSON.stringify({ peak_rss_kib: peak, ms: Math.round(ms) }));
