// The audio of a rendition, encoded once for the whole duration rather than per chunk: AAC and
// Opus frames do not line up with video chunk edges, and every joined piece would add encoder
// priming and a click. Its t = 0 is the first video frame's, so the merge just copies it in.
import { stat } from 'node:fs/promises';
import { VidfleetError } from '../../protocol/index.js';
import { ffmpegInputArg, PROTOCOL_WHITELIST } from '../process.js';
import { audioArgs, audioSampleRate } from './encode-args.js';
import { runEncode } from './encode-chunk.js';
import type { AudioReport, AudioSpec, SourceFacts } from './types.js';

export interface EncodeAudioRequest {
  input: string;
  facts: SourceFacts;
  audio: AudioSpec;
  out: string;
  signal?: AbortSignal;
  onProgress?: (fraction: number, fps?: number, speed?: number) => void;
  onLog?: (line: string) => void;
}

export async function encodeAudio(req: EncodeAudioRequest): Promise<AudioReport> {
  const src = req.facts.audio;
  if (!src) throw new VidfleetError('INVALID_PARAMS', `${req.input} has no audio stream, so there is no audio task to run.`);
  const { codec, bitrateKbps, channels } = req.audio;
  if (codec !== 'aac' && codec !== 'opus') throw new VidfleetError('INVALID_PARAMS', `audio.codec must be aac or opus (got ${String(codec)}).`);
  if (!(Number.isInteger(bitrateKbps) && bitrateKbps >= 6 && bitrateKbps <= 512)) throw new VidfleetError('INVALID_PARAMS', `audio.bitrateKbps must be 6-512 (got ${String(bitrateKbps)}).`);
  if (!(Number.isInteger(channels) && channels >= 1 && channels <= 8)) throw new VidfleetError('INVALID_PARAMS', `audio.channels must be 1-8 (got ${String(channels)}).`);

  const offset = src.start - req.facts.videoStart;
  const how = Math.abs(offset) < 1e-6 ? 'starts with the video' : offset > 0 ? `starts ${(offset * 1000).toFixed(1)} ms after the video: padded with silence` : `starts ${(-offset * 1000).toFixed(1)} ms before the video: trimmed`;
  const why = src.isDefault ? 'flagged default' : 'the first; none is flagged default';
  const which = src.count > 1 ? `stream #${src.index} of ${src.count} audio streams (${why})` : `stream #${src.index}, the only one`;
  const note = `audio: ${which}, ${src.codec} ${src.channels} ch ${src.sampleRate} Hz; it ${how}`;
  req.onLog?.(note);

  const sampleRate = audioSampleRate(req.facts, req.audio);
  const args = audioArgs({ inputArg: ffmpegInputArg(req.input), facts: req.facts, audio: req.audio, out: req.out, protocolWhitelist: PROTOCOL_WHITELIST });
  const started = performance.now();
  await runEncode(args, { input: req.input, action: 'could not encode the audio of', duration: req.facts.duration, signal: req.signal, onProgress: req.onProgress, onLog: req.onLog });
  return {
    path: req.out,
    stream: src.index,
    note,
    codec,
    sampleRate,
    channels,
    duration: req.facts.duration,
    offset,
    bytes: (await stat(req.out)).size,
    encodeSeconds: (performance.now() - started) / 1000,
  };
}
