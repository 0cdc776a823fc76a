/** A single read/write register. */
import { UNKNOWN } from '../types';
import type { Model, Operation, Unknown } from '../types';
import { hashString } from '../hash';

export type RegisterValue = string | number | null;
export type RegisterInput = { op: 'put'; value: RegisterValue } | { op: 'get' };
/** `put` answers `{ ok: true }`, `get` answers `{ value }`. */
export type RegisterOutput = { ok: true } | { value: RegisterValue };
export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

function show(value: RegisterValue): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/** A register model starting at `initial` (default `null`). Values are compared with `===`. */
export function createRegisterModel(initial: RegisterValue = null): Model<RegisterValue, RegisterInput, RegisterOutput> {
  return {
    init: () => initial,
    step(state: RegisterValue, input: RegisterInput, output: RegisterOutput | Unknown): [boolean, RegisterValue] {
      if (input.op === 'put') {
        if (output !== UNKNOWN && !('ok' in output && output.ok === true)) {
          throw new TypeError(`register put output must be { ok: true } or UNKNOWN, got ${JSON.stringify(output)}`);
        }
        return [true, input.value];
      }
      if (input.op === 'get') {
        if (output === UNKNOWN) return [true, state];
        if (!('value' in output)) throw new TypeError(`register get output must be { value } or UNKNOWN, got ${JSON.stringify(output)}`);
        return [output.value === state, state];
      }
      throw new TypeError(`unknown register operation ${JSON.stringify(input)}`);
    },
    equal: (a, b) => a === b,
    hash: (s) => hashString(`${typeof s}:${String(s)}`),
    describeOperation(input, output) {
      const result = output === UNKNOWN ? '? (no response)' : 'value' in output ? show(output.value) : 'ok';
      return input.op === 'put' ? `put(${show(input.value)}) -> ${result}` : `get() -> ${result}`;
    },
    describeState: show,
  };
}

/** A register starting at `null`: `put(v) -> ok`, `get() -> v`. */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = createRegisterModel(null);
