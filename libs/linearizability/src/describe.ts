/** Human-readable explanations of check results. */
import { UNKNOWN } from './types';
import type { CheckResult, Counterexample, DescribedOperation, Operation, Timestamp } from './types';

export interface DescribeOptions {
  /** Show at most this many operations of the longest prefix (its end). Default 20. */
  maxPrefix?: number;
  /** Print times relative to this one (same clock as the history). Default: raw times. */
  origin?: Timestamp;
}

/**
 * Explain a result in a few lines: for `illegal`, the partition (key), the end
 * of the longest linearizable prefix and the operations that could not be
 * linearized after it; for `unknown`, which partitions were not decided.
 */
export function describeFailure<S, I, O>(result: CheckResult<S, I, O>, options: DescribeOptions = {}): string {
  const summary = `${result.operations} operations in ${result.partitions.length} partition(s), ${result.elapsedMs.toFixed(1)} ms`;
  if (result.verdict === 'ok') return `Linearizable: ${summary}.`;

  const lines: string[] = [];
  if (result.verdict === 'unknown') {
    const undecided = result.partitions.filter((p) => p.verdict === 'unknown').map((p) => p.label);
    lines.push(`UNKNOWN (not a pass): the check timed out before deciding ${undecided.join(', ')}; ${summary}.`);
    return lines.join('\n');
  }

  const failed = result.partitions.filter((p) => p.verdict === 'illegal');
  lines.push(`NOT linearizable: ${failed.map((p) => p.label).join(', ')}; ${summary}.`);
  if (result.timedOut) {
    const undecided = result.partitions.filter((p) => p.verdict === 'unknown').map((p) => p.label);
    lines.push(`(The timeout also left ${undecided.join(', ')} undecided.)`);
  }
  const skipped = result.partitions.filter((p) => p.verdict === 'skipped').length;
  if (skipped > 0) lines.push(`(${skipped} partition(s) skipped after the first failure.)`);
  if (result.counterexample) lines.push('', describeCounterexample(result.counterexample, options));
  return lines.join('\n');
}

/** The explanation of one illegal partition. */
export function describeCounterexample<S, I, O>(cx: Counterexample<S, I, O>, options: DescribeOptions = {}): string {
  const maxPrefix = options.maxPrefix ?? 20;
  const line = (d: DescribedOperation<I, O>): string => formatOperation(d, options.origin);
  const lines: string[] = [];
  lines.push(`In ${cx.label} (${cx.operations} operations):`);
  if (cx.prefix.length === 0) {
    lines.push('  No operation can be linearized first.');
  } else {
    lines.push(`  Longest linearizable prefix found: ${cx.prefix.length} operation(s), in linearization order:`);
    const shown = cx.prefix.slice(Math.max(0, cx.prefix.length - maxPrefix));
    if (shown.length < cx.prefix.length) lines.push(`    ... ${cx.prefix.length - shown.length} earlier operation(s) not shown`);
    const first = cx.prefix.length - shown.length;
    shown.forEach((step, k) => lines.push(`    ${String(first + k + 1).padStart(4)}. ${line(step)}  => ${step.stateDescription}`));
  }
  lines.push(`  State after the prefix: ${cx.stateDescription}`);
  lines.push(`  None of these operations can be linearized next:`);
  for (const s of cx.stuck) {
    const why = s.acceptedByModel ? 'fits this state, but every continuation fails' : 'its output contradicts this state';
    lines.push(`    - ${line(s)}  (${why})`);
  }
  lines.push(`  ${line(cx.blocking)} had to take effect before it returned, and cannot.`);
  return lines.join('\n');
}

/** `client 3: put("a", "1") -> ok  [call 10, return 20]` */
export function formatOperation<I, O>(d: DescribedOperation<I, O>, origin?: Timestamp): string {
  const op: Operation<I, O> = d.operation;
  const returned = op.output === UNKNOWN || op.return === Infinity ? 'never returned' : `return ${formatTime(op.return, origin)}`;
  return `client ${String(op.clientId)}: ${d.description}  [call ${formatTime(op.call, origin)}, ${returned}]`;
}

function formatTime(t: Timestamp, origin: Timestamp | undefined): string {
  if (origin === undefined) return String(t);
  const diff = typeof t === 'bigint' && typeof origin === 'bigint' ? t - origin : Number(t) - Number(origin);
  return diff >= 0 ? `+${String(diff)}` : String(diff);
}

/** Throw an Error carrying `describeFailure(result)` unless the result is a proved pass. */
export function assertLinearizable<S, I, O>(result: CheckResult<S, I, O>, options: DescribeOptions = {}): void {
  if (!result.ok) throw new Error(describeFailure(result, options));
}
