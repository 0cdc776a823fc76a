/**
 * Object metadata helpers: ages as kubectl prints them
 * (k8s.io/apimachinery/pkg/util/duration), RFC 3339 timestamps, generated
 * names and uids.
 */
import { randomInt, randomUUID } from 'node:crypto';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * duration.HumanDuration: a duration with 2-3 significant figures, as the
 * AGE column shows it: `45s`, `3m2s`, `10m`, `5h30m`, `17h`, `2d3h`, `20d`,
 * `2y45d`, `9y`. Up to a second in the future counts as `0s`; more is
 * `<invalid>`.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '<invalid>';
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** duration.ShortHumanDuration: one unit only (`45s`, `3m`, `5h`, `20d`, `2y`). */
export function shortHumanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '<invalid>';
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(ms / HOUR / 24 / 365)}y`;
}

/** The age of an object created at `timestamp` (RFC 3339) at time `now` (ms), as the AGE column shows it. */
export function age(timestamp: string | undefined | null, now: number = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

/** metav1.Time as JSON: RFC 3339 in UTC with seconds precision, `2026-11-24T05:00:00Z`. */
export function rfc3339(date: Date | number): string {
  const d = typeof date === 'number' ? new Date(date) : date;
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime as JSON: RFC 3339 with microseconds, `2026-11-24T05:00:00.123000Z`. */
export function rfc3339Micro(date: Date | number): string {
  const d = typeof date === 'number' ? new Date(date) : date;
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The characters of generated name suffixes (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0/1/3. */
export const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A random suffix as kube appends to a generateName: 5 characters of NAME_SUFFIX_ALPHABET. */
export function generateNameSuffix(length = 5): string {
  let s = '';
  for (let i = 0; i < length; i++) s += NAME_SUFFIX_ALPHABET[randomInt(NAME_SUFFIX_ALPHABET.length)];
  return s;
}

/** The longest name a generateName may produce before the suffix (63 - 5). */
export const MAX_GENERATED_NAME_BASE_LENGTH = 58;

/** names.SimpleNameGenerator: `base` (cut to 58 characters) followed by a random suffix. */
export function generateName(base: string): string {
  const b = base.length > MAX_GENERATED_NAME_BASE_LENGTH ? base.slice(0, MAX_GENERATED_NAME_BASE_LENGTH) : base;
  return b + generateNameSuffix();
}

/** A new metadata.uid (a random UUID). */
export function newUid(): string {
  return randomUUID();
}
