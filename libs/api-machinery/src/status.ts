/**
 * API errors as metav1.Status, after k8s.io/apimachinery/pkg/api/errors:
 * the same codes, reasons, details and message formats, so kubectl prints
 * exactly what it prints against kube-apiserver.
 */
import { goQuote } from './internal/go-format';
import { aggregateCauses, fieldForbidden, type Cause } from './validation';

export interface StatusCause {
  /** A CauseType (FieldValueRequired, ...) or '' (omitted from the JSON). */
  reason: string;
  message: string;
  /** The field path, or '' (omitted from the JSON). */
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The metav1.Status JSON object of an error. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** The reasons kube-apiserver uses (metav1.StatusReason). */
export const StatusReason = {
  Unknown: '',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  Conflict: 'Conflict',
  Gone: 'Gone',
  Invalid: 'Invalid',
  ServerTimeout: 'ServerTimeout',
  StoreReadError: 'StorageReadError',
  Timeout: 'Timeout',
  TooManyRequests: 'TooManyRequests',
  BadRequest: 'BadRequest',
  MethodNotAllowed: 'MethodNotAllowed',
  NotAcceptable: 'NotAcceptable',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
  UnsupportedMediaType: 'UnsupportedMediaType',
  InternalError: 'InternalError',
  Expired: 'Expired',
  ServiceUnavailable: 'ServiceUnavailable',
} as const;

const BRAND = Symbol.for('@kubets/api-machinery.StatusError');

/** An API error: an HTTP code, a reason and a message, rendered as a metav1.Status. */
export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  details?: StatusDetails;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    if (details) this.details = details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The metav1.Status object, with empty detail fields left out as Go's omitempty does. */
  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    const details = compactDetails(this.details);
    if (details) status.details = details;
    if (!status.reason) delete (status as Partial<Status>).reason;
    // Keep the field order of kube's JSON: ..., message, reason, details, code.
    const { code, ...rest } = status;
    return { ...rest, code };
  }

  toJSON(): Status {
    return this.toStatus();
  }
}

function compactDetails(d: StatusDetails | undefined): StatusDetails | undefined {
  if (!d) return undefined;
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes && d.causes.length) {
    out.causes = d.causes.map((c) => {
      const cc: Partial<StatusCause> = {};
      if (c.reason) cc.reason = c.reason;
      if (c.message) cc.message = c.message;
      if (c.field) cc.field = c.field;
      return cc as StatusCause;
    });
  }
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** True for a StatusError (also one created by another copy of this module). */
export function isStatusError(e: unknown): e is StatusError {
  return e instanceof StatusError || (typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true);
}

/** schema.GroupResource.String(): `pods`, `deployments.apps`. */
export function qualifiedResource(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

/** schema.GroupKind.String(): `Pod`, `Deployment.apps`. */
export function qualifiedKind(group: string, kind: string): string {
  return group ? `${kind}.${group}` : kind;
}

/** Go's %q. */
const q = goQuote;

/** 404 NotFound: `pods "x" not found`. */
export function notFound(group: string, resource: string, name: string): StatusError {
  return new StatusError(404, StatusReason.NotFound, `${qualifiedResource(group, resource)} ${q(name)} not found`, {
    name,
    group,
    kind: resource,
  });
}

/** 409 AlreadyExists: `pods "x" already exists`. */
export function alreadyExists(group: string, resource: string, name: string): StatusError {
  return new StatusError(409, StatusReason.AlreadyExists, `${qualifiedResource(group, resource)} ${q(name)} already exists`, {
    name,
    group,
    kind: resource,
  });
}

/** 409 AlreadyExists when generateName produced a name that exists (NewGenerateNameConflict). */
export function generateNameConflict(group: string, resource: string, name: string, retryAfterSeconds = 1): StatusError {
  return new StatusError(
    409,
    StatusReason.AlreadyExists,
    `${qualifiedResource(group, resource)} ${q(name)} already exists, the server was not able to generate a unique name for the object`,
    { name, group, kind: resource, retryAfterSeconds },
  );
}

/** The error of a failed optimistic-concurrency precondition (resourceVersion mismatch). */
export const OPTIMISTIC_LOCK_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

/** 409 Conflict: `Operation cannot be fulfilled on pods "x": <err>`. */
export function conflict(group: string, resource: string, name: string, err: string): StatusError {
  return new StatusError(
    409,
    StatusReason.Conflict,
    `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} ${q(name)}: ${err}`,
    { name, group, kind: resource },
  );
}

/**
 * 422 Invalid: `Pod "x" is invalid: spec.containers[0].image: Required value`,
 * several causes as `[a, b]` (duplicates dropped). details.kind is the Kind.
 */
export function invalid(
  group: string,
  kind: string,
  name: string,
  causes: ReadonlyArray<{ reason: string; message: string; field: string }>,
): StatusError {
  const agg = aggregateCauses(causes);
  const prefix = `${qualifiedKind(group, kind)} ${q(name)} is invalid`;
  return new StatusError(422, StatusReason.Invalid, agg ? `${prefix}: ${agg}` : prefix, {
    name,
    group,
    kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

/** 400 BadRequest. */
export function badRequest(message: string): StatusError {
  return new StatusError(400, StatusReason.BadRequest, message);
}

/** 401 Unauthorized. */
export function unauthorized(message = 'Unauthorized'): StatusError {
  return new StatusError(401, StatusReason.Unauthorized, message || 'not authorized');
}

/** 403 Forbidden: `pods "x" is forbidden: <err>` (`pods is forbidden: ...` without a name, `forbidden: ...` without a resource). */
export function forbiddenError(group: string, resource: string, name: string, err: string): StatusError {
  let message: string;
  if (!group && !resource) message = `forbidden: ${err}`;
  else if (!name) message = `${qualifiedResource(group, resource)} is forbidden: ${err}`;
  else message = `${qualifiedResource(group, resource)} ${q(name)} is forbidden: ${err}`;
  return new StatusError(403, StatusReason.Forbidden, message, { name, group, kind: resource });
}

/**
 * `forbidden` in both of Kubernetes' meanings:
 * - forbidden(group, resource, name, err): a 403 StatusError (errors.NewForbidden);
 * - forbidden(field, detail): a FieldValueForbidden cause (field.Forbidden).
 */
export function forbidden(group: string, resource: string, name: string, err: string): StatusError;
export function forbidden(field: string, detail?: string): Cause;
export function forbidden(a: string, b?: string, c?: string, d?: string): StatusError | Cause {
  if (c === undefined && d === undefined) return fieldForbidden(a, b);
  return forbiddenError(a, b ?? '', c ?? '', d ?? '');
}

/** 405 MethodNotAllowed with a message of one's own. */
export function methodNotAllowed(message: string): StatusError {
  return new StatusError(405, StatusReason.MethodNotAllowed, message);
}

/** 405 MethodNotAllowed as NewMethodNotSupported: `create is not supported on resources of kind "pods"`. */
export function methodNotSupported(group: string, resource: string, action: string): StatusError {
  return new StatusError(
    405,
    StatusReason.MethodNotAllowed,
    `${action} is not supported on resources of kind ${q(qualifiedResource(group, resource))}`,
    { group, kind: resource },
  );
}

/** 406 NotAcceptable. */
export function notAcceptable(message: string): StatusError {
  return new StatusError(406, StatusReason.NotAcceptable, message);
}

/** The media types accepted for request bodies of ordinary endpoints. */
export const DEFAULT_ACCEPTED_MEDIA_TYPES = ['application/json', 'application/yaml'];

/**
 * 415 UnsupportedMediaType: `the body of the request was in an unknown format
 * - accepted media types include: application/json, application/yaml`.
 * `contentType` (the one received) is kept for the caller's logs; kube does
 * not repeat it in the message.
 */
export function unsupportedMediaType(
  contentType: string,
  accepted: readonly string[] = DEFAULT_ACCEPTED_MEDIA_TYPES,
): StatusError {
  void contentType;
  return new StatusError(
    415,
    StatusReason.UnsupportedMediaType,
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** 413 RequestEntityTooLarge: `Request entity too large: <msg>`. */
export function requestEntityTooLarge(message: string): StatusError {
  return new StatusError(413, StatusReason.RequestEntityTooLarge, `Request entity too large: ${message}`);
}

/** 410 with reason Expired (NewResourceExpired). */
export function expired(message: string): StatusError {
  return new StatusError(410, StatusReason.Expired, message);
}

/** Same as `expired` (410 Expired): the reason kube uses for resourceVersions that are too old. */
export const gone = expired;

/** 410 Expired: `too old resource version: 5 (20)`, the answer to a watch or list from a compacted resourceVersion. */
export function resourceExpired(requestedRv: string | number | bigint, currentRv: string | number | bigint): StatusError {
  return expired(`too old resource version: ${requestedRv} (${currentRv})`);
}

/** 500 InternalError: `Internal error occurred: <msg>`. */
export function internal(message: string): StatusError {
  return new StatusError(500, StatusReason.InternalError, `Internal error occurred: ${message}`, {
    causes: [{ reason: '', message, field: '' }],
  });
}

/** 504 Timeout: `Timeout: <msg>`. */
export function timeout(message: string, retryAfterSeconds = 0): StatusError {
  return new StatusError(504, StatusReason.Timeout, `Timeout: ${message}`, { retryAfterSeconds });
}

/** 500 ServerTimeout (NewServerTimeout): the storage did not answer in time. */
export function serverTimeout(group: string, resource: string, operation: string, retryAfterSeconds = 0): StatusError {
  return new StatusError(
    500,
    StatusReason.ServerTimeout,
    `The ${operation} operation against ${qualifiedResource(group, resource)} could not be completed at this time, please try again.`,
    { name: operation, group, kind: resource, retryAfterSeconds },
  );
}

/** 503 ServiceUnavailable. */
export function serviceUnavailable(message: string): StatusError {
  return new StatusError(503, StatusReason.ServiceUnavailable, message);
}

/** 429 TooManyRequests with Retry-After seconds in the details. */
export function tooManyRequests(message: string, retryAfterSeconds = 0): StatusError {
  return new StatusError(429, StatusReason.TooManyRequests, message, { retryAfterSeconds });
}

/** Any thrown value as a StatusError: StatusErrors as they are, anything else a 500 InternalError. */
export function statusFromError(e: unknown): StatusError {
  if (isStatusError(e)) return e;
  if (e instanceof Error) return internal(e.message || e.name);
  if (typeof e === 'string') return internal(e);
  let text: string;
  try {
    text = JSON.stringify(e) ?? String(e);
  } catch {
    text = String(e);
  }
  return internal(text);
}

/** A StatusError back from a metav1.Status object (a client reading an error response). */
export function statusErrorFromStatus(s: {
  code?: number;
  reason?: string;
  message?: string;
  details?: StatusDetails;
}): StatusError {
  return new StatusError(s.code ?? 500, s.reason ?? '', s.message ?? '', s.details);
}

/** The reason of an error ('' for errors that are not StatusErrors). */
export function reasonForError(e: unknown): string {
  return isStatusError(e) ? e.reason : '';
}

export const isNotFound = (e: unknown): boolean => reasonForError(e) === StatusReason.NotFound;
export const isAlreadyExists = (e: unknown): boolean => reasonForError(e) === StatusReason.AlreadyExists;
export const isConflict = (e: unknown): boolean => reasonForError(e) === StatusReason.Conflict;
export const isInvalid = (e: unknown): boolean => reasonForError(e) === StatusReason.Invalid;
export const isBadRequest = (e: unknown): boolean => reasonForError(e) === StatusReason.BadRequest;
export const isForbidden = (e: unknown): boolean => reasonForError(e) === StatusReason.Forbidden;
export const isExpired = (e: unknown): boolean => reasonForError(e) === StatusReason.Expired;
