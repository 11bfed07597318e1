// The part of webtorrent 2.8.5 (plain JavaScript, no bundled types) that the torrent source uses,
// typed from its source (index.js, lib/torrent.js). Keep it to what is called: every member here
// is one the code relies on.
declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events';

  export interface WebTorrentOptions {
    dht?: false | Record<string, unknown>;
    /** false: no tracker client at all (no announces, not even to a .torrent's own trackers). */
    tracker?: false | Record<string, unknown>;
    lsd?: boolean;
    utPex?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    webSeeds?: boolean;
    utp?: boolean;
    torrentPort?: number;
    maxConns?: number;
  }

  export interface AddOptions {
    /** Directory of the fs chunk store (the torrent's files, under their torrent paths). */
    path?: string;
    /** Start with no piece selected (otherwise the whole torrent is downloaded). */
    deselect?: boolean;
    /** Pieces already held (BitTorrent bit order): only one piece per file is re-hashed at start. */
    bitfield?: Uint8Array;
    /** Tracker URLs, added to the torrent's own. */
    announce?: string[];
    /** In-memory LRU of pieces in front of the store; 0: none. */
    storeCacheSlots?: number;
  }

  export interface ChunkStore {
    get(index: number, opts: { offset?: number; length?: number } | null, cb: (err: Error | null, buf?: Uint8Array) => void): void;
  }

  export interface TorrentFileEntry {
    name: string;
    path: string;
    length: number;
    offset: number;
  }

  export interface BitField {
    get(index: number): boolean;
    readonly buffer: Uint8Array;
  }

  export interface Wire extends EventEmitter {
    peerAllowedFastSet: number[];
  }

  export interface Torrent extends EventEmitter {
    readonly infoHash: string;
    readonly name: string;
    readonly files: TorrentFileEntry[];
    readonly pieceLength: number;
    readonly lastPieceLength: number;
    readonly length: number;
    readonly pieces: unknown[];
    readonly bitfield: BitField;
    /** Encoded .torrent of the metadata (after 'metadata'). */
    readonly torrentFile: Uint8Array;
    readonly store: ChunkStore | null;
    /** Bytes received from peers (piece data and metadata), this session. */
    readonly received: number;
    readonly numPeers: number;
    readonly ready: boolean;
    readonly destroyed: boolean;
    announce: string[];
    addPeer(addr: string): boolean;
    select(from: number, to: number, priority?: number): void;
    deselect(from: number, to: number): void;
    destroy(cb?: (err?: Error | null) => void): void;
  }

  export default class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions);
    readonly destroyed: boolean;
    readonly torrentPort: number;
    add(torrentId: string | Uint8Array, opts?: AddOptions): Torrent;
    destroy(cb?: (err?: Error | null) => void): void;
  }
}
