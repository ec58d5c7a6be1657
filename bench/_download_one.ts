// One download for bench/download.ts, in its own process so that its peak RSS is its own:
//
//   deno run -A bench/_download_one.ts ours|ours-sync|naive|idle URL DEST SIZE SHA256
//
// `ours` is lib/net/download.ts downloadArtifact as lib/actions/pipeline.ts calls it (streamed to disk through
// SHA-256, renamed; not fsynced, because staging fsyncs what it installs); `ours-sync` the same
// with the fsync (`sync: true`, the default), durable on return;
// `naive` is fetch → arrayBuffer → crypto.subtle.digest → write; `idle` does nothing (the
// baseline RSS of a Deno process). Prints {"peak_rss_kib": N, "cpu_ms": N} on stdout.
import { downloadArtifact } from "../lib/net/download.ts";

const [mode, url, dest, sizeText, sha256] = Deno.args;

function peakRssKib(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

if (mode === "ours" || mode === "ours-sync") {
  await downloadArtifact(url, dest, {
    size: Number(sizeText),
    sha256,
    requireHttps: false,
    maxAttempts: 1,
    sync: mode === "ours-sync",
  });
} else if (mode === "naive") {
  const body = await (await fetch(url)).arrayBuffer();
  const digest = await crypto.subtle.digest("SHA-256", body);
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== sha256) throw new Error(`Checksum mismatch: expected ${sha256}, got ${hex}`);
  await Deno.writeFile(dest, new Uint8Array(body));
} else if (mode !== "idle") {
  throw new TypeError(
    `Unknown mode ${JSON.stringify(mode)}: expected ours, ours-sync, naive or idle`,
  );
}
/** User + system CPU time of this process, in milliseconds (from /proc/self/stat). */
function cpuMs(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in 1/100 s ticks
}

console.log(JSON.stringify({ peak_rss_kib: peakRssKib(), cpu_ms: cpuMs() }));
