import { ERR_FORMAT_WRONG, milliValueOf, parseQuantity, QuantityError, valueOf } from './quantity';

describe('parseQuantity', () => {
  it.each([
    // text, Value(), MilliValue()
    ['0', 0, 0],
    ['2', 2, 2000],
    ['500m', 1, 500],
    ['100m', 1, 100],
    ['1m', 1, 1],
    ['0.5', 1, 500],
    ['0.1', 1, 100],
    ['1.5', 2, 1500],
    ['.5', 1, 500],
    ['5.', 5, 5000],
    ['+3', 3, 3000],
    ['-1', -1, -1000],
    ['1k', 1000, 1_000_000],
    ['1Ki', 1024, 1_024_000],
    ['128Mi', 134_217_728, 134_217_728_000],
    ['1.5Gi', 1_610_612_736, 1_610_612_736_000],
    ['1G', 1_000_000_000, 1_000_000_000_000],
    ['2T', 2_000_000_000_000, 2_000_000_000_000_000],
    ['1e3', 1000, 1_000_000],
    ['1E3', 1000, 1_000_000],
    ['1e-3', 1, 1],
    ['15e-1', 2, 1500],
    ['100n', 1, 1],
    ['250u', 1, 1],
    ['1500u', 1, 2],
    ['1E', 1e18, 1e21],
    ['1Ei', 2 ** 60, 2 ** 60 * 1000],
  ])('%s -> value %d, milli %d', (text, value, milli) => {
    const q = parseQuantity(text);
    expect(q.value()).toBe(value);
    expect(q.milliValue()).toBe(milli);
  });

  it('accepts JSON numbers', () => {
    expect(parseQuantity(2).milliValue()).toBe(2000);
    expect(parseQuantity(0.25).milliValue()).toBe(250);
    expect(parseQuantity(1e21).value()).toBe(1e21);
  });

  it.each(['', 'abc', 'Mi', '1.2.3', '1 Mi', ' 1', '--1', '.', '1Mii'])('rejects %j', (text) => {
    expect(() => parseQuantity(text)).toThrow(QuantityError);
  });

  it("words format errors like kube's ErrFormatWrong", () => {
    expect(() => parseQuantity('abc')).toThrow(ERR_FORMAT_WRONG);
    expect(() => parseQuantity('5Mi3')).toThrow("unable to parse quantity's suffix");
  });

  it('helpers read garbage as 0 instead of throwing', () => {
    expect(milliValueOf('nope')).toBe(0);
    expect(valueOf(undefined)).toBe(0);
    expect(valueOf('64Mi')).toBe(64 * 1024 * 1024);
  });
});
