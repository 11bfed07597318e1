// The wire protocol: everything that crosses a process boundary. Every side imports this.
export * from './errors.js';
export * from './model.js';
export * from './api.js';
export * from './inputs.js';
export * from './capabilities.js';
export * from './kinds/index.js';
export * from './ffmpeg-args.js';
export * from './ffmpeg-graph.js';
export * from './transcode.js';
export * from './auth.js';
export * from './torrent-input.js';
