// The AWS settings of `publish`: environment over shared files, profiles, regions, endpoints
// and addressing, and one-line errors for what is missing or unsupported.
import assert from "node:assert/strict";
import { ConfigError } from "../lib/core/errors.ts";
import { parseEndpoint, resolveAwsSettings } from "../lib/publish/aws_config.ts";
import { rejectsWith, tempDir, throwsWith } from "./_helpers.ts";

/** A folder with `credentials` and `config` files, and the env that points at them. */
async function awsFiles(
  dir: string,
  { credentials, config }: { credentials: string; config: string },
): Promise<Record<string, string>> {
  await Deno.writeTextFile(`${dir}/credentials`, credentials);
  await Deno.writeTextFile(`${dir}/config`, config);
  return {
    AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
    AWS_CONFIG_FILE: `${dir}/config`,
    HOME: `${dir}/home`,
  };
}

const CREDENTIALS = `# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default-secret

[dev]
aws_access_key_id=AKIDDEV
aws_secret_access_key=dev-secret
aws_session_token = dev-token
`;

const CONFIG = `[default]
region = eu-west-1

[profile dev]
region = us-west-2
endpoint_url = http://127.0.0.1:9000
s3 =
  endpoint_url = http://127.0.0.1:9001/
  addressing_style = path

[profile virtual]
endpoint_url = http://127.0.0.1:9000
s3 =
  addressing_style = virtual

[profile sso]
sso_session = corp
region = eu-central-1

[profile half]
aws_access_key_id = AKIDHALF
`;

Deno.test("environment credentials win over the shared files; AWS is virtual-hosted", async () => {
  await using dir = await tempDir();
  const env = await awsFiles(dir.path, { credentials: CREDENTIALS, config: CONFIG });
  const settings = await resolveAwsSettings({
    ...env,
    AWS_ACCESS_KEY_ID: "AKIDENV",
    AWS_SECRET_ACCESS_KEY: "env-secret",
    AWS_SESSION_TOKEN: "env-token",
  });
  assert.deepEqual(settings.credentials, {
    accessKeyId: "AKIDENV",
    secretAccessKey: "env-secret",
    sessionToken: "env-token",
  });
  assert.equal(settings.credentialsSource, "environment");
  assert.equal(settings.region, "eu-west-1"); // still the default profile's region
  assert.equal(settings.endpoint, null);
  assert.equal(settings.pathStyle, false);
});

Deno.test("the default profile's keys come from the credentials file", async () => {
  await using dir = await tempDir();
  const env = await awsFiles(dir.path, { credentials: CREDENTIALS, config: CONFIG });
  const settings = await resolveAwsSettings(env);
  assert.deepEqual(settings.credentials, {
    accessKeyId: "AKIDDEFAULT",
    secretAccessKey: "default-secret",
    sessionToken: null,
  });
  assert.equal(settings.credentialsSource, `profile default in ${dir.path}/credentials`);
  assert.equal(settings.profile, "default");
});

Deno.test("AWS_PROFILE picks a profile: its keys, token, region, s3 endpoint and addressing", async () => {
  await using dir = await tempDir();
  const env = await awsFiles(dir.path, { credentials: CREDENTIALS, config: CONFIG });
  const settings = await resolveAwsSettings({ ...env, AWS_PROFILE: "dev" });
  assert.deepEqual(settings.credentials, {
    accessKeyId: "AKIDDEV",
    secretAccessKey: "dev-secret",
    sessionToken: "dev-token",
  });
  assert.equal(settings.region, "us-west-2");
  assert.equal(settings.endpoint, "http://127.0.0.1:9001"); // the s3 sub-section wins
  assert.equal(settings.pathStyle, true);
});

Deno.test("region: AWS_REGION, then AWS_DEFAULT_REGION, then the profile, then us-east-1", async () => {
  await using dir = await tempDir();
  const env = await awsFiles(dir.path, { credentials: CREDENTIALS, config: "" });
  assert.equal((await resolveAwsSettings(env)).region, "us-east-1");
  assert.equal(
    (await resolveAwsSettings({ ...env, AWS_DEFAULT_REGION: "ap-south-1" })).region,
    "ap-south-1",
  );
  assert.equal(
    (await resolveAwsSettings({
      ...env,
      AWS_DEFAULT_REGION: "ap-south-1",
      AWS_REGION: "sa-east-1",
    }))
      .region,
    "sa-east-1",
  );
  await rejectsWith(
    resolveAwsSettings({ ...env, AWS_REGION: "Not A Region" }),
    ConfigError,
    'Invalid AWS region "Not A Region": expected e.g. eu-west-1',
  );
});

Deno.test("endpoint: --endpoint, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL; any endpoint is path-style", async () => {
  await using dir = await tempDir();
  const env = await awsFiles(dir.path, { credentials: CREDENTIALS, config: CONFIG });
  const both = {
    ...env,
    AWS_ENDPOINT_URL: "http://127.0.0.1:1000",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:2000",
  };
  assert.equal((await resolveAwsSettings(both)).endpoint, "http://127.0.0.1:2000");
  assert.equal(
    (await resolveAwsSettings({ ...env, AWS_ENDPOINT_URL: "http://127.0.0.1:1000" })).endpoint,
    "http://127.0.0.1:1000",
  );
  const flag = await resolveAwsSettings(both, { endpoint: "https://s3.example.com/" });
  assert.equal(flag.endpoint, "https://s3.example.com");
  assert.equal(flag.pathStyle, true);
  // A profile that asks for virtual-hosted addressing gets it, endpoint or not.
  const virtual = await resolveAwsSettings({
    ...env,
    AWS_PROFILE: "virtual",
    AWS_ACCESS_KEY_ID: "A",
    AWS_SECRET_ACCESS_KEY: "B",
  });
  assert.equal(virtual.endpoint, "http://127.0.0.1:9000");
  assert.equal(virtual.pathStyle, false);
  await rejectsWith(
    resolveAwsSettings(env, { endpoint: "s3.example.com" }),
    ConfigError,
    'Invalid --endpoint "s3.example.com": expected an http or https URL such as https://s3.example.com',
  );
  await rejectsWith(
    resolveAwsSettings({ ...env, AWS_ENDPOINT_URL: "ftp://x" }),
    ConfigError,
    /^Invalid AWS_ENDPOINT_URL "ftp:\/\/x": expected an http or https URL/,
  );
});

Deno.test("no credentials anywhere is a configuration error naming where they go", async () => {
  await using dir = await tempDir();
  const env = { HOME: `${dir.path}/nowhere` };
  await rejectsWith(
    resolveAwsSettings(env),
    ConfigError,
    `No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or aws_access_key_id and aws_secret_access_key in profile "default" of ${dir.path}/nowhere/.aws/credentials`,
  );
  await rejectsWith(
    resolveAwsSettings({ ...env, AWS_ACCESS_KEY_ID: "AKID" }),
    ConfigError,
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (only AWS_ACCESS_KEY_ID is set)",
  );
});

Deno.test("a missing, a half and an SSO profile are refused with what to do", async () => {
  await using dir = await tempDir();
  const env = await awsFiles(dir.path, { credentials: CREDENTIALS, config: CONFIG });
  await rejectsWith(
    resolveAwsSettings({ ...env, AWS_PROFILE: "nope" }),
    ConfigError,
    `AWS profile "nope" (AWS_PROFILE) is in neither ${dir.path}/credentials nor ${dir.path}/config`,
  );
  await rejectsWith(
    resolveAwsSettings({ ...env, AWS_PROFILE: "half" }),
    ConfigError,
    `AWS profile "half" in ${dir.path}/config has aws_access_key_id without aws_secret_access_key`,
  );
  await rejectsWith(
    resolveAwsSettings({ ...env, AWS_PROFILE: "sso" }),
    ConfigError,
    /^AWS profile "sso" gets its keys through sso_session, which ms11-update does not support: export AWS_ACCESS_KEY_ID/,
  );
});

Deno.test("damaged or odd files are read defensively", async () => {
  await using dir = await tempDir();
  // Binary noise, a section without a closing bracket, keys outside any section.
  const env = await awsFiles(dir.path, {
    credentials:
      "\u0000\u0001garbage\n[default\naws_access_key_id = X\n= =\n[default]\naws_access_key_id=K\naws_secret_access_key=S\n",
    config: "region = nowhere\n[[[\n",
  });
  const settings = await resolveAwsSettings(env);
  assert.equal(settings.credentials.accessKeyId, "K");
  assert.equal(settings.credentials.secretAccessKey, "S");
  assert.equal(settings.region, "us-east-1");
  // A folder where a file should be reads as empty, as in the AWS SDK (whose loader this is).
  await Deno.mkdir(`${dir.path}/folder`);
  const folder = { ...env, AWS_SHARED_CREDENTIALS_FILE: `${dir.path}/folder` };
  await rejectsWith(resolveAwsSettings(folder), ConfigError, /^No AWS credentials: /);
  const fromEnv = await resolveAwsSettings({
    ...folder,
    AWS_ACCESS_KEY_ID: "A",
    AWS_SECRET_ACCESS_KEY: "B",
  });
  assert.equal(fromEnv.credentialsSource, "environment");
});

Deno.test("parseEndpoint keeps a path, drops final slashes and refuses credentials in the URL", () => {
  assert.equal(parseEndpoint("http://127.0.0.1:8080/", "x"), "http://127.0.0.1:8080");
  assert.equal(parseEndpoint("https://h.example/s3//", "x"), "https://h.example/s3");
  throwsWith(
    () => parseEndpoint("https://user:pw@h.example", "--endpoint"),
    ConfigError,
    /^Invalid --endpoint "https:\/\/user:pw@h\.example"/,
  );
  throwsWith(() => parseEndpoint("https://h.example/?a=1", "x"), ConfigError, /^Invalid x /);
});

Deno.test("the shared files' format: dotted profile names, CRLF, a BOM, odd keys stay plain data", async () => {
  const { parseAwsIni } = await import("../lib/publish/_aws_ini.ts");
  const text = "\uFEFF[profile a.b.c] ; comment\r\nregion = eu-west-3\r\n" +
    "[profile __proto__]\r\npolluted = yes\r\n[services x]\r\nk = v\r\n";
  const profiles = parseAwsIni(text, { config: true });
  assert.deepEqual(Object.keys(profiles), ["a.b.c", "__proto__"]);
  assert.equal(profiles["a.b.c"].region, "eu-west-3");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // In the credentials file every section is a profile, under its own name.
  assert.deepEqual(parseAwsIni("[profile x]\nk=v\n", { config: false }), {
    "profile x": { k: "v" },
  });
});
