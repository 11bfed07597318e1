// The transcode shapes live in the protocol (the coordinator plans with them too); re-exported
// here so the media code names them locally.
export type {
  AudioReport,
  AudioSpec,
  ChunkCheck,
  ChunkPlan,
  ChunkReport,
  MergeCheck,
  MergeReport,
  RenditionSpec,
  ResolvedRendition,
  SourceFacts,
  TranscodePlan,
  VideoCodec,
} from '../../protocol/transcode.js';
