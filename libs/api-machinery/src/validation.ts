/**
 * Kubernetes validation: the string checks of
 * k8s.io/apimachinery/pkg/util/validation (and api/validate/content), the
 * field error causes of util/validation/field, and the ObjectMeta rules of
 * api/validation. Messages follow Kubernetes 1.36 word for word.
 *
 * The `is*` checks return a list of problems (empty when the value is valid),
 * each a phrase such as `must be no more than 63 characters`. The cause
 * helpers build metav1.StatusCause entries for a 422 Invalid: `message` is
 * what kube puts there, field.Error.ErrorBody(), e.g. `Required value` or
 * `Invalid value: "x": must be ...`; the field path travels separately.
 */
import { goNumber, goQuote } from './internal/go-format';
import { isObject } from './internal/json';

// ---------------------------------------------------------------------------
// Causes (field.Error)

/** metav1.CauseType values produced by field errors. */
export type CauseType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTypeInvalid'
  | 'FieldValueNotFound';

/** One metav1.StatusCause of a 422 Invalid. */
export interface Cause {
  reason: CauseType;
  /** field.Error.ErrorBody(): `Required value`, `Invalid value: "x": detail`, ... */
  message: string;
  /** The field path, e.g. `metadata.name` or `spec.containers[0].image`. */
  field: string;
}

/** Go's json.Marshal of a bad value (HTML-safe escaping, as Go does). */
function goJson(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = undefined;
  }
  if (s === undefined) return String(v);
  return s
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** How field.Error renders a bad value: strings quoted, numbers plain, anything else as JSON. */
export function formatBadValue(value: unknown): string {
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number') return goNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === undefined || value === null) return 'null';
  return goJson(value);
}

function body(label: string, value: { v: unknown } | undefined, detail: string | undefined): string {
  let s = label;
  if (value) s += `: ${formatBadValue(value.v)}`;
  if (detail) s += `: ${detail}`;
  return s;
}

/** `Required value[: detail]` */
export function required(field: string, detail?: string): Cause {
  return { reason: 'FieldValueRequired', message: body('Required value', undefined, detail), field };
}

/** `Invalid value: <value>: detail` */
export function invalidValue(field: string, value: unknown, detail?: string): Cause {
  return { reason: 'FieldValueInvalid', message: body('Invalid value', { v: value }, detail), field };
}

/** `Unsupported value: <value>: supported values: "a", "b"` */
export function notSupported(field: string, value: unknown, valid: readonly string[]): Cause {
  const detail = valid.length > 0 ? 'supported values: ' + valid.map((v) => goQuote(String(v))).join(', ') : undefined;
  return { reason: 'FieldValueNotSupported', message: body('Unsupported value', { v: value }, detail), field };
}

/** `Duplicate value: <value>` */
export function duplicate(field: string, value: unknown): Cause {
  return { reason: 'FieldValueDuplicate', message: body('Duplicate value', { v: value }, undefined), field };
}

/** `Forbidden[: detail]` (field.Forbidden). Also exported as `forbidden` when called with two arguments. */
export function fieldForbidden(field: string, detail?: string): Cause {
  return { reason: 'FieldValueForbidden', message: body('Forbidden', undefined, detail), field };
}

/** `Too long: may not be more than <max> bytes` (field.TooLong). */
export function tooLong(field: string, max: number): Cause {
  let detail: string;
  if (max >= 0) detail = `may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}`;
  else detail = 'value is too long';
  return { reason: 'FieldValueTooLong', message: body('Too long', undefined, detail), field };
}

/** `Invalid value: <value>: detail` with reason FieldValueTypeInvalid (field.TypeInvalid). */
export function typeInvalid(field: string, value: unknown, detail?: string): Cause {
  return { reason: 'FieldValueTypeInvalid', message: body('Invalid value', { v: value }, detail), field };
}

/** `Not found: <value>` (field.NotFound). */
export function fieldNotFound(field: string, value: unknown): Cause {
  return { reason: 'FieldValueNotFound', message: body('Not found', { v: value }, undefined), field };
}

/** field.Error.Error(): `<field>: <body>`. */
export function causeToString(c: { field: string; message: string }): string {
  return c.field ? `${c.field}: ${c.message}` : c.message;
}

/**
 * The message of ErrorList.ToAggregate(): duplicates dropped, a single error
 * as is, several as `[a, b]`. Returns '' for an empty list.
 */
export function aggregateCauses(causes: ReadonlyArray<{ field: string; message: string }>): string {
  const seen = new Set<string>();
  const msgs: string[] = [];
  for (const c of causes) {
    const m = causeToString(c);
    if (seen.has(m)) continue;
    seen.add(m);
    msgs.push(m);
  }
  if (msgs.length === 0) return '';
  if (msgs.length === 1) return msgs[0];
  return '[' + msgs.join(', ') + ']';
}

// ---------------------------------------------------------------------------
// Message builders (util/validation)

/** `must be no more than N characters` (util/validation). */
export function maxLenError(length: number): string {
  return `must be no more than ${length} characters`;
}

/** `must be no more than N bytes` (api/validate/content, used for label keys and values). */
function maxLenBytesError(length: number): string {
  return `must be no more than ${length} bytes`;
}

/** `<msg> (e.g. 'a',  or 'b', regex used for validation is '<re>')` */
export function regexError(msg: string, re: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${re}')`;
  let s = msg + ' (e.g. ';
  examples.forEach((ex, i) => {
    if (i > 0) s += ' or ';
    s += `'${ex}', `;
  });
  return s + `regex used for validation is '${re}')`;
}

export function emptyError(): string {
  return 'must be non-empty';
}

export function inclusiveRangeError(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`;
}

function utf8Len(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

// ---------------------------------------------------------------------------
// DNS names

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_ERR =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
export const DNS1123_LABEL_MAX_LENGTH = 63;
const DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + '(\\.' + DNS1123_LABEL_FMT + ')*';
const DNS1123_SUBDOMAIN_ERR =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL_ERR =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
export const DNS1035_LABEL_MAX_LENGTH = 63;

const dns1123LabelRe = new RegExp('^' + DNS1123_LABEL_FMT + '$');
const dns1123SubdomainRe = new RegExp('^' + DNS1123_SUBDOMAIN_FMT + '$');
const dns1035LabelRe = new RegExp('^' + DNS1035_LABEL_FMT + '$');

/** RFC 1123 label (namespace names, service names...). */
export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (utf8Len(value) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!dns1123LabelRe.test(value)) {
    if (dns1123SubdomainRe.test(value)) errs.push('must not contain dots');
    else errs.push(regexError(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

/** RFC 1123 subdomain (most object names). */
export function isDNS1123Subdomain(value: string): string[] {
  return dns1123Subdomain(value, maxLenError);
}

function dns1123Subdomain(value: string, lenErr: (n: number) => string): string[] {
  const errs: string[] = [];
  if (utf8Len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(lenErr(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!dns1123SubdomainRe.test(value)) errs.push(regexError(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return errs;
}

/** RFC 1035 label (service names). */
export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (utf8Len(value) > DNS1035_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1035_LABEL_MAX_LENGTH));
  if (!dns1035LabelRe.test(value)) errs.push(regexError(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  return errs;
}

// ---------------------------------------------------------------------------
// Label keys and values (qualified names)

const LABEL_KEY_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_ERR =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_MAX_LENGTH = 63;
const labelKeyRe = new RegExp('^' + LABEL_KEY_FMT + '$');
const LABEL_VALUE_FMT = '(' + LABEL_KEY_FMT + ')?';
const LABEL_VALUE_ERR =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
export const LABEL_VALUE_MAX_LENGTH = 63;
const labelValueRe = new RegExp('^' + LABEL_VALUE_FMT + '$');

/**
 * A qualified name: label and annotation keys, finalizers. `name` or
 * `prefix/name` where the prefix is a DNS subdomain.
 */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part ' + emptyError());
    else for (const m of dns1123Subdomain(prefix, maxLenBytesError)) errs.push('prefix part ' + m);
  } else {
    return [
      'a valid label key ' +
        regexError(LABEL_KEY_ERR, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc') +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part ' + emptyError());
  else if (utf8Len(name) > LABEL_KEY_MAX_LENGTH) errs.push('name part ' + maxLenBytesError(LABEL_KEY_MAX_LENGTH));
  if (!labelKeyRe.test(name)) errs.push('name part ' + regexError(LABEL_KEY_ERR, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc'));
  return errs;
}

/** A label value: empty, or up to 63 characters of [-A-Za-z0-9_.] starting and ending alphanumeric. */
export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (utf8Len(value) > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenBytesError(LABEL_VALUE_MAX_LENGTH));
  if (!labelValueRe.test(value)) errs.push(regexError(LABEL_VALUE_ERR, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errs;
}

// ---------------------------------------------------------------------------
// Ports, identifiers, keys

/** 1..65535 */
export function isValidPortNum(port: number): string[] {
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return [];
  return [inclusiveRangeError(1, 65535)];
}

/** An IANA_SVC_NAME (container port names): at most 15 characters, a-z0-9 and single inner hyphens, one letter at least. */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (utf8Len(port) > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

const C_IDENTIFIER_FMT = '[A-Za-z_][A-Za-z0-9_]*';
const C_IDENTIFIER_ERR =
  "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'";
const cIdentifierRe = new RegExp('^' + C_IDENTIFIER_FMT + '$');

/** A C identifier. */
export function isCIdentifier(value: string): string[] {
  if (cIdentifierRe.test(value)) return [];
  return [regexError(C_IDENTIFIER_ERR, C_IDENTIFIER_FMT, 'my_name', 'MY_NAME', 'MyName')];
}

function hasChDirPrefix(value: string): string[] {
  if (value === '.') return ["must not be '.'"];
  if (value === '..') return ["must not be '..'"];
  if (value.startsWith('..')) return ["must not start with '..'"];
  return [];
}

const ENV_VAR_NAME_FMT = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const ENV_VAR_NAME_ERR =
  "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";
const envVarNameRe = new RegExp('^' + ENV_VAR_NAME_FMT + '$');

/** An environment variable name (container env, configMapRef keys). */
export function isEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (!envVarNameRe.test(value)) errs.push(regexError(ENV_VAR_NAME_ERR, ENV_VAR_NAME_FMT, 'my.env-name', 'MY_ENV.NAME', 'MyEnvName1'));
  errs.push(...hasChDirPrefix(value));
  return errs;
}

const CONFIG_MAP_KEY_FMT = '[-._a-zA-Z0-9]+';
const CONFIG_MAP_KEY_ERR = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const configMapKeyRe = new RegExp('^' + CONFIG_MAP_KEY_FMT + '$');

/** A ConfigMap or Secret data key. */
export function isConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (utf8Len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!configMapKeyRe.test(value)) errs.push(regexError(CONFIG_MAP_KEY_ERR, CONFIG_MAP_KEY_FMT, 'key.name', 'KEY_NAME', 'key-name'));
  errs.push(...hasChDirPrefix(value));
  return errs;
}

// ---------------------------------------------------------------------------
// IP addresses and CIDRs (util/validation/ip.go, strict form)

interface ParsedIP {
  bytes: number[]; // 4 or 16
  /** The address had leading zeros (accepted by ParseIPSloppy, rejected by netip). */
  sloppy: boolean;
}

function parseIPv4(s: string): ParsedIP | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let sloppy = false;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]+$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    if (p.length > 1 && p[0] === '0') sloppy = true;
    bytes.push(n);
  }
  return { bytes, sloppy };
}

function parseIPv6(s: string): ParsedIP | null {
  let sloppy = false;
  let head = s;
  let v4: number[] | null = null;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    const p4 = parseIPv4(s.slice(lastColon + 1));
    if (!p4) return null;
    if (p4.sloppy) sloppy = true;
    v4 = p4.bytes;
    head = s.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "a::1.2.3.4" leaves "a::", "a:b:c:d:e:f:1.2.3.4" leaves "a:...:f:"
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsNeeded = v4 ? 6 : 8;
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const gs = part.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right) return null;
    const fill = groupsNeeded - left.length - right.length;
    if (fill < 1) return null;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== groupsNeeded) return null;
    groups = all;
  }
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 0xff);
  if (v4) bytes.push(...v4);
  return { bytes, sloppy };
}

function parseIP(s: string): ParsedIP | null {
  if (s.includes(':')) return parseIPv6(s);
  if (s.includes('.')) return parseIPv4(s);
  return null;
}

function is4In6(b: number[]): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Go's net.IP.String(). */
function ipString(b: number[]): string {
  if (b.length === 4) return b.join('.');
  if (is4In6(b)) return b.slice(12).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i >= 2 && j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  return (
    groups.slice(0, bestStart).map(hex).join(':') + '::' + groups.slice(bestStart + bestLen).map(hex).join(':')
  );
}

/** A valid IP address in canonical form (Kubernetes' strict IsValidIP). */
export function isValidIP(value: string): string[] {
  const ip = parseIP(value);
  if (!ip) return ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'];
  const errs: string[] = [];
  if (ip.sloppy) errs.push('must not have leading 0s');
  if (is4In6(ip.bytes)) errs.push('must not be an IPv4-mapped IPv6 address');
  if (errs.length) return errs;
  const canonical = ipString(ip.bytes);
  if (value !== canonical) return [`must be in canonical form (${goQuote(canonical)})`];
  return [];
}

/** A valid CIDR in canonical form (Kubernetes' strict IsValidCIDR). */
export function isValidCIDR(value: string): string[] {
  const invalid = ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'];
  const slash = value.indexOf('/');
  if (slash < 0) return invalid;
  const ip = parseIP(value.slice(0, slash));
  const bitsStr = value.slice(slash + 1);
  if (!ip || !/^[0-9]+$/.test(bitsStr)) return invalid;
  const total = ip.bytes.length * 8;
  const bits = Number(bitsStr);
  if (bits > total) return invalid;
  if (ip.sloppy || (bitsStr.length > 1 && bitsStr[0] === '0')) return ['must not have leading 0s in IP or prefix length'];
  if (is4In6(ip.bytes)) return ['must not have an IPv4-mapped IPv6 address'];
  const masked = ip.bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
  if (masked.some((b, i) => b !== ip.bytes[i])) return ['must not have bits set beyond the prefix length'];
  const canonical = `${ipString(masked)}/${bits}`;
  if (value !== canonical) return [`must be in canonical form (${goQuote(canonical)})`];
  return [];
}

// ---------------------------------------------------------------------------
// Object names

/** The name check of one resource type; `prefix` is true when checking a generateName. */
export type NameValidator = (name: string, prefix?: boolean) => string[];

/** A generateName may end with '-': check it as if a random suffix followed (kube's maskTrailingDash). */
export function maskTrailingDash(name: string): string {
  if (name.length > 1 && name.endsWith('-')) return name.slice(0, name.length - 2) + 'a';
  return name;
}

/** Names that must be DNS-1123 subdomains (most resources). */
export const nameIsDNSSubdomain: NameValidator = (name, prefix = false) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);

/** Names that must be DNS-1123 labels (namespaces, services in older releases...). */
export const nameIsDNSLabel: NameValidator = (name, prefix = false) => isDNS1123Label(prefix ? maskTrailingDash(name) : name);

/** Names that must be DNS-1035 labels (services). */
export const nameIsDNS1035Label: NameValidator = (name, prefix = false) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);

/** Namespace names are DNS-1123 labels. */
export const validateNamespaceName: NameValidator = nameIsDNSLabel;

// ---------------------------------------------------------------------------
// ObjectMeta

/** 256 KiB: the most the keys and values of all annotations may add up to. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * 1024;
export const FIELD_IMMUTABLE_ERROR_MSG = 'field is immutable';
export const IS_NEGATIVE_ERROR_MSG = 'must be greater than or equal to 0';

function child(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** metadata.labels: keys are qualified names, values label values. Field path is the map itself, as in kube. */
export function validateLabels(labels: unknown, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!isObject(labels)) return causes;
  for (const [k, v] of Object.entries(labels)) {
    causes.push(...validateLabelName(k, path));
    if (typeof v === 'string') for (const m of isValidLabelValue(v)) causes.push(invalidValue(path, v, m));
  }
  return causes;
}

/** A label key (qualified name). */
export function validateLabelName(name: string, path: string): Cause[] {
  return isQualifiedName(name).map((m) => invalidValue(path, name, m));
}

/** metadata.annotations: keys are qualified names (case-insensitive), total size at most 256 KiB. */
export function validateAnnotations(annotations: unknown, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!isObject(annotations)) return causes;
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const m of isQualifiedName(k.toLowerCase())) causes.push(invalidValue(path, k, m));
    total += utf8Len(k) + (typeof v === 'string' ? utf8Len(v) : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES) causes.push(tooLong(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
  return causes;
}

/** metadata.finalizers: qualified names; orphan and foregroundDeletion together are refused. */
export function validateFinalizers(finalizers: unknown, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!Array.isArray(finalizers)) return causes;
  let orphan = false;
  let foreground = false;
  for (const f of finalizers) {
    if (typeof f !== 'string') continue;
    for (const m of isQualifiedName(f)) causes.push(invalidValue(path, f, m));
    if (f === 'orphan') orphan = true;
    if (f === 'foregroundDeletion') foreground = true;
  }
  if (orphan && foreground) causes.push(invalidValue(path, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  return causes;
}

/** metadata.ownerReferences: apiVersion (with a version), kind, name and uid set; at most one controller. */
export function validateOwnerReferences(refs: unknown, path: string): Cause[] {
  const causes: Cause[] = [];
  if (!Array.isArray(refs)) return causes;
  let firstController = '';
  for (const ref of refs) {
    if (!isObject(ref)) continue;
    const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
    const kind = typeof ref.kind === 'string' ? ref.kind : '';
    const name = typeof ref.name === 'string' ? ref.name : '';
    const uid = typeof ref.uid === 'string' ? ref.uid : '';
    // schema.FromAPIVersionAndKind: "v1" -> version v1, "apps/v1" -> apps + v1, "a/b/c" -> neither.
    const gvParts = apiVersion.split('/');
    const version = gvParts.length === 1 ? gvParts[0] : gvParts.length === 2 ? gvParts[1] : '';
    const group = gvParts.length === 2 ? gvParts[0] : '';
    if (!version) causes.push(invalidValue(child(path, 'apiVersion'), apiVersion, 'version must not be empty'));
    if (!kind) causes.push(invalidValue(child(path, 'kind'), kind, 'must not be empty'));
    if (!name) causes.push(invalidValue(child(path, 'name'), name, 'must not be empty'));
    if (!uid) causes.push(invalidValue(child(path, 'uid'), uid, 'must not be empty'));
    if (group === '' && version === 'v1' && kind === 'Event') {
      causes.push(invalidValue(path, ref, '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref.controller === true) {
      const cur = `${kind}/${name}`;
      if (firstController) {
        causes.push(
          invalidValue(
            path,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${cur}`,
          ),
        );
      } else {
        firstController = cur;
      }
    }
  }
  return causes;
}

/** A negative number is refused with `must be greater than or equal to 0`. */
export function validateNonnegativeField(value: unknown, path: string): Cause[] {
  if (typeof value === 'number' && value < 0) return [invalidValue(path, value, IS_NEGATIVE_ERROR_MSG)];
  return [];
}

export interface ObjectMetaValidationOptions {
  /** Whether the resource is namespaced (metadata.namespace required) or cluster-scoped (forbidden). */
  namespaced: boolean;
  /** The name rule; default DNS-1123 subdomain. Called with the masked generateName and prefix=true too. */
  nameValidator?: NameValidator | ((name: string) => string[]);
  /** The field path of the metadata; default "metadata". */
  path?: string;
}

/**
 * The ObjectMeta rules every resource shares (ValidateObjectMetaAccessor):
 * name (or generateName), namespace presence, generation, labels,
 * annotations, ownerReferences and finalizers.
 *
 * kube-apiserver turns generateName into a name before validating; here a
 * missing name is accepted when generateName is set (the caller generates
 * the name afterwards).
 */
export function validateObjectMetaCommon(meta: unknown, opts: ObjectMetaValidationOptions): Cause[] {
  const path = opts.path ?? 'metadata';
  const nameFn = (opts.nameValidator ?? nameIsDNSSubdomain) as NameValidator;
  const causes: Cause[] = [];
  const m = isObject(meta) ? meta : {};
  const name = typeof m.name === 'string' ? m.name : '';
  const generateName = typeof m.generateName === 'string' ? m.generateName : '';
  const namespace = typeof m.namespace === 'string' ? m.namespace : '';

  if (generateName) {
    for (const msg of nameFn(maskTrailingDash(generateName), true)) {
      causes.push(invalidValue(child(path, 'generateName'), generateName, msg));
    }
  }
  if (!name) {
    if (!generateName) causes.push(required(child(path, 'name'), 'name or generateName is required'));
  } else {
    for (const msg of nameFn(name, false)) causes.push(invalidValue(child(path, 'name'), name, msg));
  }
  if (opts.namespaced) {
    if (!namespace) causes.push(required(child(path, 'namespace')));
    else for (const msg of validateNamespaceName(namespace, false)) causes.push(invalidValue(child(path, 'namespace'), namespace, msg));
  } else if (namespace) {
    causes.push(fieldForbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  causes.push(...validateNonnegativeField(m.generation, child(path, 'generation')));
  causes.push(...validateLabels(m.labels, child(path, 'labels')));
  causes.push(...validateAnnotations(m.annotations, child(path, 'annotations')));
  causes.push(...validateOwnerReferences(m.ownerReferences, child(path, 'ownerReferences')));
  causes.push(...validateFinalizers(m.finalizers, child(path, 'finalizers')));
  return causes;
}

/** `Invalid value: <new>: field is immutable` when the value changed. */
export function validateImmutableField(newVal: unknown, oldVal: unknown, path: string): Cause[] {
  if (JSON.stringify(newVal ?? null) === JSON.stringify(oldVal ?? null)) return [];
  return [invalidValue(path, newVal ?? null, FIELD_IMMUTABLE_ERROR_MSG)];
}

/**
 * The ObjectMeta rules of an update (ValidateObjectMetaAccessorUpdate):
 * immutable name, namespace, uid, creationTimestamp, deletionTimestamp and
 * deletionGracePeriodSeconds; generation never decreases; no new finalizers
 * once deletion started; plus labels, annotations and ownerReferences.
 * (The resourceVersion presence check is left to the caller, which fills it
 * in for unconditional updates.)
 */
export function validateObjectMetaUpdate(newMeta: unknown, oldMeta: unknown, path = 'metadata'): Cause[] {
  const n = isObject(newMeta) ? newMeta : {};
  const o = isObject(oldMeta) ? oldMeta : {};
  const causes: Cause[] = [];
  if (o.deletionTimestamp && Array.isArray(n.finalizers)) {
    const old = new Set(Array.isArray(o.finalizers) ? o.finalizers : []);
    const extra = [...new Set(n.finalizers.filter((f) => !old.has(f)))].map(String).sort();
    if (extra.length) {
      causes.push(
        fieldForbidden(
          child(path, 'finalizers'),
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map(goQuote).join(', ')}}`,
        ),
      );
    }
  }
  if (typeof n.generation === 'number' && typeof o.generation === 'number' && n.generation < o.generation) {
    causes.push(invalidValue(child(path, 'generation'), n.generation, 'must not be decremented'));
  }
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
    const nv = n[f] === undefined ? (f === 'deletionTimestamp' || f === 'deletionGracePeriodSeconds' ? null : '') : n[f];
    const ov = o[f] === undefined ? (f === 'deletionTimestamp' || f === 'deletionGracePeriodSeconds' ? null : '') : o[f];
    causes.push(...validateImmutableField(nv, ov, child(path, f)));
  }
  causes.push(...validateLabels(n.labels, child(path, 'labels')));
  causes.push(...validateAnnotations(n.annotations, child(path, 'annotations')));
  causes.push(...validateOwnerReferences(n.ownerReferences, child(path, 'ownerReferences')));
  return causes;
}
