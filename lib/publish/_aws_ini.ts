// Private to lib/publish/aws_config.ts: the AWS shared files (`~/.aws/credentials`,
// `~/.aws/config`) in the format the AWS CLI and SDKs read — `[name]` sections (in the config
// file `[profile name]`, and `[default]`), `key = value` lines, `#` and `;` comment lines, and
// indented `key = value` lines under a `parent =` line as the sub-properties `parent.key`.
//
// Hand-written on purpose: the SDK's loader (`@smithy/shared-ini-file-loader`) is CommonJS that
// requires Node built-ins, which makes every bundle of the CLI load Node's module system at
// start-up (the launcher's `apply` with it); `npm:ini` splits section names on dots, which AWS
// profile names may contain. The format is small and documented (AWS CLI "Configuration and
// credential file settings").

/**
 * The profiles of one AWS shared file: profile name → its settings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AwsProfiles } from "./_aws_ini.ts";
 * const profiles: AwsProfiles = { default: { region: "eu-west-1" } };
 * assert.equal(profiles.default.region, "eu-west-1");
 * ```
 */
export type AwsProfiles = Record<string, Record<string, string>>;

/**
 * Parse an AWS shared file. In the config file (`config: true`) only `[default]` and
 * `[profile name]` sections are profiles (`[sso-session …]`, `[services …]` and the like are
 * skipped); in the credentials file every section is. Lines outside a section, and lines that
 * are neither a section, a setting nor a comment, are ignored, as the AWS CLI ignores them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAwsIni } from "./_aws_ini.ts";
 * const text = [
 *   "[default]", "region = us-east-1", "",
 *   "# a comment", "[profile swift.local]", "aws_access_key_id = test:tester",
 *   "s3 =", "  endpoint_url = http://127.0.0.1:8080", "  addressing_style = path",
 *   "[sso-session corp]", "sso_region = us-east-1",
 * ].join("\n");
 * assert.deepEqual(parseAwsIni(text, { config: true }), {
 *   default: { region: "us-east-1" },
 *   "swift.local": {
 *     aws_access_key_id: "test:tester",
 *     s3: "",
 *     "s3.endpoint_url": "http://127.0.0.1:8080",
 *     "s3.addressing_style": "path",
 *   },
 * });
 * assert.deepEqual(Object.keys(parseAwsIni("[a.b]\nk=v", { config: false })), ["a.b"]);
 * ```
 */
export function parseAwsIni(text: string, options: { config: boolean }): AwsProfiles {
  const profiles = new Map<string, Map<string, string>>();
  let section: Map<string, string> | null = null;
  let parent: string | null = null;
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    if (/^\s*([#;]|$)/.test(raw)) continue;
    const head = /^\s*\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$/.exec(raw);
    if (head) {
      parent = null;
      const name = profileName(head[1], options.config);
      section = name === null ? null : profiles.get(name) ?? new Map();
      if (name !== null) profiles.set(name, section!);
      continue;
    }
    const setting = /^(\s*)([^=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(raw);
    if (section === null || setting === null) continue;
    const [, indent, key, value] = setting;
    if (indent !== "" && parent !== null) {
      section.set(`${parent}.${key}`, value);
    } else {
      section.set(key, value);
      parent = value === "" ? key : null;
    }
  }
  // Plain objects made with own data properties: a `__proto__` key is a key like any other.
  return Object.fromEntries([...profiles].map(([name, s]) => [name, Object.fromEntries(s)]));
}

function profileName(header: string, config: boolean): string | null {
  if (!config) return header;
  if (header === "default") return "default";
  const named = /^profile\s+(\S.*)$/.exec(header);
  return named ? named[1] : null;
}
