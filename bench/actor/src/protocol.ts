import { defineProtocol, method, protoCodec } from '@kubets/actor';
import { EchoReply, EchoRequest } from '@kubets/proto/kubets/sample/v1/echo';

export const EchoProtocol = defineProtocol({
  echo: method(protoCodec(EchoRequest), protoCodec(EchoReply)),
  note: method(protoCodec(EchoRequest), protoCodec(EchoReply)),
});

export const ACTOR_SUBJECT = 'kubets.bench.echo';
export const RAW_SUBJECT = 'kubets.bench.raw';
export const RAW_TELL_SUBJECT = 'kubets.bench.rawtell';
export const COUNT_SUBJECT = 'kubets.bench.count';
