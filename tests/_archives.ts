// Test helper: build real archives, hostile ones included, with Python's tarfile and zipfile
// (which write any name, type or link target as given) and with the Debian tar and zip CLIs.

/** One entry of a tar archive built by {@linkcode makeTarGz}. */
export type TarEntry =
  | { type: "file"; name: string; data?: string; mode?: number }
  | { type: "dir"; name: string; mode?: number }
  | { type: "symlink" | "hardlink"; name: string; target: string }
  | { type: "fifo" | "chr" | "blk"; name: string }
  | {
    /** A hand-made ustar header (and body), for malformed headers. */
    type: "raw";
    name: string;
    typeflag: string;
    data?: string;
    /** Text of the 12-byte size field (default: octal length of data). */
    sizeField?: string;
    /** Link target field. */
    linkname?: string;
    /** Store a wrong checksum. */
    badChecksum?: boolean;
  };

/** How {@linkcode makeTarGz} lays out the archive. */
export interface TarOptions {
  /** Header format (default "pax"). */
  format?: "pax" | "gnu" | "ustar";
  /** Leave out the end-of-archive blocks. */
  noEnd?: boolean;
  /** Bytes of zeros appended after the tar data, inside the gzip stream. */
  trailer?: number;
  /** Keep only this many bytes of the tar data (before gzip). */
  truncateTar?: number;
  /** Keep only this many bytes of the .tar.gz file. */
  truncateGz?: number;
  /** Do not gzip (write a plain tar). */
  plain?: boolean;
}

/** One entry of a zip archive built by {@linkcode makeZip}. */
export interface ZipEntry {
  name: string;
  data?: string;
  /** Full st_mode stored in the upper 16 bits of the external attributes (e.g. 0o100755). */
  mode?: number;
  /** Store this uncompressed size in both headers instead of the real one (a lie). */
  declaredSize?: number;
  /** Store as made on MS-DOS (no Unix attributes, only the directory or archive bit). */
  dos?: boolean;
  /**
   * The name's bytes as stored, in both headers (the same UTF-8 length as `name`): for names
   * Python's zipfile will not write, such as one with a NUL in it (it cuts them there).
   */
  storedName?: string;
}

const PYTHON = String.raw`
import gzip, io, json, struct, sys, tarfile, zipfile

spec = json.load(open(sys.argv[1]))
out = sys.argv[2]

def raw_header(e):
    data = e.get("data", "").encode()
    block = bytearray(512)
    name = e["name"].encode()
    block[0:len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    size = e.get("sizeField", "%011o" % len(data)).encode()
    block[124:124 + len(size)] = size
    block[136:148] = b"00000000000\0"
    block[156:157] = e["typeflag"].encode()
    link = e.get("linkname", "").encode()
    block[157:157 + len(link)] = link
    block[257:265] = b"ustar\x0000"
    block[148:156] = b"        "
    checksum = sum(block) + (1 if e.get("badChecksum") else 0)
    block[148:156] = ("%06o\0 " % checksum).encode()
    padding = (512 - len(data) % 512) % 512
    return bytes(block) + data + b"\0" * padding

def make_tar():
    formats = {"pax": tarfile.PAX_FORMAT, "gnu": tarfile.GNU_FORMAT, "ustar": tarfile.USTAR_FORMAT}
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=formats[spec.get("format", "pax")])
    for e in spec["entries"]:
        t = e["type"]
        if t == "raw":
            raw = raw_header(e)
            tf.fileobj.write(raw)
            tf.offset += len(raw)
            continue
        info = tarfile.TarInfo(e["name"])
        info.mtime = 1700000000
        data = b""
        if t == "file":
            data = e.get("data", "").encode()
            info.size = len(data)
            info.mode = e.get("mode", 0o644)
        elif t == "dir":
            info.type = tarfile.DIRTYPE
            info.mode = e.get("mode", 0o755)
        elif t == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = e["target"]
            info.mode = 0o777
        elif t == "hardlink":
            info.type = tarfile.LNKTYPE
            info.linkname = e["target"]
        elif t in ("fifo", "chr", "blk"):
            info.type = {"fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}[t]
            info.devmajor, info.devminor = 1, 3
        tf.addfile(info, io.BytesIO(data) if data else None)
    if spec.get("noEnd"):
        tf.closed = True
    else:
        tf.close()
    raw = buf.getvalue() + b"\0" * spec.get("trailer", 0)
    if "truncateTar" in spec:
        raw = raw[: spec["truncateTar"]]
    result = raw if spec.get("plain") else gzip.compress(raw)
    if "truncateGz" in spec:
        result = result[: spec["truncateGz"]]
    open(out, "wb").write(result)

def make_zip():
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for e in spec["entries"]:
            info = zipfile.ZipInfo(e["name"], date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if e.get("dos"):
                info.create_system = 0
                # directory bit, or the archive bit (0 would make Python store 0600)
                info.external_attr = 0x10 if e["name"].endswith("/") else 0x20
            else:
                info.create_system = 3
                default = 0o40755 if e["name"].endswith("/") else 0o100644
                info.external_attr = e.get("mode", default) << 16
            zf.writestr(info, e.get("data", ""))
    data = bytearray(open(out, "rb").read())
    cd = struct.unpack_from("<I", data, len(data) - 22 + 16)[0]
    for e in spec["entries"]:
        name = e["name"].encode()
        at = cd
        while data[at:at + 4] == b"PK\x01\x02":
            n, m, k = struct.unpack_from("<HHH", data, at + 28)
            if data[at + 46:at + 46 + n] == name and "declaredSize" in e:
                local = struct.unpack_from("<I", data, at + 42)[0]
                struct.pack_into("<I", data, at + 24, e["declaredSize"])
                struct.pack_into("<I", data, local + 22, e["declaredSize"])
            if data[at + 46:at + 46 + n] == name and "storedName" in e:
                stored = e["storedName"].encode()
                assert len(stored) == n
                local = struct.unpack_from("<I", data, at + 42)[0]
                data[at + 46:at + 46 + n] = stored
                data[local + 30:local + 30 + n] = stored
            at += 46 + n + m + k
    open(out, "wb").write(data)

make_tar() if spec["kind"] == "tar" else make_zip()
`;

/** Run a command, failing with its stderr when it fails. */
export async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const result = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!result.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
}

/** Debian's python3 when present: the pyenv shim on PATH takes ~0.5 s to start. */
const PYTHON_BIN = await Deno.stat("/usr/bin/python3").then(
  () => "/usr/bin/python3",
  () => "python3",
);

async function python(spec: unknown, out: string): Promise<string> {
  const specFile = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(specFile, JSON.stringify(spec));
    await run(PYTHON_BIN, ["-c", PYTHON, specFile, out]);
  } finally {
    await Deno.remove(specFile);
  }
  return out;
}

/** Write a .tar.gz (or plain tar) with exactly these entries to `out`; returns `out`. */
export function makeTarGz(
  out: string,
  entries: TarEntry[],
  options: TarOptions = {},
): Promise<string> {
  return python({ kind: "tar", entries, ...options }, out);
}

/** Write a .zip with exactly these entries to `out`; returns `out`. */
export function makeZip(out: string, entries: ZipEntry[]): Promise<string> {
  return python({ kind: "zip", entries }, out);
}

/** Whether a path exists (a dangling symlink counts). */
export { exists } from "../lib/core/fs.ts";
