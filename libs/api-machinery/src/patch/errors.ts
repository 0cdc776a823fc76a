import { StatusError, badRequest } from '../status';
import { NestingTooDeepError, isStackOverflow } from '../internal/json';

/** 422 Invalid with a message of its own, as kube answers patches that cannot be applied. */
export function unprocessable(message: string): StatusError {
  return new StatusError(422, 'Invalid', message);
}

/**
 * Runs a patch function, turning nesting that is too deep (our own guard or a
 * stack overflow) into a 400 BadRequest instead of a crash.
 */
export function guardDepth<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NestingTooDeepError) throw badRequest(e.message);
    if (isStackOverflow(e)) throw badRequest(new NestingTooDeepError().message);
    throw e;
  }
}
