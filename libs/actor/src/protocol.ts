import { assertFixedToken } from './subjects';
import type { Codec } from './codec';

/** One method of an actor: how its request and its reply are encoded. */
export interface Method<Req, Res> {
  readonly request: Codec<Req>;
  readonly reply: Codec<Res>;
}

/** What an actor understands: method name -> codecs. Shared by the actor and its clients. */
export type Protocol = { readonly [method: string]: Method<any, any> };

export type RequestOf<M> = M extends Method<infer Req, any> ? Req : never;
export type ReplyOf<M> = M extends Method<any, infer Res> ? Res : never;

export function method<Req, Res>(request: Codec<Req>, reply: Codec<Res>): Method<Req, Res> {
  return { request, reply };
}

/** Declare a protocol; method names must be valid subject tokens. */
export function defineProtocol<P extends Protocol>(protocol: P): P {
  for (const name of Object.keys(protocol)) assertFixedToken(name, 'method');
  return protocol;
}
