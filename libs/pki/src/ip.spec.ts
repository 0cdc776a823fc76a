import { formatIP, parseIP } from './ip';

describe('parseIP / formatIP', () => {
  test.each([
    ['127.0.0.1', '7f000001'],
    ['10.96.0.1', '0a600001'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['fd00::10', 'fd000000000000000000000000000010'],
    ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001'],
  ])('%s', (text, bytes) => {
    expect(parseIP(text)?.toString('hex')).toBe(bytes);
  });

  test('rejects non-addresses', () => {
    for (const bad of ['', 'localhost', '256.0.0.1', '1.2.3', '1::2::3', '10.0.0.0/8']) expect(parseIP(bad)).toBeUndefined();
  });

  test('formats in RFC 5952 form', () => {
    expect(formatIP(parseIP('fd00:0:0:0:0:0:0:1')!)).toBe('fd00::1');
    expect(formatIP(parseIP('2001:db8:0:1:0:0:0:1')!)).toBe('2001:db8:0:1::1');
    expect(formatIP(parseIP('1:0:2:3:4:5:6:7')!)).toBe('1:0:2:3:4:5:6:7');
    expect(formatIP(parseIP('::')!)).toBe('::');
    expect(formatIP(parseIP('10.96.0.1')!)).toBe('10.96.0.1');
  });
});
