// A small WebVTT thumbnails-track reader for the sprite tests: cues with their times in
// milliseconds and the `file#xywh=x,y,w,h` each points at. Throws on anything malformed.

export interface ThumbnailCue {
  start: number;
  end: number;
  file: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

function millis(stamp: string): number {
  const m = /^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})$/.exec(stamp);
  if (!m) throw new Error(`bad WebVTT timestamp "${stamp}"`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

export function parseThumbnailVtt(text: string): ThumbnailCue[] {
  const blocks = text.replace(/\r\n/g, '\n').trim().split(/\n{2,}/);
  if (!/^WEBVTT( |\t|$)/.test(blocks[0] ?? '')) throw new Error('not a WebVTT file: the first line must be WEBVTT');
  return blocks.slice(1).map((block) => {
    const lines = block.split('\n');
    const timing = lines.findIndex((l) => l.includes('-->'));
    const [from, to] = (lines[timing] ?? '').split(/\s+-->\s+/);
    const payload = lines.slice(timing + 1);
    if (timing < 0 || payload.length !== 1) throw new Error(`bad cue: ${block}`);
    const ref = /^([^#\s]+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(payload[0] ?? '');
    if (!ref) throw new Error(`cue payload is not file#xywh=x,y,w,h: ${payload[0]}`);
    return { start: millis(from ?? ''), end: millis((to ?? '').split(/\s/)[0] ?? ''), file: ref[1]!, x: Number(ref[2]), y: Number(ref[3]), w: Number(ref[4]), h: Number(ref[5]) };
  });
}
