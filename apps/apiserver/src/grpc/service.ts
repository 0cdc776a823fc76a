import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as am from '@kubets/api-machinery';
import {
  ResourcesService,
  type CreateRequest,
  type DeleteRequest,
  type GetRequest,
  type ListRequest,
  type ObjectResponse,
  type PatchRequest,
  type ResourceRef,
  type UpdateRequest,
  type WatchEvent,
  type ListResponse,
} from '@kubets/proto/kubets/api/v1/api';
import { GrpcStatusError, type Service } from '@kubets/service-kit';
import type { Authenticator, UserInfo } from '../auth';
import type { KObject, ResourceDef } from '../registry/types';
import type { DeleteOptions, ListOptions, PatchType, RestHandler, Target, WriteOptions } from '../rest/handler';

/** Trailer carrying the Kubernetes Status (JSON) of a failed call. */
export const STATUS_TRAILER = 'kubets-status-bin';

const CODES: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  405: grpc.status.UNIMPLEMENTED,
  406: grpc.status.INVALID_ARGUMENT,
  409: grpc.status.ABORTED,
  410: grpc.status.OUT_OF_RANGE,
  413: grpc.status.RESOURCE_EXHAUSTED,
  415: grpc.status.INVALID_ARGUMENT,
  422: grpc.status.INVALID_ARGUMENT,
  429: grpc.status.RESOURCE_EXHAUSTED,
  500: grpc.status.INTERNAL,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

/** A Kubernetes Status as a gRPC error: the code maps to the closest gRPC code, the Status rides in a trailer. */
export function toGrpcError(e: unknown): GrpcStatusError {
  const s = am.isStatusError(e) ? e : am.statusFromError(e);
  const md = new grpc.Metadata();
  md.set(STATUS_TRAILER, Buffer.from(JSON.stringify(s.toStatus())));
  const code = s.reason === 'AlreadyExists' ? grpc.status.ALREADY_EXISTS : (CODES[s.code] ?? grpc.status.UNKNOWN);
  return new GrpcStatusError(code, s.message, md);
}

const MAX_OBJECT_BYTES = 3 * 1024 * 1024;

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function parseJson(b: Uint8Array, what: string): KObject {
  if (b.length > MAX_OBJECT_BYTES) throw am.requestEntityTooLarge(`limit is ${MAX_OBJECT_BYTES}`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(b).toString('utf8'));
  } catch (e) {
    throw am.badRequest(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object') throw am.badRequest(`${what} must be a JSON object or array`);
  return v as KObject;
}

function writeOptions(o: { dryRun: boolean; fieldValidation: string; fieldManager: string } | undefined): WriteOptions {
  const fv = o?.fieldValidation || 'Warn';
  if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') throw am.badRequest(`fieldValidation must be one of "Ignore", "Warn" or "Strict", got ${JSON.stringify(fv)}`);
  return { dryRun: o?.dryRun ?? false, fieldValidation: fv, fieldManager: o?.fieldManager || undefined };
}

const PATCH_TYPES: Record<string, PatchType> = {
  merge: 'merge',
  json: 'json',
  strategic: 'strategic',
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
};

/**
 * kubets.api.v1.Resources: the same REST semantics as the HTTPS API (the same
 * RestHandler), for components. TLS with the API server's certificate; a
 * bearer token (metadata "authorization") or a client certificate authenticates.
 */
export async function startInternalGrpc(
  svc: Service<any>,
  rest: RestHandler,
  lookup: (group: string, version: string, resource: string) => ResourceDef | undefined,
  auth: Authenticator,
  o: { host: string; port: number; cert: string; key: string; clientCa?: string },
): Promise<number> {
  const caCerts = o.clientCa ? splitPem(o.clientCa).map((pem) => new X509Certificate(pem)) : [];
  /** Client certificates already verified: fingerprint -> user, and until when the answer holds. */
  const verified = new Map<string, { user: UserInfo; until: number }>();
  const authenticate = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): UserInfo => {
    const h = call.metadata.get('authorization')[0];
    if (typeof h === 'string') {
      const m = /^Bearer\s+(\S+)$/i.exec(h);
      const u = m ? auth.byToken(m[1]!) : undefined;
      if (u) return u;
      throw am.unauthorized();
    }
    const peer = call.getAuthContext?.()?.sslPeerCertificate;
    if (peer?.raw && caCerts.length > 0) {
      // The TLS layer asked for a certificate but did not require one (tokens
      // need no certificate), so it is verified here: signed by the client CA,
      // within its validity period. A connection carries many calls with the
      // same certificate: a verified one is remembered (until it expires, for
      // at most a minute) instead of checking its signature on every call.
      const key = peer.fingerprint256 || peer.raw.toString('base64');
      const now = Date.now();
      const known = verified.get(key);
      if (known && now < known.until) return known.user;
      try {
        const cert = new X509Certificate(peer.raw);
        const notAfter = Date.parse(cert.validTo);
        const valid = Date.parse(cert.validFrom) <= now && now <= notAfter;
        if (valid && caCerts.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
          const cn = peer.subject?.CN;
          const org = peer.subject?.O;
          if (cn) {
            const user = { name: Array.isArray(cn) ? cn[0]! : cn, groups: [...(Array.isArray(org) ? org : org ? [org] : []), 'system:authenticated'] };
            if (verified.size >= 1024) verified.clear();
            verified.set(key, { user, until: Math.min(notAfter, now + 60_000) });
            return user;
          }
        }
      } catch {
        // not a certificate we can read: not authenticated
      }
    }
    throw am.unauthorized();
  };
  const target = (ref: ResourceRef | undefined): Target => {
    if (!ref) throw am.badRequest('ref is required');
    const def = lookup(ref.group, ref.version || 'v1', ref.resource);
    if (!def) throw am.badRequest(`the server could not find the requested resource ${ref.group}/${ref.version || 'v1'}/${ref.resource}`);
    return { def, namespace: def.namespaced ? ref.namespace || undefined : undefined, name: ref.name || undefined, subresource: ref.subresource || undefined };
  };
  const unary = <Req, Res>(fn: (req: Req) => Promise<Res>) =>
    async (req: Req, call: grpc.ServerUnaryCall<Req, Res>): Promise<Res> => {
      try {
        authenticate(call as never);
        return await fn(req);
      } catch (e) {
        throw toGrpcError(e);
      }
    };
  const objResponse = (obj: KObject, warnings: string[] = [], finished = false): ObjectResponse => ({ object: Buffer.from(JSON.stringify(obj)), warnings, finished });
  const listOptions = (r: ListRequest): ListOptions => ({
    labelSelector: r.labelSelector || undefined,
    fieldSelector: r.fieldSelector || undefined,
    resourceVersion: r.resourceVersion || undefined,
    resourceVersionMatch: r.resourceVersionMatch || undefined,
    limit: r.limit ? Number(r.limit) : undefined,
    continue: r.continue || undefined,
    allowWatchBookmarks: r.allowWatchBookmarks,
    timeoutSeconds: r.timeoutSeconds ? Number(r.timeoutSeconds) : undefined,
  });
  const server = svc.grpc();
  server.addService(ResourcesService, {
    get: unary(async (r: GetRequest) => objResponse(await rest.get(target(r.ref), { resourceVersion: r.resourceVersion || undefined }))),
    list: unary(async (r: ListRequest): Promise<ListResponse> => {
      const l = await rest.list(target(r.ref), listOptions(r));
      return { list: Buffer.from(JSON.stringify(l)), resourceVersion: l.metadata.resourceVersion };
    }),
    create: unary(async (r: CreateRequest) => {
      const x = await rest.create(target(r.ref), parseJson(r.object, 'object'), writeOptions(r.options));
      return objResponse(x.obj, x.warnings);
    }),
    update: unary(async (r: UpdateRequest) => {
      const x = await rest.update(target(r.ref), parseJson(r.object, 'object'), writeOptions(r.options));
      return objResponse(x.obj, x.warnings);
    }),
    patch: unary(async (r: PatchRequest) => {
      const type = PATCH_TYPES[r.patchType];
      if (!type) throw am.unsupportedMediaType(r.patchType || '(none)');
      const x = await rest.patch(target(r.ref), type, parseJson(r.patch, 'patch'), writeOptions(r.options));
      return objResponse(x.obj, x.warnings);
    }),
    delete: unary(async (r: DeleteRequest) => {
      const opts = r.deleteOptions.length ? (parseJson(r.deleteOptions, 'delete_options') as DeleteOptions) : {};
      const x = await rest.delete(target(r.ref), opts);
      return objResponse(x.obj, [], x.finished);
    }),
    watch: (call: grpc.ServerWritableStream<ListRequest, WatchEvent>) => {
      let cancel: (() => void) | undefined;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        cancel?.();
        clearTimeout(timer);
        call.end();
      };
      const fail = (e: unknown) => {
        if (ended) return;
        ended = true;
        cancel?.();
        clearTimeout(timer);
        const g = toGrpcError(e);
        call.emit('error', { code: g.code, details: g.message, metadata: g.metadata });
      };
      let timer: NodeJS.Timeout | undefined;
      call.on('cancelled', end);
      call.on('close', end);
      void (async () => {
        try {
          authenticate(call as never);
          const t = target(call.request.ref);
          const opts = listOptions(call.request);
          if (opts.timeoutSeconds) timer = setTimeout(end, opts.timeoutSeconds * 1000);
          const base = { group: t.def.group, resource: t.def.resource, prevRevision: 0n };
          cancel = await rest.watch(t, opts, {
            event: (type, obj, ev) => {
              if (ended) return;
              if (ev && ev.type === type) ev.json ??= JSON.stringify(ev.obj);
              const json = ev && ev.type === type ? ev.json! : JSON.stringify(obj);
              call.write({ ...base, type, object: Buffer.from(json), revision: BigInt(obj.metadata?.resourceVersion ?? 0), namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' });
            },
            bookmark: (rv) => {
              if (!ended) call.write({ ...base, type: 'BOOKMARK', object: Buffer.alloc(0), revision: BigInt(rv), namespace: '', name: '' });
            },
            error: (status) => {
              if (ended) return;
              call.write({ ...base, type: 'ERROR', object: Buffer.from(JSON.stringify(status.toStatus())), revision: 0n, namespace: '', name: '' });
              end();
            },
          });
          if (ended) cancel();
        } catch (e) {
          fail(e);
        }
      })();
    },
  });
  const creds = grpc.ServerCredentials.createSsl(o.clientCa ? Buffer.from(o.clientCa) : null, [{ private_key: Buffer.from(o.key), cert_chain: Buffer.from(o.cert) }], !!o.clientCa);
  if (o.clientCa) {
    // Ask for a client certificate without requiring one (grpc-js ties the
    // two together): token clients have none; certificates are verified above.
    const opts = (creds as unknown as { serverConstructorOptions?: Record<string, unknown> }).serverConstructorOptions;
    if (!opts) throw new Error('grpc-js internals changed: cannot make client certificates optional');
    opts.rejectUnauthorized = false;
  }
  return server.listen(`${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, creds);
}
