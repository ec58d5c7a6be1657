// A release repository that misbehaves on purpose: every file it serves is set by the test, so
// it can re-sign with an attacker's key, replay old signed manifests, serve another channel's
// manifest, cut a file short or stream forever. Runs on HostileServer (raw loopback TCP).
import {
  readSigningKey,
  signDocument,
  type SigningKey,
  writeKeyPair,
} from "../lib/publish/signing.ts";
import { type HostileReply, type HostileRequest, HostileServer } from "./_hostile_server.ts";

/** What one path serves: bytes, or a whole hostile reply. */
export type Served = Uint8Array | HostileReply;

/** The fields of a manifest document, before it is signed. */
export type ManifestDoc = Record<string, unknown>;

/** A signed publication as the repository serves it. */
export interface Publication {
  /** The document. */
  doc: ManifestDoc;
  /** Its exact bytes. */
  bytes: Uint8Array;
  /** The signature file's bytes. */
  signature: Uint8Array;
}

/** Options of {@linkcode MaliciousRepo.publish}. */
export interface PublishOptions {
  /** Channel (default stable). */
  channel?: string;
  /** Version (default 1.1.0). */
  version: string;
  /** Serial. */
  serial: number;
  /** Artifact bytes (default: a script printing the version). */
  artifact?: Uint8Array;
  /** Artifact kind (default executable). */
  kind?: string;
  /** Platform key (default: this machine's). */
  platform: string;
  /** Expiry (default 30 days after `now`). */
  expires?: string;
  /** The time of publication. */
  now: Date;
  /** Keys that sign (default: none). */
  signers: SigningKey[];
  /** Change the document before it is signed. */
  edit?: (doc: ManifestDoc) => void;
  /** Serve the artifact (default true). */
  serveArtifact?: boolean;
  /**
   * Also serve the signature file under its manifest-addressed name,
   * `signatures/<sha256 of the manifest>.sig`, as `ms11-update publish` writes it (default false).
   */
  addressed?: boolean;
}

/** Make a signing key in `dir` (named `name`). */
export async function makeKey(dir: string, name: string): Promise<SigningKey> {
  const written = await writeKeyPair(dir, { name });
  return await readSigningKey(written.privatePath);
}

/** The malicious repository. */
export class MaliciousRepo {
  #files = new Map<string, Served>();
  #server: HostileServer;
  #outage: number | null = null;

  constructor() {
    this.#server = new HostileServer((request) => {
      if (this.#outage !== null) {
        return { status: this.#outage, body: new TextEncoder().encode("outage") };
      }
      const served = this.#files.get(request.path);
      if (served === undefined) return { status: 404, body: new TextEncoder().encode("no") };
      return served instanceof Uint8Array ? { body: served } : served;
    });
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return this.#server.url;
  }

  /** The requests received so far. */
  get requests(): readonly HostileRequest[] {
    return this.#server.requests;
  }

  /** Serve `served` at `path` (e.g. `/stable/manifest.json`). */
  set(path: string, served: Served): void {
    this.#files.set(path, served);
  }

  /** Answer every request with HTTP `status` (e.g. 503), or serve the files again (null). */
  outage(status: number | null): void {
    this.#outage = status;
  }

  /** Stop serving `path` (404). */
  remove(path: string): void {
    this.#files.delete(path);
  }

  /** Body bytes written in reply to requests for `path`. */
  bytesSentFor(path: string): number {
    return this.#server.requests.filter((r) => r.path === path).reduce(
      (sum, r) => sum + r.bytesSent,
      0,
    );
  }

  /** Build, sign and serve a manifest (and its artifact); returns what is served. */
  async publish(options: PublishOptions): Promise<Publication> {
    const channel = options.channel ?? "stable";
    const artifact = options.artifact ??
      new TextEncoder().encode(`#!/bin/sh\necho "MS11 ${options.version}"\n`);
    const kind = options.kind ?? "executable";
    const name = kind === "executable" ? "ms11" : `ms11.${kind}`;
    const sha256 = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", artifact as BufferSource)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const doc: ManifestDoc = {
      schema: 1,
      channel,
      version: options.version,
      serial: options.serial,
      released_at: options.now.toISOString(),
      expires: options.expires ??
        new Date(options.now.getTime() + 30 * 86400_000).toISOString(),
      notes: null,
      artifacts: {
        [options.platform]: {
          url: `${options.version}/${name}`,
          size: artifact.length,
          sha256,
          kind,
        },
      },
    };
    options.edit?.(doc);
    const bytes = new TextEncoder().encode(JSON.stringify(doc, null, 2) + "\n");
    const signature = new TextEncoder().encode(await signDocument(bytes, options.signers));
    this.set(`/${channel}/manifest.json`, bytes);
    this.set(`/${channel}/manifest.json.sig`, signature);
    if (options.addressed) {
      const digest = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      this.set(`/${channel}/signatures/${digest}.sig`, signature);
    }
    if (options.serveArtifact !== false) {
      this.set(`/${channel}/${options.version}/${name}`, artifact);
    }
    return { doc, bytes, signature };
  }

  /** Serve an earlier publication again (a replay). */
  replay(publication: Publication, channel = "stable"): void {
    this.set(`/${channel}/manifest.json`, publication.bytes);
    this.set(`/${channel}/manifest.json.sig`, publication.signature);
  }

  /** Stop the server. */
  async close(): Promise<void> {
    await this.#server.close();
  }
}
