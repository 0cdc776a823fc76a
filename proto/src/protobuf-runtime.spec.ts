import { EchoReply, EchoRequest } from './gen/kubets/sample/v1/echo';

describe('generated codecs on the hardened runtime', () => {
  const full = EchoRequest.encode({ text: 'hello world', crash: true, delayMs: 7 }).finish();

  it('round-trip', () => {
    expect(EchoRequest.decode(full)).toEqual({ text: 'hello world', crash: true, delayMs: 7 });
    expect(EchoReply.decode(EchoReply.encode({ text: 'x', handled: 3, replica: 'r' }).finish())).toEqual({
      text: 'x',
      handled: 3,
      replica: 'r',
    });
  });

  // Field 1 (text) says 16 bytes follow, but only 1 does.
  const truncated = [0x0a, 0x10, 0x41];

  it('refuse a truncated string from a Buffer (what NATS and gRPC hand us)', () => {
    expect(() => EchoRequest.decode(Buffer.from(truncated))).toThrow(/index out of range: 2 \+ 16 > 3/);
  });

  it('refuse a truncated string from a plain Uint8Array', () => {
    expect(() => EchoRequest.decode(Uint8Array.from(truncated))).toThrow(/index out of range/);
  });

  it('refuse every strict prefix of a valid message that cuts a field', () => {
    for (let cut = 1; cut < full.length; cut++) {
      const prefix = Buffer.from(full.subarray(0, cut));
      let decoded: unknown;
      try {
        decoded = EchoRequest.decode(prefix);
      } catch {
        continue; // refused: good
      }
      // A prefix may only decode if it ends exactly on a field boundary.
      const reencoded = Buffer.from(EchoRequest.encode(decoded as EchoRequest).finish());
      expect(full.subarray(0, reencoded.length)).toEqual(new Uint8Array(reencoded));
    }
  });
});
