// Scraping a coordinator's /metrics as Prometheus would, through a real text-format parser.
//
// parse-prometheus-text-format folds a histogram into one sample per family and keeps it only
// when the histogram has no labels besides `le` (its flattenMetrics), so labelled histograms come
// back empty. The text is therefore parsed twice: as served, for each family's TYPE and HELP, and
// with histograms declared untyped, which makes the same parser return every _bucket, _sum and
// _count line as a sample with all its labels.
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';

export class Scrape {
  private readonly families: Map<string, ParsedFamily>;
  /** Samples by series name (a histogram's are under name_bucket, name_sum, name_count). */
  private readonly series = new Map<string, ParsedSample[]>();

  constructor(readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    for (const f of parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'))) {
      this.series.set(f.name, [...(this.series.get(f.name) ?? []), ...f.metrics]);
    }
  }

  family(name: string): ParsedFamily {
    const family = this.families.get(name);
    if (!family) throw new Error(`/metrics has no ${name}; it has ${[...this.families.keys()].join(', ')}`);
    return family;
  }

  /** Samples of a series whose labels include `labels`. */
  samples(name: string, labels: Record<string, string> = {}): ParsedSample[] {
    if (!this.series.has(name)) this.family(name); // throws, naming what there is
    return (this.series.get(name) ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  /** A counter's or gauge's value for exactly one matching sample; 0 when none matches (a counter not yet incremented). */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.samples(name, labels);
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
    return found.length === 0 ? 0 : Number(found[0]!.value);
  }

  /** A histogram's observation count, summed over the matching label sets; 0 when none matches. */
  count(name: string, labels: Record<string, string> = {}): number {
    if (this.family(name).type !== 'HISTOGRAM') throw new Error(`${name} is a ${this.family(name).type}, not a histogram`);
    return (this.series.get(`${name}_count`) ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((n, m) => n + Number(m.value), 0);
  }

  /** Every label set of a histogram (from its _count series). */
  histogramLabels(name: string): Record<string, string>[] {
    return (this.series.get(`${name}_count`) ?? []).map((m) => m.labels ?? {});
  }
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}: ${await response.text()}`);
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain; version=0.0.4')) throw new Error(`/metrics content-type is ${type}`);
  return new Scrape(await response.text());
}
