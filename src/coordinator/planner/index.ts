// Graph expanders by task kind: how a completed task grows its job's graph. The store runs them
// inside the completing transaction (src/store/graph.ts).
import type { GraphExpanders } from '../../store/graph.js';
import { transcodeGraph } from './transcode.js';

export const GRAPH_EXPANDERS: GraphExpanders = {
  'transcode.plan': transcodeGraph,
};
