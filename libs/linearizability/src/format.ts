/** Default one-line descriptions of operations and states. */
import { UNKNOWN } from './types';
import type { Model, Unknown } from './types';

/** JSON that survives bigints and cycles. */
export function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}

/** `model.describeOperation`, or `input -> output` as JSON. */
export function describeOperation<S, I, O>(model: Model<S, I, O>, input: I, output: O | Unknown): string {
  if (model.describeOperation) return model.describeOperation(input, output);
  return `${safeJson(input)} -> ${output === UNKNOWN ? '? (unknown)' : safeJson(output)}`;
}
