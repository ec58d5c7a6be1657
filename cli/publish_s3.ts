// The publisher's `publish` command: upload a release tree to an S3-compatible bucket (behind a
// CDN) in the order that never shows a client a torn publication. It parses options, resolves
// the AWS settings, calls lib/publish/upload.ts and prints (docs/DEPLOYMENT.md).
import { ConfigError } from "../lib/core/errors.ts";
import { resolveAwsSettings } from "../lib/publish/aws_config.ts";
import { ObjectStore } from "../lib/publish/object_store.ts";
import { parseS3Url } from "../lib/publish/s3_url.ts";
import {
  DEFAULT_METADATA_MAX_AGE,
  type UploadAction,
  uploadRelease,
} from "../lib/publish/upload.ts";
import { formatBytes, Ui } from "./_ui.ts";

/**
 * Options of `publish`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PublishCommandOptions } from "./publish_s3.ts";
 * const options: PublishCommandOptions = { to: "s3://releases/ms11", dryRun: true, metadataMaxAge: "60" };
 * assert.ok(options.dryRun);
 * ```
 */
export interface PublishCommandOptions {
  to?: string;
  endpoint?: string;
  dryRun?: boolean;
  metadataMaxAge?: string;
  json?: boolean;
}

/** The longest --metadata-max-age: a day (clients would wait that long for a new release). */
const MAX_METADATA_MAX_AGE = 86400;

/**
 * `ms11-update publish DIR --to s3://bucket/prefix`: upload a release tree, artifacts first and
 * manifests last (docs/DEPLOYMENT.md). Its flags and the directory are checked before any
 * credentials are looked for or any request is made: a bad one is a `ConfigError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishCommand } from "./publish_s3.ts";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(publishCommand(dir, {}), {
 *   name: "ConfigError",
 *   message: "publish needs --to s3://bucket[/prefix]",
 * });
 * await assert.rejects(publishCommand(dir, { to: "s3://releases", metadataMaxAge: "1h" }), {
 *   name: "ConfigError",
 *   message: 'Invalid --metadata-max-age "1h": expected whole seconds from 0 to 86400',
 * });
 * await assert.rejects(publishCommand(`${dir}/missing`, { to: "s3://releases/ms11" }), {
 *   name: "ConfigError",
 *   message: `Release directory ${dir}/missing does not exist`,
 * });
 * await Deno.remove(dir);
 * ```
 */
export async function publishCommand(
  dir: string,
  options: PublishCommandOptions,
): Promise<number> {
  const ui = new Ui({ json: options.json });
  if (options.to === undefined) {
    throw new ConfigError("publish needs --to s3://bucket[/prefix]");
  }
  const target = parseS3Url(options.to, "--to");
  const text = options.metadataMaxAge ?? String(DEFAULT_METADATA_MAX_AGE);
  const maxAge = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(maxAge >= 0 && maxAge <= MAX_METADATA_MAX_AGE)) {
    throw new ConfigError(
      `Invalid --metadata-max-age ${
        JSON.stringify(options.metadataMaxAge)
      }: expected whole seconds from 0 to ${MAX_METADATA_MAX_AGE}`,
    );
  }
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new ConfigError(`Release directory ${dir} does not exist`);
  const settings = await resolveAwsSettings(Deno.env.toObject(), { endpoint: options.endpoint });
  const store = new ObjectStore(target.bucket, settings);
  const describe = (a: UploadAction) => `${a.change} ${a.kind} ${store.describe(a.key)}`;
  const result = await uploadRelease(dir, {
    store,
    prefix: target.prefix,
    dryRun: options.dryRun,
    metadataMaxAge: maxAge,
    onEvent: (event) => {
      if (event.type === "uploaded") {
        ui.notice(`Uploaded ${describe(event.action)} (${formatBytes(event.action.size)})`);
      } else {
        ui.notice(
          `Waiting ${
            Math.ceil(event.ms / 1000)
          } s before writing the manifests: caches may keep the previous signature file for ${event.maxAgeSeconds} s`,
        );
      }
    },
  });
  const changes = result.actions.filter((a) => a.change !== "unchanged");
  const summary = result.dryRun
    ? `Dry run: ${changes.length} of ${result.actions.length} objects would change in ${result.target} (${
      formatBytes(result.bytes)
    })`
    : `Published ${result.target}: ${changes.length} of ${result.actions.length} objects written (${
      formatBytes(result.bytes)
    }, ${result.requests} requests)`;
  ui.data(
    {
      target: result.target,
      dry_run: result.dryRun,
      changed: result.changed,
      bytes: result.bytes,
      requests: result.requests,
      wait_ms: result.waitMs,
      credentials: settings.credentialsSource,
      endpoint: settings.endpoint,
      actions: result.actions,
    },
    [
      ...(result.dryRun ? changes.map((a) => `would ${describe(a)} (${formatBytes(a.size)})`) : []),
      summary,
    ]
      .join("\n"),
  );
  return 0;
}
