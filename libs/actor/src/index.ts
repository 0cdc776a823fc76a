export { ActorSystem, ERROR_CODE_HEADER, ERROR_MESSAGE_HEADER } from './system';
export type { ActorSystemOptions, ConnectionState, EscalationEvent } from './system';
export { defineActor, DEFAULT_ASK_TIMEOUT_MS } from './actor';
export type { ActorContext, ActorDefinition, ActorRef, AskOptions, Handlers, Phase } from './actor';
export { defineProtocol, method } from './protocol';
export type { Method, Protocol, ReplyOf, RequestOf } from './protocol';
export { protoCodec, jsonCodec, emptyCodec, bytesCodec } from './codec';
export type { Codec, ProtoMessageFns } from './codec';
export {
  ActorError,
  ReplyError,
  DecodeError,
  AskTimeoutError,
  NoRespondersError,
  ActorStoppedError,
  ConnectionClosedError,
} from './errors';
export type { ErrorCode } from './errors';
export { RestartTracker, resolveSupervision } from './backoff';
export type { SupervisionOptions } from './backoff';
export { ROOT, token, untoken, actorSubject, assertSubject } from './subjects';
