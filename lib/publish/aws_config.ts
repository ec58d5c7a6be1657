/**
 * Where an S3-compatible store is and how to sign for it, from the standard AWS settings, in the
 * order the AWS CLI and SDKs use:
 *
 * - credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the
 *   profile's `aws_access_key_id` / `aws_secret_access_key` / `aws_session_token` in the shared
 *   credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`), else in the
 *   config file (`AWS_CONFIG_FILE`, default `~/.aws/config`);
 * - the profile: `AWS_PROFILE`, else `default` (a named profile that exists nowhere is an error);
 * - the region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`, else
 *   `us-east-1`;
 * - the endpoint: the caller's (`--endpoint`), else `AWS_ENDPOINT_URL_S3`, else
 *   `AWS_ENDPOINT_URL`, else the profile's `s3 = endpoint_url` or `endpoint_url`; none means AWS
 *   itself;
 * - addressing: path-style (`<endpoint>/<bucket>/<key>`) for any endpoint that is not AWS (Swift,
 *   MinIO, R2 and Ceph all take it), or when the profile says `s3 = addressing_style = path`.
 *
 * The shared files are read as the AWS CLI reads them (lib/publish/_aws_ini.ts: sections,
 * `[profile name]` prefixes, comments and `s3 =` sub-sections; a file that is missing or cannot
 * be read counts as empty, as in the AWS SDK), never cached. Profiles that get their keys from elsewhere (`credential_process`, SSO,
 * `role_arn`) are refused with a message saying so: ms11-update only signs with static keys.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { type AwsProfiles, parseAwsIni } from "./_aws_ini.ts";

/**
 * Keys that sign requests (AWS Signature Version 4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AwsCredentials } from "./aws_config.ts";
 * const credentials: AwsCredentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null };
 * assert.equal(credentials.sessionToken, null); // static keys, not temporary ones
 * ```
 */
export interface AwsCredentials {
  /** The access key id. */
  accessKeyId: string;
  /** The secret access key. */
  secretAccessKey: string;
  /** A session token of temporary credentials, or null. */
  sessionToken: string | null;
}

/**
 * Everything needed to reach a store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AwsSettings, resolveAwsSettings } from "./aws_config.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/credentials`, [
 *   "[default]", "aws_access_key_id = AKIDEXAMPLE", "aws_secret_access_key = secret", "region = eu-west-1",
 * ].join("\n"));
 * const settings: AwsSettings = await resolveAwsSettings({
 *   AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
 *   AWS_CONFIG_FILE: `${dir}/config`, // missing: counts as empty
 *   HOME: "/nonexistent",
 * });
 * assert.equal(settings.credentialsSource, `profile default in ${dir}/credentials`);
 * assert.equal(settings.region, "eu-west-1");
 * assert.equal(settings.endpoint, null); // AWS S3 itself
 * assert.equal(settings.pathStyle, false);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface AwsSettings {
  /** The keys. */
  credentials: AwsCredentials;
  /** Where they came from (`environment`, or `profile NAME in FILE`), for messages. */
  credentialsSource: string;
  /** The signing region. */
  region: string;
  /** The endpoint (`https://host[:port]`, no final slash), or null for AWS S3 itself. */
  endpoint: string | null;
  /** Whether buckets are addressed in the path (`<endpoint>/<bucket>/…`). */
  pathStyle: boolean;
  /** The profile consulted. */
  profile: string;
}

/**
 * Options of {@linkcode resolveAwsSettings}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAwsSettings, type ResolveAwsSettingsOptions } from "./aws_config.ts";
 * const home = await Deno.makeTempDir();
 * await Deno.mkdir(`${home}/.aws`);
 * await Deno.writeTextFile(`${home}/.aws/config`, [
 *   "[profile swift]", "aws_access_key_id = test:tester", "aws_secret_access_key = testing",
 *   "endpoint_url = http://127.0.0.1:8080",
 * ].join("\n"));
 * const options: ResolveAwsSettingsOptions = { home, endpoint: "https://s3.example.com/" };
 * const settings = await resolveAwsSettings({ AWS_PROFILE: "swift" }, options);
 * assert.equal(settings.credentials.accessKeyId, "test:tester");
 * assert.equal(settings.endpoint, "https://s3.example.com"); // --endpoint wins over the profile's
 * await assert.rejects(resolveAwsSettings({ AWS_PROFILE: "missing" }, options), {
 *   name: "ConfigError",
 *   message: `AWS profile "missing" (AWS_PROFILE) is in neither ${home}/.aws/credentials nor ${home}/.aws/config`,
 * });
 * await Deno.remove(home, { recursive: true });
 * ```
 */
export interface ResolveAwsSettingsOptions {
  /** An endpoint given explicitly (`--endpoint`): it wins over the environment and files. */
  endpoint?: string;
  /** The home directory for `~/.aws/…` (default `HOME` from `env`). */
  home?: string;
}

/** Settings of a profile that mean "keys come from elsewhere". */
const INDIRECT = [
  "credential_process",
  "sso_session",
  "sso_start_url",
  "role_arn",
  "web_identity_token_file",
];

/**
 * Resolve credentials, region, endpoint and addressing from `env` (e.g. `Deno.env.toObject()`)
 * and the shared AWS files. Throws {@linkcode ConfigError} when no credentials are found, the
 * profile named by `AWS_PROFILE` does not exist, or an endpoint is not an http(s) URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAwsSettings } from "./aws_config.ts";
 * const settings = await resolveAwsSettings({
 *   AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
 *   AWS_SECRET_ACCESS_KEY: "secret",
 *   AWS_ENDPOINT_URL: "http://127.0.0.1:8080/",
 *   HOME: "/nonexistent",
 * });
 * assert.equal(settings.endpoint, "http://127.0.0.1:8080");
 * assert.equal(settings.pathStyle, true);
 * assert.equal(settings.region, "us-east-1");
 * ```
 */
export async function resolveAwsSettings(
  env: Record<string, string | undefined>,
  options: ResolveAwsSettingsOptions = {},
): Promise<AwsSettings> {
  const home = options.home ?? env.HOME ?? env.USERPROFILE ?? "";
  const credentialsFile = nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) ?? `${home}/.aws/credentials`;
  const configFile = nonEmpty(env.AWS_CONFIG_FILE) ?? `${home}/.aws/config`;
  const profileName = nonEmpty(env.AWS_PROFILE) ?? "default";
  const fromCredentials = (await readProfiles(credentialsFile, false))[profileName];
  const fromConfig = (await readProfiles(configFile, true))[profileName];
  if (nonEmpty(env.AWS_PROFILE) !== undefined && !fromCredentials && !fromConfig) {
    throw new ConfigError(
      `AWS profile ${
        JSON.stringify(profileName)
      } (AWS_PROFILE) is in neither ${credentialsFile} nor ${configFile}`,
    );
  }
  const profile: Record<string, string | undefined> = { ...fromConfig, ...fromCredentials };

  let credentials: AwsCredentials;
  let credentialsSource: string;
  const envKey = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const envSecret = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (envKey !== undefined || envSecret !== undefined) {
    if (envKey === undefined || envSecret === undefined) {
      throw new ConfigError(
        `AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (only ${
          envKey === undefined ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"
        } is set)`,
      );
    }
    credentials = {
      accessKeyId: envKey,
      secretAccessKey: envSecret,
      sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) ?? null,
    };
    credentialsSource = "environment";
  } else {
    const file = nonEmpty(fromCredentials?.aws_access_key_id) !== undefined
      ? credentialsFile
      : configFile;
    const key = nonEmpty(profile.aws_access_key_id);
    const secret = nonEmpty(profile.aws_secret_access_key);
    if (key === undefined || secret === undefined) {
      const indirect = INDIRECT.find((name) => nonEmpty(profile[name]) !== undefined);
      if (indirect !== undefined) {
        throw new ConfigError(
          `AWS profile ${
            JSON.stringify(profileName)
          } gets its keys through ${indirect}, which ms11-update does not support: export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (e.g. from aws configure export-credentials)`,
        );
      }
      throw new ConfigError(
        key === undefined && secret === undefined
          ? `No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or aws_access_key_id and aws_secret_access_key in profile ${
            JSON.stringify(profileName)
          } of ${credentialsFile}`
          : `AWS profile ${JSON.stringify(profileName)} in ${file} has ${
            key === undefined
              ? "aws_secret_access_key without aws_access_key_id"
              : "aws_access_key_id without aws_secret_access_key"
          }`,
      );
    }
    credentials = {
      accessKeyId: key,
      secretAccessKey: secret,
      sessionToken: nonEmpty(profile.aws_session_token) ?? null,
    };
    credentialsSource = `profile ${profileName} in ${file}`;
  }

  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ??
    nonEmpty(profile.region) ?? "us-east-1";
  if (!/^[a-z0-9-]{1,64}$/.test(region)) {
    throw new ConfigError(`Invalid AWS region ${JSON.stringify(region)}: expected e.g. eu-west-1`);
  }
  const given: [string, string | undefined][] = [
    ["--endpoint", nonEmpty(options.endpoint)],
    ["AWS_ENDPOINT_URL_S3", nonEmpty(env.AWS_ENDPOINT_URL_S3)],
    ["AWS_ENDPOINT_URL", nonEmpty(env.AWS_ENDPOINT_URL)],
    [`s3.endpoint_url of profile ${profileName}`, nonEmpty(profile["s3.endpoint_url"])],
    [`endpoint_url of profile ${profileName}`, nonEmpty(profile.endpoint_url)],
  ];
  const chosen = given.find(([, value]) => value !== undefined);
  const endpoint = chosen === undefined ? null : parseEndpoint(chosen[1]!, chosen[0]);
  const style = nonEmpty(profile["s3.addressing_style"]);
  const pathStyle = style === "path" || (style !== "virtual" && endpoint !== null);
  return { credentials, credentialsSource, region, endpoint, pathStyle, profile: profileName };
}

/**
 * An endpoint URL checked and normalised: `http:` or `https:`, no query, no final slash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEndpoint } from "./aws_config.ts";
 * assert.equal(parseEndpoint("https://s3.example.com/", "--endpoint"), "https://s3.example.com");
 * assert.throws(() => parseEndpoint("s3.example.com", "--endpoint"), /Invalid --endpoint/);
 * ```
 */
export function parseEndpoint(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    url = new URL("invalid:");
  }
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" ||
    url.hash !== "" || url.username !== "" || url.password !== ""
  ) {
    throw new ConfigError(
      `Invalid ${source} ${
        JSON.stringify(text)
      }: expected an http or https URL such as https://s3.example.com`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** The profiles of an AWS shared file; a missing or unreadable one has none. */
async function readProfiles(path: string, config: boolean): Promise<AwsProfiles> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return {}; // missing or unreadable: empty, as the AWS SDK reads it
  }
  return parseAwsIni(text, { config });
}
