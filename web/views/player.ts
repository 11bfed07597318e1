// Plays a transcode's HLS package with hls.js, straight from the coordinator's artifact routes.
// hls.js (600 KB) is loaded only when the player is opened, as the ES module the coordinator
// serves from node_modules. With keys, each playlist and segment request is signed in
// xhrSetup (hls.js waits for the promise it returns before it sends).
import { authHeaders, artifactPath } from '../api.js';
import { errorBox, fill, h } from '../dom.js';
import { loadCredentials } from '../signing.js';

type HlsModule = typeof import('hls.js');
type Hls = InstanceType<HlsModule['default']>;

const HLS_MODULE = '/ui/vendor/hls.min.mjs';
const HLS_WORKER = '/ui/vendor/hls.worker.js';

export class PlayerView {
  private readonly body = h('div', { class: 'player', id: 'player' });
  private readonly openButton = h('button', { type: 'button', id: 'open-player', class: 'primary' }, '▶ Play HLS');
  readonly root = h('section', { class: 'card wide' }, h('h2', null, 'Player'), this.body);
  private hls: Hls | null = null;
  private video: HTMLVideoElement | null = null;
  private timer: number | undefined;

  constructor(
    private readonly jobId: string,
    private readonly master: string,
  ) {
    fill(this.body, h('p', { class: 'muted' }, 'HLS package ', h('code', null, master)), this.openButton);
    this.openButton.addEventListener('click', () => void this.open().catch((err: unknown) => this.body.append(errorBox(err))));
  }

  private async open(): Promise<void> {
    this.openButton.disabled = true;
    const src = artifactPath(this.jobId, this.master);
    const video = h('video', { controls: true, muted: true, playsinline: true, preload: 'auto' });
    video.muted = true; // the attribute alone does not mute a video created by script
    const levels = h('select', { 'aria-label': 'Rendition', id: 'player-level' }, h('option', { value: '-1' }, 'auto'));
    const status = h('p', { class: 'muted small', id: 'player-status' }, 'loading hls.js…');
    fill(this.body, video, h('div', { class: 'player-bar' }, h('label', null, 'Rendition ', levels), status));
    this.video = video;

    const { default: HlsClass } = (await import(HLS_MODULE)) as HlsModule;
    const signed = loadCredentials() !== null;
    if (!HlsClass.isSupported()) {
      // Safari and iOS play HLS natively (unsigned requests only: a <video> cannot sign).
      if (!signed && video.canPlayType('application/vnd.apple.mpegurl')) {
        video.src = src;
        void video.play().catch(() => undefined);
        return;
      }
      status.textContent = 'This browser has no Media Source Extensions: download the MP4 renditions instead.';
      return;
    }
    const hls = new HlsClass({
      workerPath: HLS_WORKER,
      ...(signed && {
        xhrSetup: async (xhr: XMLHttpRequest, url: string) => {
          const headers = await authHeaders('GET', url);
          xhr.open('GET', url, true);
          for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
        },
      }),
    });
    this.hls = hls;
    const errors: string[] = [];
    hls.on(HlsClass.Events.ERROR, (_e, data) => {
      errors.push(`${data.details}${data.fatal ? ' (fatal)' : ''}`);
      if (data.fatal) status.textContent = `playback error: ${errors.slice(-3).join(', ')}`;
    });
    hls.on(HlsClass.Events.MANIFEST_PARSED, (_e, data) => {
      for (const [i, level] of data.levels.entries()) levels.append(h('option', { value: i }, `${level.height}p${level.bitrate ? ` · ${Math.round(level.bitrate / 1000)} kb/s` : ''}`));
      void video.play().catch((err: unknown) => {
        status.textContent = `press play (${err instanceof Error ? err.message : String(err)})`;
      });
    });
    levels.addEventListener('change', () => {
      hls.currentLevel = Number(levels.value);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    this.timer = window.setInterval(() => {
      const level = hls.levels[hls.currentLevel];
      const size = video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '';
      status.textContent = `${video.paused ? 'paused' : 'playing'} · ${video.currentTime.toFixed(1)} s${level ? ` · ${level.height}p` : ''}${size ? ` · ${size}` : ''}${errors.length ? ` · ${errors.length} error(s)` : ''}`;
    }, 500);
  }

  destroy(): void {
    window.clearInterval(this.timer);
    this.hls?.destroy();
    this.hls = null;
    if (this.video) {
      this.video.removeAttribute('src');
      this.video.load();
    }
  }
}
