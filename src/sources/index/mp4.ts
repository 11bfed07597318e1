// MP4/MOV: walk the top-level boxes by their headers (ftyp, free, mdat … are skipped by size,
// mdat is never read) until moov, read moov in one bounded read of its size, then find each
// requested time's sync sample in the video track's sample table, or hand over to the
// fragment index when the movie is fragmented (moov has mvex and the samples live in moofs).
import { VidfleetError } from '../../protocol/index.js';
import { annexB } from './codec-config.js';
import { FragmentIndex } from './fmp4.js';
import { corrupt, truncated, unsupported, type IndexSource } from './index-source.js';
import { loadBox, topLevelBox } from './mp4-boxes.js';
import { parseMoov, videoTrack, type Mp4Movie, type Mp4Track } from './mp4-moov.js';
import { SampleTable } from './mp4-samples.js';
import { atOrBefore } from './pick.js';
import type { KeyframeIndex, KeyframeSample } from './types.js';

async function findMoov(src: IndexSource): Promise<{ movie: Mp4Movie; moov: Buffer; afterMoov: number }> {
  let pos = 0;
  for (;;) {
    const box = await topLevelBox(src, pos);
    if (!box) throw corrupt(src.label, 'it has no moov box (the index of an MP4); a recording that was never finished, or not an MP4');
    if (box.type === 'moov') {
      const { buf, box: local } = await loadBox(src, box);
      try {
        return { movie: parseMoov(buf, local, src.label), moov: buf, afterMoov: box.end };
      } catch (err) {
        if (err instanceof VidfleetError) throw err;
        throw corrupt(src.label, `its moov box cannot be parsed (${(err as Error).message})`);
      }
    }
    if (box.type === 'moof') throw corrupt(src.label, 'a movie fragment (moof) comes before the moov box');
    if (box.end > src.size) {
      // The usual cut download of a phone recording: mdat first, moov never arrived.
      throw truncated(src.label, `"${box.type}" box at byte ${box.start} (no moov box before it)`, box.end, src.size);
    }
    pos = box.end;
  }
}

function pickTrack(src: IndexSource, movie: Mp4Movie): Mp4Track & { codec: NonNullable<Mp4Track['codec']> } {
  const track = videoTrack(movie);
  if (!track) throw new VidfleetError('NOT_A_VIDEO', `${src.label} has no video track.`);
  if (track.entry === 'encv') throw unsupported(src.label, 'the video track is encrypted (encv)', 'encrypted');
  if (!track.codec) throw unsupported(src.label, `its video codec is "${track.entry}", not H.264 or HEVC`, 'codec');
  return track as Mp4Track & { codec: NonNullable<Mp4Track['codec']> };
}

function fromSampleTable(src: IndexSource, table: SampleTable, track: Mp4Track, times: readonly number[]): KeyframeSample[] {
  const offset = track.edit ? table.editOffset(track.edit.media, track.edit.duration, track.edit.empty) : 0;
  const sync = table
    .syncSamples(offset)
    .map((s) => ({ sample: s.sample, time: s.pts / track.timescale }))
    .sort((a, b) => a.time - b.time);
  if (!sync.length) throw corrupt(src.label, `video track ${track.trackId} has no samples`);
  return times.map((t) => {
    const chosen = sync[atOrBefore(sync, t)]!;
    const { offset, size } = table.location(chosen.sample);
    if (offset + size > src.size) throw truncated(src.label, `keyframe at ${chosen.time.toFixed(3)} s`, offset + size, src.size);
    return { requestedTime: t, time: chosen.time, offset, size };
  });
}

export async function locateMp4(src: IndexSource, times: readonly number[]): Promise<Omit<KeyframeIndex, 'indexBytes'>> {
  const { movie, moov, afterMoov } = await findMoov(src);
  const track = pickTrack(src, movie);
  const common = {
    codec: track.codec,
    width: track.width,
    height: track.height,
    timescale: track.timescale,
    trackId: track.trackId,
    rotation: track.rotation,
    color: track.color,
    sampleAspect: track.sampleAspect,
    parameterSets: annexB(track.config?.nals ?? []),
    nalLengthSize: track.config?.nalLengthSize ?? 0,
  };
  const table = track.stbl ? new SampleTable(moov, track.stbl, src.label) : null;
  // Fragmented: the samples live in moofs. (A moov holding some samples plus fragments is
  // allowed by the spec but no muxer we know writes it; its moov samples are used alone.)
  if (movie.mvex && (table?.sampleCount ?? 0) === 0) {
    const frags = new FragmentIndex(src, movie, track, afterMoov);
    const keyframes: KeyframeSample[] = [];
    for (const t of times) keyframes.push(await frags.keyframeAt(t));
    return { container: 'fmp4', ...common, duration: frags.duration(), keyframes };
  }
  if (!table) throw corrupt(src.label, `video track ${track.trackId} has no sample table`);
  const duration = track.duration ? track.duration / track.timescale : movie.duration ? movie.duration / movie.timescale : null;
  return { container: 'mp4', ...common, duration, keyframes: fromSampleTable(src, table, track, times) };
}
