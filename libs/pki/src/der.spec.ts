import * as der from './der';

const hex = (b: Buffer) => b.toString('hex');

describe('der encoder', () => {
  test('INTEGER uses the minimal two-complement form', () => {
    expect(hex(der.integer(0))).toBe('020100');
    expect(hex(der.integer(1))).toBe('020101');
    expect(hex(der.integer(127))).toBe('02017f');
    expect(hex(der.integer(128))).toBe('02020080');
    expect(hex(der.integer(255))).toBe('020200ff');
    expect(hex(der.integer(256))).toBe('02020100');
    expect(hex(der.integer(-1))).toBe('0201ff');
    expect(hex(der.integer(-128))).toBe('020180');
    expect(hex(der.integer(-129))).toBe('0202ff7f');
    expect(hex(der.integer(0x7fffffffffffffffn))).toBe('02087fffffffffffffff');
    expect(hex(der.integer(0x8000000000000000n))).toBe('0209008000000000000000');
    for (const n of [0n, 1n, -1n, 127n, 128n, -128n, -129n, 65535n, -65536n, 1n << 100n, -(1n << 100n)]) {
      expect(der.decodeInteger(der.readSingle(der.integer(n)).content)).toBe(n);
    }
  });

  test('unsignedInteger strips leading zeros and keeps the value positive', () => {
    expect(hex(der.unsignedInteger(Buffer.from([0, 0, 0x12])))).toBe('020112');
    expect(hex(der.unsignedInteger(Buffer.from([0xff])))).toBe('020200ff');
    expect(hex(der.unsignedInteger(Buffer.from([0, 0])))).toBe('020100');
  });

  test('lengths are minimal: short form below 128, long form with no leading zero above', () => {
    expect(hex(der.octetString(Buffer.alloc(127))).slice(0, 4)).toBe('047f');
    expect(hex(der.octetString(Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(der.octetString(Buffer.alloc(255))).slice(0, 6)).toBe('0481ff');
    expect(hex(der.octetString(Buffer.alloc(256))).slice(0, 8)).toBe('04820100');
    expect(hex(der.octetString(Buffer.alloc(70000))).slice(0, 10)).toBe('0483011170');
  });

  test('OBJECT IDENTIFIER', () => {
    expect(hex(der.oid('2.5.4.3'))).toBe('0603550403');
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(der.oid('1.2.840.113549.1.1.11'))).toBe('06092a864886f70d01010b');
    expect(hex(der.oid('1.3.6.1.5.5.7.3.1'))).toBe('06082b06010505070301');
    expect(der.decodeOid(der.oid('1.2.840.113549.1.1.11').subarray(2))).toBe('1.2.840.113549.1.1.11');
    expect(der.decodeOid(der.oid('2.999.3').subarray(2))).toBe('2.999.3');
    expect(() => der.oid('1.40')).toThrow(/invalid OID/);
    expect(() => der.oid('3.1')).toThrow(/invalid OID/);
    expect(() => der.oid('1.2.x')).toThrow(/invalid OID/);
  });

  test('BOOLEAN TRUE is 0xFF, NULL is 0500', () => {
    expect(hex(der.boolean(true))).toBe('0101ff');
    expect(hex(der.boolean(false))).toBe('010100');
    expect(hex(der.nullValue())).toBe('0500');
  });

  test('named bit strings drop trailing zero bits', () => {
    // digitalSignature (0) only: one byte 0x80, 7 unused bits.
    expect(hex(der.namedBits([0]))).toBe('03020780');
    // digitalSignature + keyEncipherment + keyCertSign (0, 2, 5): 0xa4, 2 unused bits.
    expect(hex(der.namedBits([0, 2, 5]))).toBe('030202a4');
    // decipherOnly (8): two bytes, 7 unused bits.
    expect(hex(der.namedBits([8]))).toBe('0303070080');
    expect(hex(der.namedBits([7]))).toBe('03020001');
    expect(hex(der.namedBits([]))).toBe('030100');
  });

  test('SET OF sorts its elements by encoding', () => {
    const a = der.utf8String('b');
    const b = der.utf8String('a');
    expect(hex(der.setOf(a, b))).toBe(`3106${hex(b)}${hex(a)}`);
  });

  test('times: UTCTime through 2049, GeneralizedTime from 2050, whole seconds', () => {
    const d2049 = new Date(Date.UTC(2049, 11, 31, 23, 59, 59, 999));
    expect(der.x509Time(d2049).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(der.x509Time(d2049)[0]).toBe(der.Tag.UTC_TIME);
    const d2050 = new Date(Date.UTC(2050, 0, 1, 0, 0, 0));
    expect(der.x509Time(d2050)[0]).toBe(der.Tag.GENERALIZED_TIME);
    expect(der.x509Time(d2050).toString('latin1').slice(2)).toBe('20500101000000Z');
    const d1999 = new Date(Date.UTC(1999, 5, 7, 8, 9, 10));
    expect(der.x509Time(d1999).toString('latin1').slice(2)).toBe('990607080910Z');
    for (const d of [d1999, d2050, new Date(Date.UTC(2024, 1, 29, 12, 0, 1))]) {
      expect(der.decodeTime(der.readSingle(der.x509Time(d))).getTime()).toBe(d.getTime());
    }
    expect(() => der.utcTime(d2050)).toThrow(/UTCTime/);
  });

  test('context tags', () => {
    expect(hex(der.explicit(0, der.integer(2)))).toBe('a003020102');
    expect(hex(der.implicitPrimitive(2, Buffer.from('a')))).toBe('820161');
    expect(hex(der.implicitPrimitive(7, Buffer.from([127, 0, 0, 1])))).toBe('87047f000001');
  });

  test('string types', () => {
    expect(hex(der.utf8String('é'))).toBe('0c02c3a9');
    expect(hex(der.printableString('A b'))).toBe('1303412062');
    expect(() => der.printableString('a_b')).toThrow(/PrintableString/);
    expect(() => der.ia5String('é')).toThrow(/IA5String/);
  });
});

describe('der reader', () => {
  test('reads nested elements', () => {
    const buf = der.sequence(der.integer(5), der.sequence(der.oid('2.5.4.3'), der.utf8String('x')));
    const top = der.readSingle(buf);
    const [n, inner] = der.readChildren(top);
    expect(der.decodeInteger(n!.content)).toBe(5n);
    expect(der.readChildren(inner!).map((c) => c.tag)).toEqual([der.Tag.OID, der.Tag.UTF8_STRING]);
  });

  test('rejects non-DER and truncated input', () => {
    expect(() => der.readElement(Buffer.from('3080', 'hex'))).toThrow(/indefinite/);
    expect(() => der.readElement(Buffer.from('04810100', 'hex'))).toThrow(/non-minimal/);
    expect(() => der.readElement(Buffer.from('0482000100', 'hex'))).toThrow(/non-minimal/);
    expect(() => der.readElement(Buffer.from('040301', 'hex'))).toThrow(/past the end/);
    expect(() => der.readSingle(Buffer.from('02010100', 'hex'))).toThrow(/trailing/);
  });
});
