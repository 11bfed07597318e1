// A RangeReader over a local file: tests measure the container parsers through it, and
// file:// inputs use it. One open handle, positional reads, so concurrent reads do not race.
import { open, type FileHandle } from 'node:fs/promises';
import { VidfleetError } from '../../protocol/index.js';
import { clampRead, shortRead, throwIfAborted } from './read-range.js';
import type { RangeReader, RangeReadStats } from './range-reader.js';

export class FileRangeReader implements RangeReader {
  private bytesRead = 0;
  private requests = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly label: string,
  ) {}

  static async open(path: string): Promise<FileRangeReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new VidfleetError('INPUT_NOT_FOUND', `${path} does not exist.`, { cause: err });
      throw new VidfleetError('INPUT_UNREADABLE', `${path} could not be opened (${code ?? 'error'}).`, { cause: err, retryable: false });
    }
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new VidfleetError('INPUT_NOT_FOUND', `${path} is not a regular file.`);
    }
    return new FileRangeReader(handle, stat.size, path);
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    throwIfAborted(signal);
    const n = clampRead(this.label, this.size, offset, length);
    const buf = Buffer.alloc(n);
    let done = 0;
    while (done < n) {
      const { bytesRead } = await this.handle.read(buf, done, n - done, offset + done);
      if (bytesRead === 0) throw shortRead(this.label, offset, n, done);
      done += bytesRead;
    }
    this.requests++;
    this.bytesRead += n;
    return buf;
  }

  stats(): RangeReadStats {
    return { bytesRead: this.bytesRead, requests: this.requests };
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
