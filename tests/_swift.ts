/**
 * Test helper: a real S3-compatible object store on 127.0.0.1, Debian's OpenStack Swift 2.30
 * with its `s3api` and `tempauth` middleware, one replica, its storage in a temporary folder.
 * It takes ~10 s to start and ~216 MiB, so a test file starts one and shares it between its
 * steps.
 *
 * Five processes on free ports: memcached (without it every S3 request answers 500 "Memcache
 * required") and the account, container, object and proxy servers, each run by
 * tests/fixtures/swift/swift_server.py from configuration written into the temporary folder
 * (nothing is read from or written to /etc/swift). The S3 API is path-style at the proxy's
 * root; tempauth's user `test:tester` (secret `testing`) owns the account `AUTH_test`, whose
 * public-read buckets anyone can read at `/v1/AUTH_test/<bucket>/<key>`; `test:reader` (secret
 * `reading`) may only read what is public.
 *
 * @module
 */
import { AwsClient } from "aws4fetch";

/** The Debian packages that provide it (CI installs them: .ci/run). */
export const SWIFT_PACKAGES =
  "swift swift-proxy swift-object swift-container swift-account memcached";

const PYTHON = "/usr/bin/python3";
const MEMCACHED = "/usr/bin/memcached";
const SWIFT_MODULE = "/usr/lib/python3/dist-packages/swift/common/ring/builder.py";
const SCRIPT = new URL("./fixtures/swift/swift_server.py", import.meta.url).pathname;
const SERVERS = ["account", "container", "object", "proxy"] as const;

/** A running Swift. */
export interface SwiftStore extends AsyncDisposable {
  /** The S3 endpoint (path-style), e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  /** The S3 access key id (tempauth `account:user`). */
  accessKeyId: string;
  /** The S3 secret. */
  secretAccessKey: string;
  /** A user of the same account without write access (secret `reading`). */
  readerAccessKeyId: string;
  /** The region s3api expects in signatures. */
  region: string;
  /** `AWS_*` variables that point a process at this store. */
  env: Record<string, string>;
  /** The anonymous read URL of a public-read bucket: `<endpoint>/v1/AUTH_test/<bucket>`. */
  publicUrl(bucket: string): string;
  /** Create a bucket; `publicRead` lets anyone read its objects through {@linkcode publicUrl}. */
  createBucket(name: string, options?: { publicRead?: boolean }): Promise<void>;
  /** What the servers wrote on stderr so far (for failure messages). */
  logs(): Promise<string>;
  /** Stop every process and remove the folder; safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startSwift}. */
export interface SwiftOptions {
  /** How long it may take to serve S3 requests (default 60 000 ms). */
  startTimeoutMs?: number;
}

/**
 * Why Swift cannot start here (a missing program, with the packages to install), or null.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { swiftMissing } from "./_swift.ts";
 * assert.equal(await swiftMissing(), null, "Swift is installed");
 * ```
 */
export async function swiftMissing(): Promise<string | null> {
  const missing: string[] = [];
  for (const path of [PYTHON, MEMCACHED, SWIFT_MODULE]) {
    if (!(await Deno.stat(path).then((s) => s.isFile, () => false))) missing.push(path);
  }
  return missing.length === 0
    ? null
    : `OpenStack Swift is not installed (missing ${
      missing.join(", ")
    }): apt-get install ${SWIFT_PACKAGES} (.ci/run does)`;
}

/**
 * Start Swift in a temporary folder and wait until it serves authenticated S3 requests. Throws
 * with a clear message when Swift is not installed (see {@linkcode swiftMissing}), and with the
 * servers' output when it does not come up in time.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { startSwift } from "./_swift.ts";
 * await using swift = await startSwift();
 * await swift.createBucket("releases", { publicRead: true });
 * assert.equal(swift.publicUrl("releases"), `${swift.endpoint}/v1/AUTH_test/releases`);
 * ```
 */
export async function startSwift(options: SwiftOptions = {}): Promise<SwiftStore> {
  const missing = await swiftMissing();
  if (missing !== null) throw new Error(missing);
  let lastError: Error | null = null;
  // A port picked by listening on 0 may be taken again before a server binds it: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options.startTimeoutMs ?? 60_000);
    } catch (error) {
      lastError = error as Error;
      if (!/Address already in use|EADDRINUSE|failed to listen/i.test(lastError.message)) break;
    }
  }
  throw lastError!;
}

async function startOnce(timeoutMs: number): Promise<SwiftStore> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-swift-" });
  const children: { name: string; child: Deno.ChildProcess; log: string }[] = [];
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      for (const { child } of children) {
        try {
          child.kill("SIGTERM");
        } catch {
          // Already gone.
        }
      }
      await Promise.all(children.map(async ({ child }) => {
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
        }, 5000);
        await child.status;
        clearTimeout(timer);
      }));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopping;
  };
  const logs = async () =>
    (await Promise.all(children.map(async ({ name, log }) => {
      const text = (await Deno.readTextFile(log).catch(() => "")).trim();
      return text === "" ? "" : `${name}: ${text.split("\n").slice(-20).join("\n")}`;
    }))).filter((t) => t !== "").join("\n");
  try {
    const [account, container, object, proxy, memcached] = freePorts(5);
    const prepared = await new Deno.Command(PYTHON, {
      args: [SCRIPT, "prepare", dir, ...[account, container, object, proxy, memcached].map(String)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!prepared.success) {
      throw new Error(
        `Swift setup (${SCRIPT} prepare) failed with exit code ${prepared.code}: ${
          new TextDecoder().decode(prepared.stderr).trim()
        }`,
      );
    }
    const spawn = async (name: string, [program, ...args]: string[]) => {
      const log = `${dir}/${name}.log`;
      const file = await Deno.open(log, { write: true, create: true, truncate: true });
      const child = new Deno.Command(program, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // Keep draining stderr into the log so a server never blocks on a full pipe.
      child.stderr.pipeTo(file.writable).catch(() => {});
      children.push({ name, child, log });
    };
    const root = Deno.uid() === 0 ? ["-u", "root"] : [];
    await spawn("memcached", [
      MEMCACHED,
      "-l",
      "127.0.0.1",
      "-p",
      String(memcached),
      "-U",
      "0",
      "-m",
      "16",
      ...root,
    ]);
    for (const name of SERVERS) await spawn(name, [PYTHON, SCRIPT, "serve", dir, name]);
    const endpoint = `http://127.0.0.1:${proxy}`;
    const credentials = { accessKeyId: "test:tester", secretAccessKey: "testing" };
    const aws = new AwsClient({ ...credentials, service: "s3", region: "us-east-1", retries: 0 });
    const deadline = Date.now() + timeoutMs;
    const exited = () =>
      Promise.race([
        ...children.map(async ({ name, child }) =>
          `${name} exited with code ${(await child.status).code}`
        ),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 0)),
      ]);
    // Ready: every backend accepts connections and an authenticated S3 request succeeds.
    while (true) {
      const gone = await exited();
      if (gone !== null) throw new Error(`Swift did not start: ${gone}\n${await logs()}`);
      if (Date.now() > deadline) {
        throw new Error(`Swift did not serve S3 requests within ${timeoutMs} ms\n${await logs()}`);
      }
      if (await ready([account, container, object, memcached], { aws, endpoint })) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const store: SwiftStore = {
      endpoint,
      ...credentials,
      readerAccessKeyId: "test:reader",
      region: "us-east-1",
      env: {
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL: endpoint,
      },
      publicUrl: (bucket) => `${endpoint}/v1/AUTH_test/${bucket}`,
      async createBucket(name, options = {}) {
        const headers: Record<string, string> = options.publicRead
          ? { "x-amz-acl": "public-read" }
          : {};
        const response = await aws.fetch(`${endpoint}/${name}`, {
          method: "PUT",
          headers,
          signal: AbortSignal.timeout(30_000),
        });
        const body = await response.text();
        if (!response.ok) {
          throw new Error(`Creating bucket ${name} failed: HTTP ${response.status} ${body}`);
        }
      },
      logs,
      stop,
      [Symbol.asyncDispose]: stop,
    };
    return store;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Whether the backends listen and the proxy answers a signed ListBuckets with 200. */
async function ready(
  ports: number[],
  { aws, endpoint }: { aws: AwsClient; endpoint: string },
): Promise<boolean> {
  for (const port of ports) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } catch {
      return false;
    }
  }
  try {
    const response = await aws.fetch(`${endpoint}/`, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** `n` distinct TCP ports free on 127.0.0.1 right now. */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/**
 * Run `fn` with a time bound: rejects when it takes longer than `ms` (the test runner names the
 * test or step).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { timeBound } from "./_swift.ts";
 * assert.equal(await timeBound(1000, async () => 42), 42);
 * ```
 */
export async function timeBound<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
