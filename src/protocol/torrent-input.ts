// Torrent inputs a job may name, parsed once so the coordinator (validation at submit) and the
// worker (the torrent source) agree on what they mean:
//   magnet:?xt=urn:btih:<40 hex | 32 base32>&dn=…&tr=…&x.pe=host:port
//   <40 hex> or <32 base32>          a bare BitTorrent v1 info-hash
//   the bytes of a .torrent file      (an upload)
// Pure: no I/O and nothing from the rest of src/ (node:crypto only, for the SHA-1 that is the
// info-hash of a .torrent).
import { createHash } from 'node:crypto';
import { VidfleetError } from './errors.js';

export interface TorrentRef {
  /** How the torrent was named; a 'torrent-file' carries its metadata, the others need a peer's. */
  source: 'magnet' | 'info-hash' | 'torrent-file';
  /** BitTorrent v1 info-hash, 40 lowercase hex. */
  infoHash: string;
  /** The name the magnet (dn) or the .torrent (info.name) gives, when it does. */
  name?: string;
  /** Tracker URLs the magnet (tr) or .torrent (announce, announce-list) lists; used only when enabled. */
  trackers: string[];
  /** Peer addresses (host:port) the magnet lists in x.pe (BEP 9). */
  peers: string[];
  /** The .torrent bytes (source 'torrent-file' only). */
  torrentFile?: Uint8Array;
}

const HEX40 = /^[0-9a-fA-F]{40}$/;
const BASE32_32 = /^[A-Za-z2-7]{32}$/;
/** .torrent files are metadata: a 1 TB torrent with 16 KiB pieces has ~1.3 GB of hashes, which no job uploads; 64 MiB is plenty. */
export const MAX_TORRENT_FILE_BYTES = 64 * 1024 * 1024;

/** True when a string looks like a torrent input (so inputs.ts can route it here). */
export function isTorrentInputString(input: string): boolean {
  const s = input.trim();
  return /^magnet:\?/i.test(s) || HEX40.test(s) || BASE32_32.test(s);
}

export function parseTorrentInput(input: string | Uint8Array): TorrentRef {
  if (typeof input !== 'string') return parseTorrentFile(input);
  const s = input.trim();
  if (s.length === 0) throw invalid('The torrent input is empty; give a magnet URI, a 40-character hex info-hash or a .torrent file.');
  if (/^magnet:/i.test(s)) return parseMagnet(s);
  const hash = infoHashFrom(s);
  if (hash) return { source: 'info-hash', infoHash: hash, trackers: [], peers: [] };
  throw invalid(
    `"${clip(s)}" is not a torrent input: an info-hash is 40 hex characters (or 32 base32), ` +
      'a magnet URI starts with "magnet:?xt=urn:btih:", or upload the .torrent file.',
  );
}

/** 40 hex or 32 base32 → 40 lowercase hex; anything else → null. */
export function infoHashFrom(text: string): string | null {
  if (HEX40.test(text)) return text.toLowerCase();
  if (BASE32_32.test(text)) return base32ToHex(text.toUpperCase());
  return null;
}

function parseMagnet(uri: string): TorrentRef {
  if (!/^magnet:\?/i.test(uri)) throw invalid(`"${clip(uri)}" is not a magnet URI (it must start with "magnet:?").`);
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(uri.slice(uri.indexOf('?') + 1));
  } catch {
    throw invalid(`"${clip(uri)}" is not a valid magnet URI.`);
  }
  const xts = params.getAll('xt');
  const btih = xts.find((xt) => /^urn:btih:/i.test(xt));
  if (!btih) {
    const v2 = xts.some((xt) => /^urn:btmh:/i.test(xt));
    throw invalid(
      v2
        ? `The magnet URI has only a BitTorrent v2 hash (urn:btmh); vidfleet needs a v1 info-hash (xt=urn:btih:…).`
        : `The magnet URI has no info-hash: it needs xt=urn:btih:<40 hex characters> (got ${xts.length ? xts.map(clip).join(', ') : 'no xt'}).`,
    );
  }
  const raw = btih.slice('urn:btih:'.length);
  const infoHash = infoHashFrom(raw);
  if (!infoHash) throw invalid(`The magnet URI's info-hash "${clip(raw)}" is not 40 hex or 32 base32 characters.`);
  const peers = params.getAll('x.pe').filter(isHostPort);
  const trackers = params.getAll('tr').filter((t) => /^(udp|https?|wss?):\/\//i.test(t));
  const name = params.get('dn') ?? undefined;
  return { source: 'magnet', infoHash, trackers: unique(trackers), peers: unique(peers), ...(name ? { name } : {}) };
}

function parseTorrentFile(bytes: Uint8Array): TorrentRef {
  if (bytes.length === 0) throw invalid('The .torrent file is empty.');
  if (bytes.length > MAX_TORRENT_FILE_BYTES) throw invalid(`The .torrent file is ${bytes.length} bytes; the limit is ${MAX_TORRENT_FILE_BYTES}.`);
  let root: Bencoded;
  let infoSpan: [number, number] | undefined;
  try {
    const decoder = new BDecoder(bytes);
    root = decoder.decodeRoot();
    infoSpan = decoder.infoSpan;
  } catch (err) {
    throw invalid(`The upload is not a .torrent file (bencoding: ${(err as Error).message}).`);
  }
  if (!(root instanceof Map)) throw invalid('The .torrent file is not a bencoded dictionary.');
  const info = root.get('info');
  if (!(info instanceof Map) || !infoSpan) throw invalid('The .torrent file has no "info" dictionary.');
  const name = text(info.get('name'));
  const pieceLength = info.get('piece length');
  const pieces = info.get('pieces');
  if (!name) throw invalid('The .torrent file has no name (info.name).');
  if (typeof pieceLength !== 'number' || pieceLength <= 0) throw invalid('The .torrent file has no valid piece length.');
  if (!(pieces instanceof Uint8Array) || pieces.length === 0 || pieces.length % 20 !== 0) {
    throw invalid(info.has('meta version') ? 'The .torrent is BitTorrent v2 only; vidfleet reads v1 (or hybrid) torrents.' : 'The .torrent file has no valid piece hashes (info.pieces).');
  }
  const files = info.get('files');
  const length = info.get('length');
  const total = Array.isArray(files)
    ? files.reduce<number>((sum, f) => sum + (f instanceof Map && typeof f.get('length') === 'number' ? (f.get('length') as number) : NaN), 0)
    : typeof length === 'number'
      ? length
      : NaN;
  if (!Number.isFinite(total) || total < 0) throw invalid('The .torrent file lists no valid file lengths.');
  if (Math.ceil(total / pieceLength) !== pieces.length / 20) {
    throw invalid(`The .torrent file is inconsistent: ${total} bytes in ${pieceLength}-byte pieces need ${Math.ceil(total / pieceLength)} hashes, it has ${pieces.length / 20}.`);
  }
  const infoHash = createHash('sha1').update(bytes.subarray(infoSpan[0], infoSpan[1])).digest('hex');
  const trackers: string[] = [];
  const announce = text(root.get('announce'));
  if (announce) trackers.push(announce);
  const list = root.get('announce-list');
  if (Array.isArray(list)) for (const tier of list) if (Array.isArray(tier)) for (const t of tier) if (text(t)) trackers.push(text(t)!);
  return { source: 'torrent-file', infoHash, name, trackers: unique(trackers), peers: [], torrentFile: bytes };
}

// --- a minimal bencode reader: enough to validate a .torrent and find the raw info dict ---

type Bencoded = number | Uint8Array | Bencoded[] | Map<string, Bencoded>;

class BDecoder {
  private pos = 0;
  /** Byte span of the top-level "info" value: its SHA-1 is the info-hash. */
  infoSpan: [number, number] | undefined;
  constructor(private readonly buf: Uint8Array) {}

  decodeRoot(): Bencoded {
    const value = this.decode(0);
    if (this.pos !== this.buf.length) throw new Error(`${this.buf.length - this.pos} trailing bytes`);
    return value;
  }

  private decode(depth: number): Bencoded {
    if (depth > 64) throw new Error('nested too deep');
    const c = this.buf[this.pos];
    if (c === undefined) throw new Error('unexpected end');
    if (c === 0x69 /* i */) {
      const end = this.indexOf(0x65 /* e */, this.pos + 1);
      const digits = this.ascii(this.pos + 1, end);
      if (!/^(0|-?[1-9]\d*)$/.test(digits)) throw new Error(`bad integer "${digits.slice(0, 20)}"`);
      this.pos = end + 1;
      return Number(digits);
    }
    if (c === 0x6c /* l */) {
      this.pos++;
      const list: Bencoded[] = [];
      while (this.buf[this.pos] !== 0x65) list.push(this.decode(depth + 1));
      this.pos++;
      return list;
    }
    if (c === 0x64 /* d */) {
      this.pos++;
      const dict = new Map<string, Bencoded>();
      while (this.buf[this.pos] !== 0x65) {
        if (this.buf[this.pos] === undefined) throw new Error('unexpected end');
        const key = new TextDecoder().decode(this.bytes());
        const start = this.pos;
        dict.set(key, this.decode(depth + 1));
        if (depth === 0 && key === 'info') this.infoSpan = [start, this.pos];
      }
      this.pos++;
      return dict;
    }
    if (c >= 0x30 && c <= 0x39) return this.bytes();
    throw new Error(`unexpected byte 0x${c.toString(16)} at ${this.pos}`);
  }

  private bytes(): Uint8Array {
    const colon = this.indexOf(0x3a /* : */, this.pos);
    const digits = this.ascii(this.pos, colon);
    if (!/^\d+$/.test(digits)) throw new Error('bad string length');
    const len = Number(digits);
    const start = colon + 1;
    if (start + len > this.buf.length) throw new Error('string past the end');
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }

  private indexOf(byte: number, from: number): number {
    const i = this.buf.indexOf(byte, from);
    if (i < 0 || i - from > 32) throw new Error('unexpected end');
    return i;
  }

  private ascii(start: number, end: number): string {
    return String.fromCharCode(...this.buf.subarray(start, end));
  }
}

function text(v: Bencoded | undefined): string | undefined {
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined;
}

function base32ToHex(s: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of s) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  let hex = '';
  for (let i = 0; i + 4 <= bits.length; i += 4) hex += parseInt(bits.slice(i, i + 4), 2).toString(16);
  return hex;
}

function isHostPort(s: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(s);
  return !!m && Number(m[2]) > 0 && Number(m[2]) < 65536;
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

function invalid(message: string): VidfleetError {
  return new VidfleetError('INVALID_INPUT', message);
}
