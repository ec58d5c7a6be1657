// Extraction benchmark: the peak memory and time of staging an archive (lib/archive/extract.ts), with
// the V8 flags the executable is compiled with (read from deno.json) and without any, measured
// in one run, interleaved, each a fresh process:
//
//   deno task bench:extract [--size-mib 192] [--runs 3]
//
// The archives hold 8 files of mixed content (half random bytes, half text), about 2:1
// compressible like real builds, made with Debian's tar and zip.
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { median, numberFlag } from "./_util.ts";
const sizeMib = numberFlag("--size-mib", 192);
const runs = numberFlag("--runs", 3);
const one = new URL("./_extract_one.ts", import.meta.url).pathname;
const shipped = SHIPPED_V8_FLAGS;

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const dir = await Deno.makeTempDir({ prefix: "ms11-bench-extract-" });
try {
  const src = `${dir}/src`;
  await Deno.mkdir(src);
  const perFile = Math.max(1, Math.floor(sizeMib / 8)) * 1024 * 1024;
  const text = new TextEncoder().encode(
    "MS11 build: a line of text much like a binary's strings\n",
  );
  for (let i = 0; i < 8; i++) {
    const data = new Uint8Array(perFile);
    for (let off = 0; off < perFile; off += 131072) {
      // Alternate 64 KiB of random bytes with 64 KiB of text.
      crypto.getRandomValues(data.subarray(off, Math.min(off + 65536, perFile)));
      for (let t = off + 65536; t < Math.min(off + 131072, perFile); t += text.length) {
        data.set(text.subarray(0, Math.min(text.length, perFile - t)), t);
      }
    }
    await Deno.writeFile(`${src}/f${i}.bin`, data);
  }
  await Deno.writeTextFile(`${src}/ms11`, "#!/bin/sh\necho MS11\n");
  await run("tar", ["-czf", `${dir}/build.tar.gz`, "-C", src, "."]);
  await run("zip", ["-q", "-r", `${dir}/build.zip`, "."], src);

  const deno = Deno.execPath();
  const cases: [string, string[], string][] = [];
  for (const kind of ["tar.gz", "zip"]) {
    cases.push([`${kind}, shipped flags`, shipped, kind]);
    cases.push([`${kind}, default V8 flags`, [], kind]);
  }
  const peaks: number[][] = cases.map(() => []);
  const times: number[][] = cases.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, [, flags, kind]] of cases.entries()) {
      const dest = `${dir}/out`;
      await Deno.remove(dest, { recursive: true }).catch(() => {});
      const archive = `${dir}/build.${kind}`;
      const out = await run(deno, ["run", "-A", "--quiet", ...flags, one, kind, archive, dest]);
      const { peak_rss_kib, ms } = JSON.parse(out);
      peaks[k].push(peak_rss_kib / 1024);
      times[k].push(ms);
    }
  }
  console.log(
    `extracting ${sizeMib} MiB of files (median of ${runs}; shipped flags: ${shipped.join(" ")}):`,
  );
  for (const [k, [name]] of cases.entries()) {
    console.log(
      `  ${name.padEnd(26)} peak RSS ${median(peaks[k]).toFixed(1).padStart(6)} MiB  ${
        String(median(times[k])).padStart(6)
      } ms`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
