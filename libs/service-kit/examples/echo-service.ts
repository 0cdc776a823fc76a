// The reference kubets component, in as few lines as the kit allows: a gRPC
// front (kubets.sample.v1.EchoService) whose calls are handled by an actor on
// NATS (subject kubets.sample.echo.<method>), with health, reflection,
// /healthz, /readyz, /livez, /metrics and a clean SIGTERM shutdown.
//
//   npx tsx --conditions=@kubets/source libs/service-kit/examples/echo-service.ts \
//     --nats-url nats://127.0.0.1:4222 --listen-address 127.0.0.1:50051
//   grpcurl -plaintext 127.0.0.1:50051 list
import { actorSubject, defineActor, defineProtocol, method, protoCodec } from '@kubets/actor';
import { EchoReply, EchoRequest, EchoServiceService } from '@kubets/proto/kubets/sample/v1/echo';
import { Service } from '../src';

const EchoProtocol = defineProtocol({ echo: method(protoCodec(EchoRequest), protoCodec(EchoReply)) });

async function main(): Promise<void> {
  const svc = Service.create({
    name: 'kubets-echo',
    summary: 'kubets-echo answers EchoService calls through an actor on NATS.',
    version: '0.1.0',
    envPrefix: 'KUBETS_ECHO',
    flags: {
      'listen-address': { type: 'string', default: '127.0.0.1:50051', description: 'gRPC listen address (host:port)' },
      'metrics-address': { type: 'string', default: '127.0.0.1:10299', description: 'HTTP address of /healthz and /metrics' },
      'nats-url': { type: 'list', default: ['nats://127.0.0.1:4222'], description: 'NATS server URLs' },
      replica: { type: 'string', default: 'echo-0', description: 'Replica name reported in replies' },
    },
  });
  svc.handleSignals();
  const actors = await svc.connectNats(svc.config.natsUrl);
  const subject = actorSubject('sample', 'echo');
  await actors.spawn(
    defineActor({
      name: 'echo',
      protocol: EchoProtocol,
      subject,
      queue: subject,
      init: () => ({ handled: 0 }),
      handlers: {
        echo: (request, ctx) => {
          if (request.crash) throw new Error('asked to crash');
          ctx.state.handled++;
          return { text: request.text, handled: ctx.state.handled, replica: svc.config.replica };
        },
      },
    }),
  );
  const echo = actors.remote(EchoProtocol, subject);
  svc.grpc().addService(EchoServiceService, { echo: (request: EchoRequest) => echo.ask('echo', request) });
  const grpcPort = await svc.serveGrpc(svc.config.listenAddress);
  const httpPort = await svc.serveHttp(svc.config.metricsAddress);
  svc.log.info({ grpcPort, httpPort }, 'listening');
  svc.markReady();
}

main().catch((err: unknown) => {
  // Start-up failed before the logger existed or the service could shut down cleanly.
  process.stderr.write(`kubets-echo: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
