// Filtergraphs inside raw ffmpeg arguments (-vf, -af, -filter_complex, -f lavfi -i …). A few
// filters open files, load plugin libraries or listen on sockets; their arguments are free text
// we cannot map to logical paths, so they are refused. Everything else may run, but its
// arguments still go through the same text scan as any option value (no absolute paths, no "..",
// no protocol URLs), and ffmpeg runs in the attempt's private output directory, so a filter that
// writes a relative file name (vidstabdetect, psnr stats_file, …) can only write there.

export interface GraphFilter {
  name: string;
  args: string | null;
}

/** Filters vidfleet refuses in raw ffmpeg commands, with why. */
export const REFUSED_FILTERS: Readonly<Record<string, string>> = (() => {
  const table: Record<string, string> = {};
  const opensFiles = 'opens a file named in its arguments, which vidfleet cannot map or vet';
  for (const f of ['movie', 'amovie']) table[f] = `${opensFiles}; give the file as another -i input and combine the streams with -filter_complex`;
  for (const f of ['subtitles', 'ass', 'lut1d', 'lut3d', 'sendcmd', 'asendcmd', 'removelogo', 'cover_rect', 'find_rect', 'ocr', 'lensfun', 'libvmaf', 'sofalizer', 'openclsrc', 'program_opencl', 'coreimage', 'coreimagesrc', 'dnn_processing', 'dnn_detect', 'dnn_classify', 'sr', 'derain', 'arnndn']) {
    table[f] = opensFiles;
  }
  for (const f of ['frei0r', 'frei0r_src', 'ladspa', 'lv2']) table[f] = "loads a plugin library from the worker's disk";
  for (const f of ['zmq', 'azmq']) table[f] = 'listens on a network socket for commands';
  return table;
})();

/**
 * Splits a filtergraph into its filters (name and raw argument text), following ffmpeg's own
 * grammar: chains split at ";", filters at ",", link labels in [brackets], arguments ending at an
 * unquoted "[", "," or ";", quotes '…' and backslash escapes protecting everything.
 */
export function filtersOf(graph: string): GraphFilter[] {
  const filters: GraphFilter[] = [];
  let i = 0;
  const n = graph.length;
  const skipSpace = (): void => {
    while (i < n && /\s/.test(graph[i]!)) i++;
  };
  const skipLabels = (): void => {
    skipSpace();
    while (graph[i] === '[') {
      const close = graph.indexOf(']', i);
      i = close === -1 ? n : close + 1;
      skipSpace();
    }
  };
  while (i < n) {
    skipLabels();
    let name = '';
    while (i < n && !/[=,;[\s]/.test(graph[i]!)) name += graph[i++];
    skipSpace();
    let args: string | null = null;
    if (graph[i] === '=') {
      i++;
      args = '';
      let quoted = false;
      while (i < n) {
        const c = graph[i]!;
        if (c === '\\' && i + 1 < n) {
          args += c + graph[i + 1];
          i += 2;
          continue;
        }
        if (c === "'") quoted = !quoted;
        else if (!quoted && (c === '[' || c === ',' || c === ';')) break;
        args += c;
        i++;
      }
    }
    skipLabels();
    if (name) filters.push({ name: name.replace(/@.*$/, ''), args });
    if (graph[i] === ',' || graph[i] === ';') i++;
    else if (i < n && !name) i++; // a stray character: step over it rather than loop forever
  }
  return filters;
}
