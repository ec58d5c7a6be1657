// Shared by the delta benches: npm tarballs fetched once (and checked against the registry's
// sha512 integrity), and one process's wall time and peak RSS measured through python3.
import { createHash } from "node:crypto";

/** Where the fetched tarballs are kept (never committed). */
export const CACHE = new URL("../.artifacts/bench-delta/", import.meta.url).pathname;

/** The npm tarball of `name@version`, fetched once and checked against its sha512 integrity. */
export async function npmTarball(name: string, version: string): Promise<string> {
  const path = `${CACHE}${name.replace("/", "+")}-${version}.tgz`;
  const cached = await Deno.readFile(path).catch(() => null);
  const doc = await (await fetch(
    `https://registry.npmjs.org/${name.replace("/", "%2F")}/${version}`,
  )).json();
  const integrity = String(doc.dist.integrity);
  const check = (bytes: Uint8Array) =>
    `sha512-${createHash("sha512").update(bytes).digest("base64")}` === integrity;
  if (cached !== null && check(cached)) return path;
  const response = await fetch(doc.dist.tarball);
  if (!response.ok) throw new Error(`Fetching ${doc.dist.tarball} failed: ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (!check(bytes)) throw new Error(`${doc.dist.tarball} does not match ${integrity}`);
  await Deno.mkdir(CACHE, { recursive: true });
  await Deno.writeFile(path, bytes);
  return path;
}

/** One process run to its exit: wall time, its output, and the largest RSS of its tree. */
export interface Measured {
  /** From spawning to exit, in ms. */
  wallMs: number;
  /** ru_maxrss of the children (python3's RUSAGE_CHILDREN), KiB. */
  treeRssKib: number;
  /** What it printed on stdout. */
  stdout: string;
}

/** Run `argv` under python3 (which reports the peak RSS of its children); throws on failure. */
export async function measured(argv: string[]): Promise<Measured> {
  const code = "import resource, subprocess, sys\n" +
    "r = subprocess.run(sys.argv[1:])\n" +
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n" +
    "sys.exit(r.returncode)";
  const start = performance.now();
  const output = await new Deno.Command("python3", {
    args: ["-c", code, ...argv],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wallMs = performance.now() - start;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${argv.join(" ")} failed: ${stderr}`);
  return {
    wallMs,
    treeRssKib: Number(stderr.trim().split("\n").at(-1)),
    stdout: new TextDecoder().decode(output.stdout),
  };
}
