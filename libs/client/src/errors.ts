import * as grpc from '@grpc/grpc-js';
import { StatusError, StatusReason, isStatusError, statusErrorFromStatus } from '@kubets/api-machinery';

/** The trailer in which the API server sends the Kubernetes Status (JSON) of a failed call. */
export const STATUS_TRAILER = 'kubets-status-bin';

const GRPC_CODE = Symbol.for('@kubets/client.grpcCode');

/**
 * A failed gRPC call as a StatusError: the Status from the `kubets-status-bin`
 * trailer when the API server sent one (the same code, reason, message and
 * details as over HTTPS), else one made from the gRPC status (UNAVAILABLE:
 * 503 ServiceUnavailable, DEADLINE_EXCEEDED: 504 Timeout, UNAUTHENTICATED:
 * 401, anything else: 500 InternalError).
 */
export function toStatusError(err: unknown): StatusError {
  if (isStatusError(err)) return err;
  const e = err as Partial<grpc.ServiceError> | undefined;
  const raw = e?.metadata?.get?.(STATUS_TRAILER)?.[0];
  let se: StatusError | undefined;
  if (raw !== undefined) {
    try {
      se = statusErrorFromStatus(JSON.parse(Buffer.from(raw as Buffer).toString('utf8')));
    } catch {
      se = undefined;
    }
  }
  if (!se) {
    const details = e?.details || (err as Error)?.message || String(err);
    switch (e?.code) {
      case grpc.status.UNAVAILABLE:
        se = new StatusError(503, StatusReason.ServiceUnavailable, `the API server is unavailable: ${details}`);
        break;
      case grpc.status.DEADLINE_EXCEEDED:
        se = new StatusError(504, StatusReason.Timeout, `Timeout: ${details}`);
        break;
      case grpc.status.UNAUTHENTICATED:
        se = new StatusError(401, StatusReason.Unauthorized, details || 'Unauthorized');
        break;
      case grpc.status.PERMISSION_DENIED:
        se = new StatusError(403, StatusReason.Forbidden, details);
        break;
      case grpc.status.CANCELLED:
        se = new StatusError(499, '', `cancelled: ${details}`);
        break;
      default:
        se = new StatusError(500, StatusReason.InternalError, `Internal error occurred: ${details}`);
    }
  }
  if (typeof e?.code === 'number') Object.defineProperty(se, GRPC_CODE, { value: e.code });
  return se;
}

/** The gRPC status code a StatusError came with (undefined for errors that did not come from a call). */
export function grpcCodeOf(e: unknown): grpc.status | undefined {
  return typeof e === 'object' && e !== null ? ((e as Record<symbol, unknown>)[GRPC_CODE] as grpc.status | undefined) : undefined;
}

/**
 * True for errors worth retrying as they are: the API server or the
 * connection was unavailable, a timeout, a 429, a 500 ServerTimeout.
 */
export function isRetryable(e: unknown): boolean {
  if (!isStatusError(e)) return false;
  return e.code === 503 || e.code === 504 || e.code === 429 || e.reason === StatusReason.ServerTimeout || e.reason === StatusReason.Timeout;
}
