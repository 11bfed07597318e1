// Fragmented MP4 (moov + moof/mdat pairs): keyframes are found fragment by fragment. A sidx
// gives each fragment's byte range and start time without reading it, so only the moof of the
// fragment holding a requested time is read. Without sidx the top-level boxes are walked by
// their headers (mdat is skipped by its size, never read), each moof read once, and the walk
// stops at the first fragment that starts after the last requested time.
// Times are tfdt + durations + composition offset - edit shift. ffmpeg 5.1 instead takes a
// sidx's earliest presentation time as the first sample's *decode* time when a sidx is present
// (a FIXME in its mov.c); ffmpeg's own muxer writes them equal, so both agree on its files
// (tested), but on other DASH files with B-frames ffprobe's times are later by the first
// composition offset than the ones here.
import { loadBox, topLevelBox, type BoxHeader } from './mp4-boxes.js';
import { parseMoof, parseSidx, type FragSample } from './fmp4-boxes.js';
import { corrupt, truncated, type IndexSource } from './index-source.js';
import type { Mp4Movie, Mp4Track } from './mp4-moov.js';
import { atOrBefore } from './pick.js';
import type { KeyframeSample } from './types.js';

/**
 * Read-ahead with a top-level header while walking: one request then also holds a typical moof
 * (a 2 s video fragment at 25 fps has a ~250-byte trun; with an audio traf ~900 bytes).
 */
const HEADER_READ_AHEAD = 1024;

interface Fragment {
  /** Where the fragment's boxes begin (its moof, or a styp before it). */
  offset: number;
  end: number;
  /** Presentation time (media ticks, edit shift applied): exact once parsed, from sidx before. */
  start: number;
  keys?: Array<{ time: number; offset: number; size: number }>;
}

export class FragmentIndex {
  private readonly fragments: Fragment[] = [];
  private walkPos: number;
  private lastDts: number | null = null;
  private sidxSpan = 0;

  constructor(
    private readonly src: IndexSource,
    private readonly movie: Mp4Movie,
    private readonly track: Mp4Track,
    afterMoov: number,
  ) {
    this.walkPos = afterMoov;
  }

  /**
   * The container's duration in seconds: mehd, else the track's mdhd, else what a whole-file
   * sidx spans; null otherwise (empty_moov without sidx: only walking every moof would tell).
   */
  duration(): number | null {
    const frag = this.movie.mvex?.fragmentDuration;
    if (frag) return frag / this.movie.timescale;
    if (this.track.duration) return this.track.duration / this.track.timescale;
    return this.sidxSpan ? this.sidxSpan / this.track.timescale : null;
  }

  async keyframeAt(t: number): Promise<KeyframeSample> {
    const ticks = t * this.track.timescale;
    while (this.walkPos < this.src.size && (this.fragments.length === 0 || this.fragments[this.fragments.length - 1]!.start <= ticks)) await this.step();
    const starts = this.fragments.map((f) => ({ time: f.start }));
    for (let i = atOrBefore(starts, ticks); i >= 0; i--) {
      const keys = await this.keysOf(this.fragments[i]!);
      const k = atOrBefore(keys, t);
      if (k >= 0 && keys[k]!.time <= t + 1e-9) return { requestedTime: t, ...keys[k]! };
    }
    // Before the first keyframe: the first keyframe there is.
    for (let i = 0; ; i++) {
      while (i >= this.fragments.length && this.walkPos < this.src.size) await this.step();
      const frag = this.fragments[i];
      if (!frag) throw corrupt(this.src.label, `no keyframe in any fragment of video track ${this.track.trackId}`);
      const keys = await this.keysOf(frag);
      if (keys[0]) return { requestedTime: t, ...keys[0] };
    }
  }

  /** Reads the next top-level box header of the walk and whatever it indexes. */
  private async step(): Promise<void> {
    const box = await topLevelBox(this.src, this.walkPos, HEADER_READ_AHEAD);
    if (!box) return void (this.walkPos = this.src.size);
    if (box.end > this.src.size) {
      if (box.type !== 'mdat') throw truncated(this.src.label, `"${box.type}" box`, box.end, this.src.size);
      // A cut last mdat: its samples that made it are still usable.
      return void (this.walkPos = this.src.size);
    }
    this.walkPos = box.end;
    if (box.type === 'sidx') await this.addSidx(box);
    else if (box.type === 'moof') await this.addMoof(box, box.start, box.end);
  }

  private async addSidx(box: BoxHeader): Promise<void> {
    const { buf, box: local } = await loadBox(this.src, box, 0);
    const sidx = parseSidx(buf, local, box.start);
    if (sidx.referenceId !== this.track.trackId || sidx.refs.some((r) => r.nested) || !sidx.refs.length) return;
    const scale = this.track.timescale / (sidx.timescale || this.track.timescale);
    for (const ref of sidx.refs) {
      if (ref.offset < this.walkPos) continue; // already walked
      this.fragments.push({ offset: ref.offset, end: ref.offset + ref.size, start: ref.time * scale - this.track.timeOffset });
    }
    const last = sidx.refs[sidx.refs.length - 1]!;
    // A sidx over several fragments indexes the whole file (global_sidx, DASH on-demand); one
    // per fragment (ffmpeg's dash flag) says nothing about the rest.
    if (sidx.refs.length > 1) this.sidxSpan = Math.max(this.sidxSpan, (last.time + last.duration) * scale - this.track.timeOffset);
    this.walkPos = Math.max(this.walkPos, last.offset + last.size);
  }

  private async addMoof(box: BoxHeader, offset: number, end: number, into?: Fragment): Promise<void> {
    // +16: the mdat header that follows comes with the same request.
    const { buf, box: local } = await loadBox(this.src, box, box.end - box.start + 16);
    // Without tfdt, decode time carries on from the previous moof walked, or (a fragment reached
    // through sidx) starts at the sidx time, as ffmpeg does.
    const startDts = into ? Math.round(into.start + this.track.timeOffset) : this.lastDts;
    const parsed = parseMoof(buf, local, box.start, this.track.trackId, this.movie.mvex?.trex.get(this.track.trackId), startDts, this.src.label);
    if (!parsed) return;
    if (!into) this.lastDts = parsed.endDts;
    const keys = parsed.samples.filter((s: FragSample) => s.key).map((s) => this.keyOf(s));
    keys.sort((a, b) => a.time - b.time);
    if (into) return void (into.keys = keys);
    if (!parsed.samples.length) return;
    const start = Math.min(...parsed.samples.map((s) => s.pts)) - this.track.timeOffset;
    this.fragments.push({ offset, end, start, keys });
  }

  private keyOf(s: FragSample): { time: number; offset: number; size: number } {
    if (s.offset + s.size > this.src.size) throw truncated(this.src.label, 'keyframe sample', s.offset + s.size, this.src.size);
    return { time: (s.pts - this.track.timeOffset) / this.track.timescale, offset: s.offset, size: s.size };
  }

  /** A fragment's keyframes, reading its moof if only a sidx has described it so far. */
  private async keysOf(frag: Fragment): Promise<Array<{ time: number; offset: number; size: number }>> {
    let pos = frag.offset;
    while (!frag.keys && pos < frag.end) {
      const box = await topLevelBox(this.src, pos, HEADER_READ_AHEAD);
      if (!box) break;
      if (box.type === 'moof') await this.addMoof(box, frag.offset, frag.end, frag);
      pos = box.end;
    }
    frag.keys ??= [];
    return frag.keys;
  }
}
