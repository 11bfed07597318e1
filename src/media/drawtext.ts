// Text on images with ffmpeg's drawtext: which font file to give it, and how to write any text
// (a file name with ':', '\'', '%', '\\', brackets…) into a filter graph so it comes out as it is.
//
// drawtext is given a font file rather than a fontconfig name: Debian's ffmpeg has fontconfig,
// but other builds do not, and an explicit path fails early and clearly. The file is found once
// per process: VIDFLEET_FONT, else the usual DejaVu/Liberation paths (Debian's fonts-dejavu-core,
// which scripts/ensure-ffmpeg.sh installs, gives /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf),
// else whatever `fc-match sans-serif` names.
import { access } from 'node:fs/promises';
import { runProcess } from './process.js';

const KNOWN_FONTS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', // Debian, Ubuntu
  '/usr/share/fonts/dejavu/DejaVuSans.ttf', // Alpine
  '/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf', // Fedora
  '/usr/share/fonts/TTF/DejaVuSans.ttf', // Arch
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf', // macOS
  '/Library/Fonts/Arial.ttf',
];

async function readable(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function fontconfigSans(): Promise<string | null> {
  try {
    const res = await runProcess('fc-match', ['--format=%{file}', 'sans-serif'], { timeoutMs: 10_000 });
    const file = res.stdout.trim();
    return res.exitCode === 0 && /\.(ttf|otf|ttc)$/i.test(file) && (await readable(file)) ? file : null;
  } catch {
    return null; // no fontconfig tools on this machine
  }
}

const found = new Map<string, Promise<string | null>>();

/** A TrueType/OpenType font drawtext can load, or null when this machine has none. */
export function findFont(): Promise<string | null> {
  const chosen = process.env.VIDFLEET_FONT ?? '';
  let pending = found.get(chosen);
  if (!pending) {
    pending = (async () => {
      if (chosen) return (await readable(chosen)) ? chosen : null;
      for (const path of KNOWN_FONTS) if (await readable(path)) return path;
      return fontconfigSans();
    })();
    found.set(chosen, pending);
  }
  return pending;
}

/** What to tell a person whose worker has no font. */
export const NO_FONT_HELP =
  'no font file was found for drawtext (install fonts-dejavu-core, e.g. `apt-get install -y fonts-dejavu-core`, or point VIDFLEET_FONT at a .ttf file)';

/**
 * A value for a filter option inside a filter graph. Two parsers read it: the graph's (which
 * splits on `,;[]` and takes `\` and `'` as escapes) and then the filter's options (which split
 * on `:` and `=`), so each level's specials are escaped, option level first.
 */
export function filterValue(value: string): string {
  const option = value.replace(/[\\':]/g, '\\$&');
  return option.replace(/[\\'[\],;]/g, '\\$&');
}

/** Control characters (a newline in a file name) would start new lines or draw boxes. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, '?').trim();
}

export interface TextSpec {
  text: string;
  /** Expressions drawtext evaluates: may use tw/th (text width/height). */
  x: string;
  y: string;
  size: number;
  color: string;
  /** Draws a box of this colour (with alpha, e.g. black@0.6) behind the text. */
  box?: string;
}

/** A drawtext filter that draws `text` literally (expansion off: '%{…}' in a name stays text). */
export function drawtextFilter(font: string, spec: TextSpec): string {
  const parts = [
    `fontfile=${filterValue(font)}`,
    'expansion=none',
    `text=${filterValue(printable(spec.text))}`,
    `fontsize=${spec.size}`,
    `fontcolor=${spec.color}`,
    `x=${spec.x}`,
    `y=${spec.y}`,
  ];
  if (spec.box) parts.push('box=1', `boxcolor=${spec.box}`, `boxborderw=${Math.max(2, Math.round(spec.size / 5))}`);
  return `drawtext=${parts.join(':')}`;
}

/** HH:MM:SS, or HH:MM:SS.mmm when `millis` (tiles closer together than a couple of seconds). */
export function clockTime(seconds: number, millis = false): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const whole = Math.floor(ms / 1000); // as players count: 45.8 s is still 00:00:45
  const hh = Math.floor(whole / 3600);
  const mm = Math.floor((whole % 3600) / 60);
  const ss = whole % 60;
  const base = `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}`;
  return millis ? `${base}.${String(ms % 1000).padStart(3, '0')}` : base;
}
