/**
 * Test helpers for HTTPS: a throwaway CA plus a leaf certificate for 127.0.0.1 made with
 * openssl, and Debian's real nginx serving a directory on 127.0.0.1, so that end-to-end tests
 * exercise the server users actually deploy.
 *
 * @module
 */

/** Where Debian installs nginx (package `nginx`). */
export const NGINX_PATH = "/usr/sbin/nginx";

/**
 * Whether nginx is installed at `path`, for `Deno.test({ ignore })`.
 *
 * @example
 * ```ts ignore
 * // Registers a test: an example of use in a test module, not a test of its own.
 * import { haveNginx } from "./_nginx.ts";
 * Deno.test({ name: "through nginx", ignore: !(await haveNginx()), fn() {} });
 * ```
 */
export async function haveNginx(path: string = NGINX_PATH): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** PEM files of a test CA and a leaf certificate it signed. */
export interface TestCertificates {
  /** The CA certificate (give it to `Deno.createHttpClient({ caCerts })`). */
  caPem: string;
  /** The leaf certificate, for 127.0.0.1 and localhost. */
  cert: string;
  /** The leaf's private key. */
  key: string;
  /** Paths of the files written. */
  caPath: string;
  /** Path of the leaf certificate. */
  certPath: string;
  /** Path of the leaf's private key. */
  keyPath: string;
}

/** Options of {@linkcode makeTestCertificates}. */
export interface TestCertificatesOptions {
  /** The CA's common name (default `ms11 test CA`). */
  caName?: string;
}

/**
 * Write a new P-256 CA and a leaf certificate for `IP:127.0.0.1` and `DNS:localhost` into
 * `dir` with openssl (the leaf is not a CA, so rustls accepts it).
 *
 * @example
 * ```ts ignore
 * import { makeTestCertificates } from "./_nginx.ts";
 * const certs = await makeTestCertificates(await Deno.makeTempDir());
 * const client = Deno.createHttpClient({ caCerts: [certs.caPem] });
 * client.close();
 * ```
 */
export async function makeTestCertificates(
  dir: string,
  options: TestCertificatesOptions = {},
): Promise<TestCertificates> {
  const caPath = `${dir}/ca.pem`;
  const caKeyPath = `${dir}/ca.key`;
  const certPath = `${dir}/leaf.pem`;
  const keyPath = `${dir}/leaf.key`;
  const csrPath = `${dir}/leaf.csr`;
  const extPath = `${dir}/leaf.ext`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    caKeyPath,
    "-out",
    caPath,
    "-days",
    "30",
    "-subj",
    `/CN=${options.caName ?? "ms11 test CA"}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl(dir, ["req", ...ec, "-keyout", keyPath, "-out", csrPath, "-subj", "/CN=127.0.0.1"]);
  await Deno.writeTextFile(
    extPath,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "",
    ].join("\n"),
  );
  const serial = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16))
    .join("").padStart(16, "1");
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    csrPath,
    "-CA",
    caPath,
    "-CAkey",
    caKeyPath,
    "-set_serial",
    `0x${serial}`,
    "-days",
    "30",
    "-extfile",
    extPath,
    "-out",
    certPath,
  ]);
  return {
    caPem: await Deno.readTextFile(caPath),
    cert: await Deno.readTextFile(certPath),
    key: await Deno.readTextFile(keyPath),
    caPath,
    certPath,
    keyPath,
  };
}

/** Run openssl in `cwd`; throws with its stderr when it fails. */
async function openssl(cwd: string, args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Command openssl ${args[0]} failed with exit code ${output.code}: ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
}

/** A running nginx. */
export interface NginxServer extends AsyncDisposable {
  /** Plain HTTP base URL (without a final slash); the HTTPS one when `http: false`. */
  url: string;
  /** HTTPS base URL, e.g. `https://127.0.0.1:41234`. */
  httpsUrl: string;
  /** The CA that signed the server's certificate. */
  caPem: string;
  /** The nginx access log (one line per request, nginx's `combined` format). */
  accessLogPath: string;
  /** Stop nginx and remove its temporary directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startNginx}. */
export interface NginxOptions {
  /** Also listen on plain HTTP (default true). */
  http?: boolean;
  /** The nginx binary (default {@linkcode NGINX_PATH}). */
  nginxPath?: string;
  /** How long nginx may take to start serving (default 20 000 ms). */
  startTimeoutMs?: number;
  /** Extra nginx directives inside the server block, e.g. `location` blocks with redirects. */
  extraServerConfig?: string;
  /** Extra nginx directives inside the http block, e.g. a `proxy_cache_path`. */
  extraHttpConfig?: string;
  /** The directives of `location /` (default: serve files from `root`). */
  rootLocation?: string;
}

/**
 * Serve `root` with nginx on 127.0.0.1 (HTTPS, and HTTP unless `http: false`), from a private
 * configuration in a temporary directory (`daemon off`, single process, `etag on`, logs, pid
 * and temp paths inside it). Resolves once nginx answers; null when nginx is not installed.
 *
 * @example
 * ```ts ignore
 * import { startNginx } from "./_nginx.ts";
 * const nginx = await startNginx("/srv/releases");
 * if (nginx !== null) {
 *   const client = Deno.createHttpClient({ caCerts: [nginx.caPem] });
 *   await (await fetch(`${nginx.httpsUrl}/stable/manifest.json`, { client })).text();
 *   client.close();
 *   await nginx.stop();
 * }
 * ```
 */
export async function startNginx(
  root: string,
  options: NginxOptions = {},
): Promise<NginxServer | null> {
  const nginxPath = options.nginxPath ?? NGINX_PATH;
  if (!(await haveNginx(nginxPath))) return null;
  const realRoot = await Deno.realPath(root);
  const dir = await Deno.makeTempDir({ prefix: "ms11-nginx-" });
  try {
    const certs = await makeTestCertificates(dir);
    for (const sub of ["logs", "temp"]) await Deno.mkdir(`${dir}/${sub}`);
    // A port picked by listening on 0 may be taken again before nginx binds it: retry.
    let lastError: Error | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const httpsPort = freePort();
      const httpPort = options.http === false ? null : freePort();
      await Deno.writeTextFile(`${dir}/logs/error.log`, "");
      await Deno.writeTextFile(
        `${dir}/nginx.conf`,
        nginxConf({
          dir,
          root: realRoot,
          httpsPort,
          httpPort,
          certs,
          extra: options.extraServerConfig ?? "",
          extraHttp: options.extraHttpConfig ?? "",
          rootLocation: options.rootLocation ?? "try_files $uri =404;",
        }),
      );
      const started = await launch(nginxPath, dir, {
        ports: [httpsPort, httpPort],
        timeoutMs: options.startTimeoutMs ?? 20_000,
      });
      if (started instanceof Error) {
        lastError = started;
        if (/Address already in use/.test(started.message)) continue;
        throw started;
      }
      const httpsUrl = `https://127.0.0.1:${httpsPort}`;
      let stopping: Promise<void> | null = null;
      const stop = () => {
        stopping ??= (async () => {
          try {
            started.kill("SIGTERM");
          } catch {
            // Already gone.
          }
          await started.status;
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        })();
        return stopping;
      };
      return {
        url: httpPort === null ? httpsUrl : `http://127.0.0.1:${httpPort}`,
        httpsUrl,
        caPem: certs.caPem,
        accessLogPath: `${dir}/logs/access.log`,
        stop,
        [Symbol.asyncDispose]: stop,
      };
    }
    throw lastError!;
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** Options of {@linkcode startCdn}. */
export interface CdnOptions {
  /** The nginx binary (default {@linkcode NGINX_PATH}). */
  nginxPath?: string;
}

/**
 * Debian's nginx as a CDN in front of `origin` (an http URL such as a public bucket's
 * `http://127.0.0.1:PORT/v1/AUTH_test/releases`): `/<path>` is proxied to `<origin>/<path>`
 * through a `proxy_cache` that honours the origin's `Cache-Control` (and caches nothing the
 * origin does not allow), one request per key filling the cache at a time (`proxy_cache_lock`),
 * expired entries revalidated with conditional requests. Every answer carries `X-Cache-Status`
 * (`MISS`, `HIT`, `EXPIRED`, `REVALIDATED`…). Its `accessLogPath` has one line per request,
 * `METHOD URI STATUS CACHE_STATUS`: the lines without `HIT` are the ones that reached the
 * origin. Null when nginx is not installed.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { startCdn } from "./_nginx.ts";
 * await using cdn = (await startCdn("http://127.0.0.1:8080/v1/AUTH_test/releases"))!;
 * const response = await fetch(`${cdn.url}/stable/manifest.json`);
 * assert.match(response.headers.get("x-cache-status") ?? "", /^(MISS|HIT|EXPIRED)$/);
 * ```
 */
export async function startCdn(
  origin: string,
  options: CdnOptions = {},
): Promise<NginxServer | null> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-cdn-" });
  const q = (s: string) => JSON.stringify(s);
  const upstream = origin.replace(/\/+$/, "") + "/";
  try {
    const nginx = await startNginx(dir, {
      nginxPath: options.nginxPath,
      extraHttpConfig: `
    proxy_cache_path ${
        q(`${dir}/cache`)
      } levels=1:2 keys_zone=cdn:1m max_size=256m inactive=1h use_temp_path=off;
    log_format cdn '$request_method $request_uri $status $upstream_cache_status';`,
      rootLocation: `proxy_pass ${upstream};
            proxy_http_version 1.1;
            proxy_cache cdn;
            proxy_cache_key $uri;
            proxy_cache_lock on;
            proxy_cache_revalidate on;
            add_header X-Cache-Status $upstream_cache_status always;
            access_log ${q(`${dir}/cdn.log`)} cdn;`,
    });
    if (nginx === null) {
      await Deno.remove(dir, { recursive: true });
      return null;
    }
    let stopping: Promise<void> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        await nginx.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return stopping;
    };
    return { ...nginx, accessLogPath: `${dir}/cdn.log`, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The private nginx.conf. */
function nginxConf(
  c: {
    dir: string;
    root: string;
    httpsPort: number;
    httpPort: number | null;
    certs: TestCertificates;
    extra: string;
    extraHttp: string;
    rootLocation: string;
  },
): string {
  const q = (s: string) => JSON.stringify(s); // nginx accepts double-quoted strings
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `    ${name}_temp_path ${q(`${c.dir}/temp/${name}`)};`).join("\n");
  return `# ms11-update test nginx (generated)
daemon off;
master_process off;
worker_processes 1;
pid ${q(`${c.dir}/nginx.pid`)};
error_log ${q(`${c.dir}/logs/error.log`)} warn;
events {
    worker_connections 256;
}
http {
    access_log ${q(`${c.dir}/logs/access.log`)} combined;
${temp}
    types {
        application/json json;
    }
    default_type application/octet-stream;
    sendfile on;
    etag on;
    server_tokens off;
${c.extraHttp}
    server {
        ${c.httpPort === null ? "" : `listen 127.0.0.1:${c.httpPort};`}
        listen 127.0.0.1:${c.httpsPort} ssl;
        server_name 127.0.0.1 localhost;
        ssl_certificate ${q(c.certs.certPath)};
        ssl_certificate_key ${q(c.certs.keyPath)};
        root ${q(c.root)};
        autoindex off;
        location / {
            ${c.rootLocation}
        }
${c.extra}
    }
}
`;
}

/**
 * Start nginx and wait until it has bound its ports (it writes its pid file only after that),
 * then until every port accepts a connection. Returns the process, or an Error carrying nginx's
 * output when it exited first or did not come up in time (then it is killed).
 */
async function launch(
  nginxPath: string,
  dir: string,
  { ports, timeoutMs }: { ports: (number | null)[]; timeoutMs: number },
): Promise<Deno.ChildProcess | Error> {
  const child = new Deno.Command(nginxPath, {
    args: ["-c", `${dir}/nginx.conf`, "-p", `${dir}/`, "-e", `${dir}/logs/error.log`],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Keep draining stderr so nginx never blocks on a full pipe.
  const stderr = new Response(child.stderr).text().catch(() => "");
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const failure = async (what: string) => {
    const log = await Deno.readTextFile(`${dir}/logs/error.log`).catch(() => "");
    const output = ((await stderr) + log).trim();
    return new Error(`Command ${nginxPath} ${what}${output === "" ? "" : `: ${output}`}`);
  };
  const deadline = Date.now() + timeoutMs;
  const ready = async () => {
    const pid = await Deno.readTextFile(`${dir}/nginx.pid`).catch(() => "");
    if (pid.trim() !== String(child.pid)) return false;
    for (const port of ports) {
      if (port === null) continue;
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      } catch {
        return false;
      }
    }
    return true;
  };
  while (!(await ready())) {
    if (exited) return failure(`exited with code ${(await status).code} before serving`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await status;
      const listed = ports.filter((p) => p !== null).join(", ");
      return failure(`did not serve on ports ${listed} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return child;
}
