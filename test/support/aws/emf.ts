// Powertools Metrics prints EMF JSON to stdout, as Lambda expects; tests read it there.
export interface EmfMetric {
  name: string;
  value: number;
  unit: string;
  dimensions: Record<string, string>;
}

export function captureEmf(): { metrics: EmfMetric[]; count(name: string, dims?: Record<string, string>): number; restore(): void } {
  const metrics: EmfMetric[] = [];
  const original = process.stdout.write;
  process.stdout.write = function (this: typeof process.stdout, chunk: unknown, ...rest: unknown[]) {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
    if (text?.includes('"_aws"')) {
      for (const line of text.split('\n').filter(Boolean)) metrics.push(...parse(JSON.parse(line)));
      return true;
    }
    return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  return {
    metrics,
    count: (name, dims = {}) =>
      metrics
        .filter((m) => m.name === name && Object.entries(dims).every(([k, v]) => m.dimensions[k] === v))
        .reduce((sum, m) => sum + m.value, 0),
    restore: () => void (process.stdout.write = original),
  };
}

interface EmfDoc {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
  [key: string]: unknown;
}

function parse(doc: EmfDoc): EmfMetric[] {
  return doc._aws.CloudWatchMetrics.flatMap((set) => {
    const dimensions = Object.fromEntries(set.Dimensions.flat().map((d) => [d, String(doc[d])]));
    return set.Metrics.map((m) => {
      // A metric added several times in one flush holds an array of values.
      const raw = doc[m.Name];
      const value = Array.isArray(raw) ? raw.reduce((sum: number, v) => sum + Number(v), 0) : Number(raw);
      return { name: m.Name, unit: m.Unit, value, dimensions: { namespace: set.Namespace, ...dimensions } };
    });
  });
}
