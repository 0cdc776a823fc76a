/**
 * Errors of the actor runtime. Every error an `ask` can reject with is one of
 * these, so callers can branch on `instanceof` (or on `code`) instead of
 * parsing messages.
 */

/** Codes carried by error replies. The names follow gRPC status codes. */
export type ErrorCode =
  | 'INVALID_ARGUMENT' // the message could not be decoded or failed validation
  | 'NOT_FOUND' // the actor has no such method, or the handler said so
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED' // the mailbox is full
  | 'UNAVAILABLE' // the actor is stopping, or could not be restarted
  | 'INTERNAL' // the handler crashed; the actor is being restarted
  | 'UNKNOWN';

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'ABORTED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'INTERNAL',
  'UNKNOWN',
]);

export function isErrorCode(value: string): value is ErrorCode {
  return CODES.has(value);
}

/** Base class of every error raised by the actor runtime. */
export class ActorError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An error reply. Thrown by a handler, it is sent to the asker as is and does
 * NOT count as a crash (use it for domain errors such as "not found"). Received
 * by an asker, it carries the code and message the actor replied with.
 */
export class ReplyError extends ActorError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The message could not be decoded (malformed bytes, failed schema validation). */
export class DecodeError extends ReplyError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** An ask got no reply before its deadline. */
export class AskTimeoutError extends ActorError {
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`ask ${subject}: no reply within ${timeoutMs} ms`, options);
  }
}

/** Nobody subscribes to the subject an ask was sent to. */
export class NoRespondersError extends ActorError {
  constructor(
    readonly subject: string,
    options?: ErrorOptions,
  ) {
    super(`ask ${subject}: no responders`, options);
  }
}

/** The actor is stopped (or failed for good); it takes no more messages. */
export class ActorStoppedError extends ReplyError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNAVAILABLE', message, options);
  }
}

/** The NATS connection is closed for good. */
export class ConnectionClosedError extends ActorError {}
