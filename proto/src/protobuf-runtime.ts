// The protobufjs runtime every generated file imports (proto/tools/generate.js
// rewrites their `protobufjs/minimal` import to this module).
//
// Hardening: on Node, protobufjs reads from Buffers with BufferReader, whose
// string() clamps a length prefix that runs past the end of the message
// instead of failing, so a truncated message would decode "successfully"
// with a cut string. Bad input must be refused: this makes string() check
// bounds exactly as bytes() does.
import _m0 from 'protobufjs/minimal';

type BufferReaderLike = _m0.BufferReader & { buf: Buffer; pos: number; len: number };

_m0.BufferReader.prototype.string = function readStringChecked(this: BufferReaderLike): string {
  const length = this.uint32();
  const start = this.pos;
  const end = start + length;
  if (end > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
  this.pos = end;
  return this.buf.toString('utf8', start, end);
};

export default _m0;
