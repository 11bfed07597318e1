// A track's sample table (stbl) → its sync samples with presentation times, and the byte range
// of any one sample. Tables are read in place from the moov buffer (a two-hour film has ~1 MB
// of stsz; nothing is copied), and only sync samples get times: stts/ctts are run-length, so one
// pass over them is O(samples) with no per-sample allocation.
//   stts  (§8.6.1.2) runs of (count, delta)        → decode times
//   ctts  (§8.6.1.3) runs of (count, offset)       → presentation = decode + offset (v1: signed)
//   stss  (§8.6.2)   1-based sync sample numbers   (absent: every sample is sync)
//   stsc  (§8.7.4)   runs of (first_chunk, samples_per_chunk, description)
//   stsz / stz2 (§8.7.3) sample sizes; stco / co64 (§8.7.5) chunk offsets
import { childBoxes, fullBox, u64, type BoxHeader } from './mp4-boxes.js';
import { corrupt } from './index-source.js';

export interface SyncSample {
  /** 0-based sample number. */
  sample: number;
  /** Presentation time in media ticks (edit shift applied). */
  pts: number;
}

export class SampleTable {
  private readonly boxes = new Map<string, { at: number; version: number; end: number }>();

  constructor(
    private readonly buf: Buffer,
    stbl: BoxHeader,
    private readonly label: string,
  ) {
    for (const box of childBoxes(buf, stbl.start + stbl.headerSize, stbl.end, label)) {
      if (['stts', 'ctts', 'stss', 'stsc', 'stsz', 'stz2', 'stco', 'co64'].includes(box.type)) {
        const { version, body } = fullBox(buf, box);
        this.boxes.set(box.type, { at: body, version, end: box.end });
      }
    }
    for (const need of ['stts', 'stsc']) if (!this.boxes.has(need)) throw corrupt(label, `the video sample table has no ${need} box`);
    if (!this.boxes.has('stsz') && !this.boxes.has('stz2')) throw corrupt(label, 'the video sample table has no stsz box');
    if (!this.boxes.has('stco') && !this.boxes.has('co64')) throw corrupt(label, 'the video sample table has no stco box');
  }

  /** Entry count of a table, checked against the box size so a bad count cannot read past it. */
  private entries(type: string, entrySize: number, headerBytes = 4): { at: number; count: number; version: number } {
    const box = this.boxes.get(type)!;
    const count = this.buf.readUInt32BE(box.at + headerBytes - 4);
    if (box.at + headerBytes + count * entrySize > box.end) throw corrupt(this.label, `${type} lists ${count} entries but is too short for them`);
    return { at: box.at + headerBytes, count, version: box.version };
  }

  get sampleCount(): number {
    if (this.boxes.has('stsz')) return this.buf.readUInt32BE(this.boxes.get('stsz')!.at + 4);
    return this.buf.readUInt32BE(this.boxes.get('stz2')!.at + 4);
  }

  sampleSize(n: number): number {
    const stsz = this.boxes.get('stsz');
    if (stsz) {
      const fixed = this.buf.readUInt32BE(stsz.at);
      if (fixed) return fixed;
      const { at, count } = this.entries('stsz', 4, 8);
      if (n >= count) throw corrupt(this.label, `sample ${n + 1} is beyond stsz`);
      return this.buf.readUInt32BE(at + 4 * n);
    }
    const stz2 = this.boxes.get('stz2')!;
    const field = this.buf[stz2.at + 3]!;
    const at = stz2.at + 8;
    if (field === 16) return this.buf.readUInt16BE(at + 2 * n);
    if (field === 8) return this.buf[at + n]!;
    const byte = this.buf[at + (n >> 1)]!;
    return n % 2 === 0 ? byte >> 4 : byte & 15;
  }

  private chunkOffset(chunk: number): number {
    if (this.boxes.has('stco')) {
      const { at, count } = this.entries('stco', 4);
      if (chunk >= count) throw corrupt(this.label, `chunk ${chunk + 1} is beyond stco`);
      return this.buf.readUInt32BE(at + 4 * chunk);
    }
    const { at, count } = this.entries('co64', 8);
    if (chunk >= count) throw corrupt(this.label, `chunk ${chunk + 1} is beyond co64`);
    return u64(this.buf, at + 8 * chunk);
  }

  /** Byte range of sample n (0-based): its chunk from stsc, then the sizes before it in that chunk. */
  location(n: number): { offset: number; size: number } {
    const { at, count } = this.entries('stsc', 12);
    let first = 0;
    for (let e = 0; e < count; e++) {
      const chunk = this.buf.readUInt32BE(at + 12 * e) - 1;
      const perChunk = this.buf.readUInt32BE(at + 12 * e + 4);
      const nextChunk = e + 1 < count ? this.buf.readUInt32BE(at + 12 * (e + 1)) - 1 : Infinity;
      if (perChunk === 0) continue;
      const runSamples = (nextChunk - chunk) * perChunk;
      if (n < first + runSamples) {
        const inRun = n - first;
        const c = chunk + Math.floor(inRun / perChunk);
        let offset = this.chunkOffset(c);
        for (let s = n - (inRun % perChunk); s < n; s++) offset += this.sampleSize(s);
        return { offset, size: this.sampleSize(n) };
      }
      first += runSamples;
    }
    throw corrupt(this.label, `sample ${n + 1} is in no chunk of stsc`);
  }

  /** Calls `visit` with each sample's number, decode time and composition offset, in decode order. */
  private eachSample(visit: (sample: number, dts: number, cto: number) => void): void {
    const total = this.sampleCount;
    const stts = this.entries('stts', 8);
    const ctts = this.boxes.has('ctts') ? this.entries('ctts', 8) : null;
    let sttsRun = 0;
    let sttsLeft = stts.count ? this.buf.readUInt32BE(stts.at) : 0;
    let cttsRun = 0;
    let cttsLeft = ctts?.count ? this.buf.readUInt32BE(ctts.at) : 0;
    let dts = 0;
    for (let s = 0; s < total; s++) {
      while (sttsLeft === 0 && sttsRun + 1 < stts.count) sttsLeft = this.buf.readUInt32BE(stts.at + 8 * ++sttsRun);
      while (ctts && cttsLeft === 0 && cttsRun + 1 < ctts.count) cttsLeft = this.buf.readUInt32BE(ctts.at + 8 * ++cttsRun);
      // Signed in both versions, as ffmpeg reads it (some v0 writers store negative offsets).
      const cto = ctts && cttsLeft > 0 ? this.buf.readInt32BE(ctts.at + 8 * cttsRun + 4) : 0;
      visit(s, dts, cto);
      if (stts.count) dts += this.buf.readUInt32BE(stts.at + 8 * sttsRun + 4);
      if (sttsLeft > 0) sttsLeft--;
      if (cttsLeft > 0) cttsLeft--;
    }
  }

  /**
   * What ffmpeg's mov demuxer (advanced edit lists, mov_fix_index) subtracts from dts + cto to
   * get a packet's pts, for an edit starting at media time `media` lasting `duration` ticks
   * (0: to the end) after `empty` ticks of empty edit: it restamps decode times so the first
   * sample inside the edit (decode order, F) is decoded at `empty`, then moves everything
   * earlier again when the smallest pts inside the edit would still be above `empty`. Net:
   * max(dts(F), min pts in the edit) - empty. Corpus file 06 (iPhone, media_time 273 at 600
   * ticks/s, frames on a 20-tick grid) shows why the plain "media_time - empty" is 7 ticks off.
   */
  editOffset(media: number, duration: number, empty: number): number {
    const end = duration > 0 ? media + duration : Infinity;
    let firstDts: number | null = null;
    let minPts = Infinity;
    this.eachSample((_, dts, cto) => {
      const pts = dts + cto;
      if (pts < media || pts >= end) return;
      firstDts ??= dts;
      minPts = Math.min(minPts, pts);
    });
    return firstDts === null ? media - empty : Math.max(firstDts, minPts) - empty;
  }

  /** Sync samples in decode order with their presentation times (ticks, minus `timeOffset`). */
  syncSamples(timeOffset: number): SyncSample[] {
    let sync: Uint32Array | null = null;
    if (this.boxes.has('stss')) {
      const { at, count } = this.entries('stss', 4);
      sync = new Uint32Array(count);
      for (let i = 0; i < count; i++) sync[i] = this.buf.readUInt32BE(at + 4 * i) - 1;
      sync.sort();
    }
    const out: SyncSample[] = [];
    let next = 0;
    this.eachSample((s, dts, cto) => {
      while (sync && next < sync.length && sync[next]! < s) next++;
      if (sync === null || sync[next] === s) out.push({ sample: s, pts: dts + cto - timeOffset });
    });
    return out;
  }
}
