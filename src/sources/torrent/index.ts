// The torrent source: range readers over a file inside a torrent that fetch only the pieces
// each read covers, with resume across sessions (same dataDir) and attempts (resume data).
export { openTorrent, type OpenTorrentOptions, type TorrentSession, type TorrentSessionStats } from './session.js';
export { pickFile, isVideoPath, VIDEO_EXTENSIONS, type TorrentMetadata, type TorrentFileInfo } from './metadata.js';
export { sliceRange, filePieceSpan, pieceSize, type PieceGeometry, type PieceSlice } from './pieces.js';
export { encodePieceSet, decodePieceSet, parseResumeData, type TorrentResumeData } from './resume.js';
export { parseTorrentInput, type TorrentRef } from '../../protocol/index.js';
