// Each controller is an actor (docs/ARCHITECTURE.md, libs/actor): addressed
// on NATS at kubets.controller-manager.<controller>.<method>, supervised by
// the ActorSystem. The actor's incarnation owns one run of the controller's
// work queue (the mailbox of its reconcile work, drained by N workers, never
// one key twice at once); the actor's own NATS mailbox carries control
// messages:
//   status  -> the controller's counters (queue length, syncs, errors, incarnation)
//   crash   -> the controller's workers stop and the handler throws, so the
//              supervisor restarts the actor with back-off (100 ms doubling to
//              30 s) and `init` starts a fresh incarnation that re-enqueues
//              every object. The controller sends it to itself when its
//              workers die unexpectedly; tests and operators may send it too.
// A failing sync of one key (an API error) is not a crash: it is logged and
// the key retried through the queue's rate limiter. The controller's own code
// throwing on an object is one (ControllerCrash, ./queue-controller.ts): the
// incarnation stops and tells itself `crash`, once per bad key.
import { actorSubject, defineActor, defineProtocol, jsonCodec, method, type ActorDefinition } from '@kubets/actor';
import { ControllerCrash, type ControllerStatus, type QueueController } from './queue-controller';

export const CONTROLLER_MANAGER_COMPONENT = 'controller-manager';

const anyObject = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export const ControllerProtocol = defineProtocol({
  status: method(jsonCodec(anyObject), jsonCodec((v) => v as ControllerStatus)),
  crash: method(jsonCodec((v) => anyObject(v) as { reason?: string }), jsonCodec(anyObject)),
});

export function controllerSubject(controller: string): string {
  return actorSubject(CONTROLLER_MANAGER_COMPONENT, controller);
}

interface ControllerActorState {
  startedAt: string;
}

export function controllerActor(controller: QueueController): ActorDefinition<typeof ControllerProtocol, ControllerActorState> {
  return defineActor<typeof ControllerProtocol, ControllerActorState>({
    name: controller.name,
    protocol: ControllerProtocol,
    subject: controllerSubject(controller.name),
    init: (ctx) => {
      controller.start().catch((e: unknown) => {
        const crashed = e instanceof ControllerCrash;
        ctx.log.error({ err: (e as Error)?.message ?? String(e) }, crashed ? 'controller crashed' : 'controller workers died');
        ctx.self.tell('crash', { reason: `${crashed ? 'crashed' : 'workers died'}: ${(e as Error)?.message ?? String(e)}` });
      });
      return { startedAt: new Date().toISOString() };
    },
    handlers: {
      status: () => controller.status(),
      crash: async (m) => {
        await controller.stop();
        throw new Error(`controller ${controller.name} crashed: ${m.reason ?? 'asked to crash'}`);
      },
    },
    postStop: () => controller.stop(),
  });
}
