// The sync loop as an actor of the actor runtime (docs/ARCHITECTURE.md,
// libs/actor): addressed on NATS at kubets.proxy.proxier.<node>.<method> and
// supervised. Informer notifications go straight into the Proxier's own
// mailbox (one message at a time, coalesced into syncs); this actor's NATS
// mailbox carries control messages:
//   status -> the loop's counters (mode, syncs, failures, last success)
//   resync -> a full resync now
//   crash  -> the loop halts and the handler throws, so the supervisor
//             restarts the actor with back-off and `init` starts the loop
//             again with a full sync (the rules stay in the kernel meanwhile)
import { actorSubject, defineActor, defineProtocol, jsonCodec, method, type ActorDefinition } from '@kubets/actor';
import type { Proxier, ProxierStatus } from './proxier';

const anyObject = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export const ProxierProtocol = defineProtocol({
  status: method(jsonCodec(anyObject), jsonCodec((v) => v as ProxierStatus)),
  resync: method(jsonCodec(anyObject), jsonCodec(anyObject)),
  crash: method(jsonCodec((v) => anyObject(v) as { reason?: string }), jsonCodec(anyObject)),
});

export function proxierSubject(nodeName: string): string {
  return actorSubject('proxy', 'proxier', nodeName);
}

export function proxierActor(proxier: Proxier, nodeName: string): ActorDefinition<typeof ProxierProtocol, { startedAt: string }> {
  return defineActor<typeof ProxierProtocol, { startedAt: string }>({
    name: 'proxier',
    protocol: ProxierProtocol,
    subject: proxierSubject(nodeName),
    init: () => {
      proxier.start();
      return { startedAt: new Date().toISOString() };
    },
    handlers: {
      status: () => proxier.status(),
      resync: () => {
        proxier.tell({ kind: 'resync' });
        return {};
      },
      crash: async (m) => {
        await proxier.halt();
        throw new Error(`proxier crashed: ${m.reason ?? 'asked to crash'}`);
      },
    },
    postStop: () => proxier.stop(),
  });
}
