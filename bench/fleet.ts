// Fleet bench: N simulated clients (an in-process pool, each its own install root running the real
// lib/actions/pipeline.ts runUpdate) check and update through Debian's nginx as a caching CDN in
// front of a real S3-compatible store (Debian's OpenStack Swift, published with
// lib/publish/upload.ts), and the CDN's log tells which requests reached the origin:
//
//   deno task bench:fleet [--clients 200] [--spread-ms 20000] [--max-age 5] [--size-kib 256]
//
// Rounds, each the whole fleet starting at random moments spread over --spread-ms (the 24 h
// jitter of real installs, shrunk), with the metadata max-age --max-age seconds:
//   install   publication 1 (1.0.0), then every client installs it
//   steady    no publication: every client checks again (304s)
//   update    publication 2 (1.1.0), then every client updates to it
// Reported per round: requests the clients made, those that reached the origin (per object
// kind), origin requests per client and per publication. Needs nginx and Swift (.ci/run
// installs them); tests/cdn_client_test.ts runs a small fleet of it in CI.
import { validateConfig } from "../lib/core/config_schema.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { detectPlatform } from "../lib/core/config.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { uploadRelease } from "../lib/publish/upload.ts";
import { startCdn } from "../tests/_nginx.ts";
import { storeOf } from "../tests/_s3.ts";
import { startSwift } from "../tests/_swift.ts";
import { numberFlag, xorshift32 } from "./_util.ts";

/** Options of {@linkcode fleetBench}. */
export interface FleetOptions {
  /** Simulated installs. */
  clients: number;
  /** Each round's clients start at random moments within this many milliseconds. */
  spreadMs: number;
  /** The metadata max-age of the publications, in seconds. */
  maxAge: number;
  /** The artifact's size in KiB. */
  sizeKib: number;
  /** Seed of the start times. */
  seed?: number;
}

/** What one round cost. */
export interface FleetRound {
  /** `install`, `steady` or `update`. */
  name: string;
  /** Clients whose run ended as expected (installed, up to date, updated). */
  ok: number;
  /** Runs that failed, with the first messages. */
  failures: string[];
  /** Requests the clients sent to the CDN. */
  requests: number;
  /** Requests the CDN sent on to the origin (its log lines that are not cache hits). */
  origin: number;
  /** Origin requests per object kind: `manifest`, `signatures` (addressed), `sig`, `artifact`. */
  originByKind: Record<string, number>;
  /** Client requests per object kind. */
  requestsByKind: Record<string, number>;
  /** Requests the publisher sent to the store in this round (0 without a publication). */
  publisherRequests: number;
}

/** Which object a request was for. */
function kindOf(path: string): string {
  if (path.endsWith("/manifest.json")) return "manifest";
  if (path.endsWith("/manifest.json.sig")) return "sig";
  if (path.includes("/signatures/")) return "signatures";
  return "artifact";
}

/**
 * Run the fleet through three rounds (see the module's description) and say what each cost.
 * Throws when nginx or Swift cannot start.
 */
export async function fleetBench(options: FleetOptions): Promise<FleetRound[]> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-fleet-" });
  const platform = detectPlatform();
  const random = xorshift32(options.seed ?? 7);
  await using swift = await startSwift();
  await swift.createBucket("releases", { publicRead: true });
  const cdn = await startCdn(swift.publicUrl("releases"));
  if (cdn === null) throw new Error("nginx is not installed: apt-get install nginx");
  await using _cdn = cdn;
  try {
    const store = storeOf(swift, "releases");
    const written = await writeKeyPair(`${dir}/keys`);
    const key = await readSigningKey(written.privatePath);
    const config = validateConfig({
      update_servers: { stable: { base_url: `${cdn.url}/fleet/stable` } },
      max_retry_attempts: 3,
      download_timeout_seconds: 120,
      security: {
        require_https: false,
        allowed_domains: ["127.0.0.1"],
        signing_keys: { stable: { threshold: 1, keys: [written.publicKey] } },
      },
    });
    const padding = "# padding\n".repeat(Math.ceil(options.sizeKib * 1024 / 10));
    const publish = async (version: string) => {
      const artifact = `${dir}/ms11-${version}`;
      await Deno.writeTextFile(artifact, `#!/bin/sh\necho "MS11 ${version}"\nexit 0\n${padding}`);
      await publishRelease(`${dir}/tree`, {
        channel: "stable",
        version,
        platform,
        artifact,
        keys: [key],
      });
      const result = await uploadRelease(`${dir}/tree`, {
        store,
        prefix: "fleet/",
        metadataMaxAge: options.maxAge,
      });
      return result.requests;
    };
    const round = async (
      name: string,
      expect: (staged: string | null, version: string) => boolean,
      publisherRequests: number,
    ): Promise<FleetRound> => {
      const mark = (await Deno.readTextFile(cdn.accessLogPath)).length;
      const failures: string[] = [];
      let ok = 0;
      await Promise.all(
        Array.from({ length: options.clients }, async (_, i) => {
          await new Promise((resolve) => setTimeout(resolve, random() * options.spreadMs));
          try {
            const result = await runUpdate(layoutOf(`${dir}/clients/${i}`), config, {
              channel: "stable",
              platform,
              lockWaitMs: 10_000,
            });
            if (expect(result.staged, result.check.manifest.version)) ok++;
            else failures.push(`client ${i}: staged ${result.staged}`);
          } catch (error) {
            failures.push(`client ${i}: ${(error as Error).message}`);
          }
        }),
      );
      const lines = (await Deno.readTextFile(cdn.accessLogPath)).slice(mark).split("\n")
        .filter((l) => l !== "");
      const requestsByKind: Record<string, number> = {};
      const originByKind: Record<string, number> = {};
      let origin = 0;
      for (const line of lines) {
        const kind = kindOf(line.split(" ")[1] ?? "");
        requestsByKind[kind] = (requestsByKind[kind] ?? 0) + 1;
        if (!line.endsWith(" HIT")) {
          origin++;
          originByKind[kind] = (originByKind[kind] ?? 0) + 1;
        }
      }
      return {
        name,
        ok,
        failures: failures.slice(0, 5),
        requests: lines.length,
        origin,
        originByKind,
        requestsByKind,
        publisherRequests,
      };
    };
    const rounds: FleetRound[] = [];
    rounds.push(
      await round("install", (s, v) => s === "1.0.0" && v === "1.0.0", await publish("1.0.0")),
    );
    // Every copy of the metadata expires before the next round: each is a revalidation.
    await new Promise((resolve) => setTimeout(resolve, options.maxAge * 1000 + 1000));
    rounds.push(await round("steady", (s, v) => s === null && v === "1.0.0", 0));
    rounds.push(
      await round("update", (s, v) => s === "1.1.0" && v === "1.1.0", await publish("1.1.0")),
    );
    return rounds;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The rounds as a Markdown table, then the origin's requests by object kind. */
export function fleetTable(rounds: FleetRound[], options: FleetOptions): string {
  const per = (n: number) => (n / options.clients).toFixed(3);
  const lines = [
    `${options.clients} clients, starts spread over ${
      options.spreadMs / 1000
    } s, metadata max-age ${options.maxAge} s, artifact ${options.sizeKib} KiB`,
    "",
    "| round | clients ok | client requests | origin requests | origin per client | origin per publication | publisher requests |",
    "| ----- | ---------- | --------------- | --------------- | ----------------- | ---------------------- | ------------------ |",
    ...rounds.map((r) =>
      `| ${r.name} | ${r.ok} | ${r.requests} | ${r.origin} | ${per(r.origin)} | ${
        r.publisherRequests === 0 ? "–" : r.origin
      } | ${r.publisherRequests || "–"} |`
    ),
    "",
    "| round | " +
    ["manifest", "sig", "signatures", "artifact"].map((k) => `${k} (client / origin)`).join(" | ") +
    " |",
    "| ----- | --- | --- | --- | --- |",
    ...rounds.map((r) =>
      `| ${r.name} | ${
        ["manifest", "sig", "signatures", "artifact"].map((k) =>
          `${r.requestsByKind[k] ?? 0} / ${r.originByKind[k] ?? 0}`
        ).join(" | ")
      } |`
    ),
  ];
  for (const r of rounds) {
    if (r.failures.length > 0) lines.push("", `${r.name}: ${r.failures.join("; ")}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const options: FleetOptions = {
    clients: numberFlag("--clients", 200),
    spreadMs: numberFlag("--spread-ms", 20_000),
    maxAge: numberFlag("--max-age", 5),
    sizeKib: numberFlag("--size-kib", 256),
  };
  const rounds = await fleetBench(options);
  console.log(fleetTable(rounds, options));
  if (rounds.some((r) => r.ok !== options.clients)) Deno.exit(1);
}
