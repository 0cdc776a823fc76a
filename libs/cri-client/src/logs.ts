/**
 * The CRI container log format that runtimes write to ContainerConfig.log_path:
 * one line per record, `<RFC3339Nano time> <stdout|stderr> <P|F> <content>`,
 * where P marks a partial line continued by the next record and F a full one.
 */
export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  /** False for a partial record (tag P): the next record continues it. */
  full: boolean;
  content: string;
}

const CRI_LOG_LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) (stdout|stderr) ([PF]) (.*)$/;

/** Parse one line of a CRI log file; undefined when it is not in CRI format. */
export function parseCriLogLine(line: string): CriLogLine | undefined {
  const m = CRI_LOG_LINE.exec(line);
  if (!m) return undefined;
  return { time: m[1], stream: m[2] as 'stdout' | 'stderr', full: m[3] === 'F', content: m[4] };
}

/** Parse a whole CRI log file's text, joining partial records into full lines. */
export function parseCriLog(text: string): CriLogLine[] {
  const out: CriLogLine[] = [];
  let pending: Partial<Record<'stdout' | 'stderr', CriLogLine>> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const rec = parseCriLogLine(line);
    if (!rec) throw new Error(`not a CRI log line: ${JSON.stringify(line.slice(0, 200))}`);
    const prev = pending[rec.stream];
    const merged = prev ? { ...rec, time: prev.time, content: prev.content + rec.content } : rec;
    if (rec.full) {
      out.push(merged);
      pending = { ...pending, [rec.stream]: undefined };
    } else {
      pending = { ...pending, [rec.stream]: merged };
    }
  }
  for (const rec of Object.values(pending)) if (rec) out.push(rec);
  return out;
}
