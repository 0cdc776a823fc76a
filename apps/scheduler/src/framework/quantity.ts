/**
 * Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource), as
 * far as the scheduler needs them: parse "500m", "2", "128Mi", "1G", "1e3",
 * "0.5", and read them back as Value() (whole units, rounded up) and
 * MilliValue() (thousandths, rounded up), exactly, with BigInt arithmetic.
 *
 * Grammar (from quantity.go):
 *
 *   <quantity>        ::= <signedNumber><suffix>
 *   <signedNumber>    ::= <sign><numericValue> | <numericValue>
 *   <numericValue>    ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
 *   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
 *   <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
 */

export class QuantityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

/** The message ParseQuantity returns for text that is not a quantity (resource.ErrFormatWrong). */
export const ERR_FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/**
 * A parsed quantity: the exact rational value num / den (den > 0).
 */
export class Quantity {
  private constructor(
    /** Numerator, signed. */
    readonly num: bigint,
    /** Denominator, positive. */
    readonly den: bigint,
  ) {}

  /** @internal */
  static of(num: bigint, den: bigint): Quantity {
    return new Quantity(num, den);
  }

  /** The value scaled by 10^scale, rounded away from zero (inf.RoundUp, as kube's ScaledValue). */
  private scaled(scale: number): bigint {
    let num = this.num;
    let den = this.den;
    if (scale >= 0) num *= 10n ** BigInt(scale);
    else den *= 10n ** BigInt(-scale);
    const neg = num < 0n;
    const abs = neg ? -num : num;
    const q = (abs + den - 1n) / den;
    return neg ? -q : q;
  }

  /** Value(): whole units, rounded up ("1.5" -> 2, "100m" -> 1, "1Ki" -> 1024). */
  value(): number {
    return Number(this.scaled(0));
  }

  /** MilliValue(): thousandths of a unit, rounded up ("500m" -> 500, "2" -> 2000, "0.1" -> 100). */
  milliValue(): number {
    return Number(this.scaled(3));
  }

  isZero(): boolean {
    return this.num === 0n;
  }
}

/**
 * resource.ParseQuantity. Throws QuantityError (with kube's messages) for
 * text that is not a quantity. A JSON number (some clients send `cpu: 2`
 * unquoted) is accepted as its decimal text.
 */
export function parseQuantity(input: string | number): Quantity {
  const str = typeof input === 'number' ? numberText(input) : input;
  if (typeof str !== 'string' || str.length === 0) throw new QuantityError(ERR_FORMAT_WRONG);
  let i = 0;
  let negative = false;
  if (str[i] === '+' || str[i] === '-') {
    negative = str[i] === '-';
    i++;
  }
  const intStart = i;
  while (i < str.length && isDigit(str[i]!)) i++;
  const intDigits = str.slice(intStart, i);
  let fracDigits = '';
  if (str[i] === '.') {
    i++;
    const fracStart = i;
    while (i < str.length && isDigit(str[i]!)) i++;
    fracDigits = str.slice(fracStart, i);
  }
  if (intDigits.length === 0 && fracDigits.length === 0) throw new QuantityError(ERR_FORMAT_WRONG);

  // The suffix: letters first, then (for an exponent) a signed number.
  const rest = str.slice(i);
  let base = 10;
  let exponent: number;
  if (Object.prototype.hasOwnProperty.call(DECIMAL_SUFFIX, rest)) {
    exponent = DECIMAL_SUFFIX[rest]!;
  } else if (Object.prototype.hasOwnProperty.call(BINARY_SUFFIX, rest)) {
    base = 2;
    exponent = BINARY_SUFFIX[rest]!;
  } else {
    const m = /^[eE]([+-]?[0-9]+)$/.exec(rest);
    if (!m) {
      if (/^[eEinumkKMGTP]*[-+]?[0-9]*$/.test(rest)) throw new QuantityError('unable to parse quantity\'s suffix');
      throw new QuantityError(ERR_FORMAT_WRONG);
    }
    exponent = Number(m[1]);
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 1_000) throw new QuantityError('unable to parse quantity\'s suffix');
  }

  const mantissa = BigInt((intDigits || '0') + fracDigits) * (negative ? -1n : 1n);
  let num = mantissa;
  let den = 10n ** BigInt(fracDigits.length);
  if (base === 2) {
    num *= 2n ** BigInt(exponent);
  } else if (exponent >= 0) {
    num *= 10n ** BigInt(exponent);
  } else {
    den *= 10n ** BigInt(-exponent);
  }
  return Quantity.of(num, den);
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) return '';
  // Avoid exponent notation surprises: 1e21 -> "1e+21" is still valid for our grammar once the '+' is kept.
  return String(n).replace('e+', 'e');
}

// The same few quantity strings ("100m", "500Mi", "4") come back for every
// pod and node: remember their values (bounded, cleared when full).
const CACHE_LIMIT = 4096;
const cache = new Map<string | number, { value: number; milli: number }>();

function cached(q: string | number): { value: number; milli: number } {
  let hit = cache.get(q);
  if (hit) return hit;
  try {
    const parsed = parseQuantity(q);
    hit = { value: parsed.value(), milli: parsed.milliValue() };
  } catch {
    hit = { value: 0, milli: 0 };
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(q, hit);
  return hit;
}

/** MilliValue of a quantity, or 0 when it does not parse (the API server validates requests; the scheduler must not crash on garbage). */
export function milliValueOf(q: string | number | undefined | null): number {
  if (q === undefined || q === null) return 0;
  return cached(q).milli;
}

/** Value of a quantity, or 0 when it does not parse. */
export function valueOf(q: string | number | undefined | null): number {
  if (q === undefined || q === null) return 0;
  return cached(q).value;
}
