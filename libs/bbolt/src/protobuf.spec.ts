import { asInt64, decodeMessage, encodeMessage, toUint64, varintSize, writeVarint } from './protobuf';

const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

function varint(v: bigint | number): string {
  const out = Buffer.alloc(10);
  const end = writeVarint(out, 0, v);
  expect(end).toBe(varintSize(v));
  return hex(out.subarray(0, end));
}

describe('varints', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [2 ** 49 - 1, 'ffffffffffff7f'],
    [2 ** 53 - 1, 'ffffffffffffff0f'],
  ])('%d', (n, expected) => {
    expect(varint(n)).toBe(expected);
    expect(varint(BigInt(n))).toBe(expected);
  });

  it('uint64 max and int64 -1 take ten bytes', () => {
    expect(varint(0xffffffffffffffffn)).toBe('ffffffffffffffffff01');
    expect(varint(toUint64(-1, 'x', true))).toBe('ffffffffffffffffff01');
    expect(varint(toUint64(-2n, 'x', true))).toBe('feffffffffffffffff01');
    expect(varint(toUint64((1n << 63n) - 1n, 'x', true))).toBe('ffffffffffffffff7f');
  });

  it('decodes what it encodes, numbers while safe and bigints beyond', () => {
    for (const v of [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 5, 2 ** 49 - 1, 2 ** 49, 2 ** 53 - 1]) {
      const fields = decodeMessage(encodeMessage([{ field: 3, varint: v }]), 't');
      expect(fields).toEqual(v === 0 ? [] : [{ field: 3, wire: 0, varint: v }]);
    }
    for (const v of [2n ** 53n, 2n ** 63n, 0xffffffffffffffffn]) {
      expect(decodeMessage(encodeMessage([{ field: 1, varint: v }]), 't')).toEqual([{ field: 1, wire: 0, varint: v }]);
    }
    const [neg] = decodeMessage(encodeMessage([{ field: 1, varint: toUint64(-5, 'x', true) }]), 't');
    expect(asInt64((neg as { varint: bigint }).varint)).toBe(-5n);
  });

  it('range checks', () => {
    expect(() => toUint64(2 ** 53, 'n', true)).toThrow(/not a safe integer/);
    expect(() => toUint64(1n << 63n, 'n', true)).toThrow(/outside int64/);
    expect(() => toUint64(-1n, 'n', false)).toThrow(/outside uint64/);
    expect(() => toUint64(1n << 64n, 'n', false)).toThrow(/outside uint64/);
  });
});

describe('messages', () => {
  it('leaves out zero varints and empty bytes, keeps field order', () => {
    const m = encodeMessage([
      { field: 1, bytes: Buffer.from('k') },
      { field: 2, varint: 0 },
      { field: 3, varint: 150 },
      { field: 5, bytes: Buffer.alloc(0) },
    ]);
    expect(hex(m)).toBe('0a016b189601');
  });

  it('skips fixed32 and fixed64 fields, returns bytes as views', () => {
    const m = Buffer.from('0d01020304' + '110102030405060708' + '1a03616263', 'hex');
    const fields = decodeMessage(m, 't');
    expect(fields.map((f) => [f.field, f.wire])).toEqual([
      [1, 5],
      [2, 1],
      [3, 2],
    ]);
    const bytes = (fields[2] as { bytes: Buffer }).bytes;
    expect(bytes.toString()).toBe('abc');
    expect(bytes.buffer).toBe(m.buffer);
  });

  it.each([
    ['a truncated varint', '0880', /truncated varint/],
    ['a varint over ten bytes', '08ffffffffffffffffffff01', /longer than 10 bytes/],
    ['a varint over 64 bits', '08ffffffffffffffffff7f', /overflows 64 bits/],
    ['bytes past the end', '0a05616263', /field 1 runs past the end/],
    ['a fixed64 past the end', '110102', /field 2 runs past the end/],
    ['a group', '0b', /unsupported wire type 3/],
    ['field number 0', '0001', /field number 0/],
  ])('rejects %s', (_, input, message) => {
    expect(() => decodeMessage(Buffer.from(input, 'hex'), 'msg')).toThrow(message);
  });
});
