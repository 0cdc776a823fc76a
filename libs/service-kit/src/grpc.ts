import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { fileDescriptorSet } from '@kubets/proto';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/** An error with a gRPC status code, for handlers to throw. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly metadata?: grpc.Metadata,
  ) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}

/** The fully-qualified service name of a grpc-js service definition ("pkg.Service"). */
export function serviceName(definition: grpc.ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error('service definition has no methods');
  const match = /^\/([^/]+)\//.exec(first.path);
  if (!match) throw new Error(`cannot read the service name from path ${first.path}`);
  return match[1]!;
}

interface GrpcMetrics {
  handled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  seconds: Histogram<'grpc_service' | 'grpc_method'>;
}

const metricsByRegistry = new WeakMap<Registry, GrpcMetrics>();

function grpcMetrics(registry: Registry): GrpcMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    m = {
      handled: new Counter({
        name: 'grpc_server_handled_total',
        help: 'RPCs completed on the server, by status code.',
        labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
        registers: [registry],
      }),
      seconds: new Histogram({
        name: 'grpc_server_handling_seconds',
        help: 'Latency of unary RPCs handled by the server.',
        labelNames: ['grpc_service', 'grpc_method'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

export interface GrpcServerOptions {
  log: Logger;
  registry?: Registry;
  /** Largest request accepted, in bytes (grpc-js default 4 MiB). */
  maxReceiveMessageLength?: number;
  maxSendMessageLength?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ServerOptions;
}

type UnaryImpl<Req, Res> = (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

/**
 * A grpc-js server that always serves grpc.health.v1 and server reflection
 * (v1 and v1alpha) for the services added to it, so `grpcurl list`,
 * `grpcurl describe` and health probes work against every kubets component.
 */
export class GrpcServer {
  readonly server: grpc.Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly serviceNames: string[] = [];
  private readonly metrics: GrpcMetrics | undefined;
  private started = false;

  constructor(private readonly options: GrpcServerOptions) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxReceiveMessageLength ?? 4 * 1024 * 1024,
      'grpc.max_send_message_length': options.maxSendMessageLength ?? -1,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
      ...options.channelOptions,
    });
    this.metrics = options.registry ? grpcMetrics(options.registry) : undefined;
  }

  /** Services added so far (fully-qualified names), without health and reflection. */
  get services(): readonly string[] {
    return this.serviceNames;
  }

  /**
   * Add a service. Plain async functions are accepted for unary methods:
   * their result is the reply, a thrown GrpcStatusError becomes that status,
   * anything else becomes INTERNAL (logged). Streaming methods are passed through.
   */
  addService<D extends grpc.ServiceDefinition>(definition: D, implementation: Record<string, unknown>): void {
    if (this.started) throw new Error('add services before listen()');
    const name = serviceName(definition);
    const wrapped: grpc.UntypedServiceImplementation = {};
    for (const [methodName, method] of Object.entries(definition)) {
      const impl = implementation[methodName];
      if (typeof impl !== 'function') throw new Error(`${name}: no implementation for ${methodName}`);
      wrapped[methodName] =
        method.requestStream || method.responseStream
          ? (impl as grpc.UntypedHandleCall)
          : this.wrapUnary(name, method.path.slice(method.path.lastIndexOf('/') + 1), impl as UnaryImpl<unknown, unknown>);
    }
    this.server.addService(definition, wrapped);
    this.serviceNames.push(name);
  }

  private wrapUnary(service: string, method: string, impl: UnaryImpl<unknown, unknown>): grpc.handleUnaryCall<unknown, unknown> {
    const log = this.options.log;
    const metrics = this.metrics;
    const timer = metrics?.seconds.labels(service, method);
    return (call, callback) => {
      const started = performance.now();
      const done = (code: grpc.status) => {
        if (!metrics) return;
        timer!.observe((performance.now() - started) / 1000);
        metrics.handled.labels(service, method, grpc.status[code] ?? String(code)).inc();
      };
      let result: unknown;
      try {
        result = impl(call.request, call);
      } catch (err) {
        done(this.fail(err, service, method, callback, log));
        return;
      }
      Promise.resolve(result).then(
        (reply) => {
          done(grpc.status.OK);
          callback(null, reply);
        },
        (err: unknown) => done(this.fail(err, service, method, callback, log)),
      );
    };
  }

  private fail(err: unknown, service: string, method: string, callback: grpc.sendUnaryData<unknown>, log: Logger): grpc.status {
    if (err instanceof GrpcStatusError) {
      callback({ code: err.code, details: err.message, metadata: err.metadata });
      return err.code;
    }
    log.error({ err, service, method }, 'gRPC handler failed');
    callback({ code: grpc.status.INTERNAL, details: `internal error in ${service}/${method}` });
    return grpc.status.INTERNAL;
  }

  /**
   * Add health and reflection, bind and start. `address` is host:port (port 0
   * picks a free one). Resolves with the bound port. Health stays NOT_SERVING
   * until setServing(true).
   */
  async listen(address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    if (!this.started) {
      this.started = true;
      this.health.addToServer(this.server);
      const descriptors = loadFileDescriptorSetFromBuffer(fileDescriptorSet(), {
        keepCase: true,
        longs: String,
        enums: String,
        defaults: true,
      });
      new ReflectionService(descriptors, {
        services: [...this.serviceNames, HEALTH_SERVICE, ...REFLECTION_SERVICES],
      }).addToServer(this.server);
      for (const name of this.serviceNames) this.health.setStatus(name, 'NOT_SERVING');
    }
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    return port;
  }

  /** Health status of the server ("") and of every added service. */
  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    for (const name of this.serviceNames) this.health.setStatus(name, status);
  }

  /** Stop accepting calls, let in-flight calls finish for up to `graceMs`, then cancel the rest. */
  async shutdown(graceMs = 5_000): Promise<void> {
    this.setServing(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.log.warn({ graceMs }, 'gRPC calls still running at the shutdown deadline: cancelling them');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
