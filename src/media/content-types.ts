// Content types for files a job writes, guessed from the extension (what browsers and players
// look at when an artifact is downloaded or an HLS/DASH folder is served as it is).
import { extname } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.m4s': 'video/iso.segment', '.m4a': 'audio/mp4', '.mov': 'video/quicktime', '.mkv': 'video/x-matroska',
  '.mka': 'audio/x-matroska', '.webm': 'video/webm', '.ts': 'video/mp2t', '.m2ts': 'video/mp2t', '.avi': 'video/x-msvideo', '.flv': 'video/x-flv',
  '.ogv': 'video/ogg', '.nut': 'video/x-nut', '.y4m': 'video/x-yuv4mpeg', '.m3u8': 'application/vnd.apple.mpegurl', '.mpd': 'application/dash+xml',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif', '.bmp': 'image/bmp', '.avif': 'image/avif',
  '.aac': 'audio/aac', '.mp3': 'audio/mpeg', '.wav': 'audio/wav', '.flac': 'audio/flac', '.ogg': 'audio/ogg', '.oga': 'audio/ogg', '.opus': 'audio/ogg',
  '.ac3': 'audio/ac3', '.json': 'application/json', '.txt': 'text/plain; charset=utf-8', '.log': 'text/plain; charset=utf-8', '.csv': 'text/csv',
  '.xml': 'application/xml', '.srt': 'application/x-subrip', '.vtt': 'text/vtt', '.ass': 'text/x-ssa', '.ssa': 'text/x-ssa', '.trf': 'text/plain; charset=utf-8',
};

export function contentTypeFor(name: string): string {
  return TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}
