/**
 * What `grpcurl list`, `grpcurl describe` and a health probe do, as a library:
 * tests use it to check that every gRPC server serves reflection and health
 * (grpcurl itself cannot be installed on these machines).
 */
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from '@kubets/proto/grpc/health/v1/health';
import {
  ServerReflectionClient as ReflectionV1Client,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@kubets/proto/grpc/reflection/v1/reflection';
import { ServerReflectionClient as ReflectionV1AlphaClient } from '@kubets/proto/grpc/reflection/v1alpha/reflection';
import { FileDescriptorProto as FileDescriptorProtoType, type IFileDescriptorProto } from 'protobufjs/ext/descriptor';

/** A decoded google.protobuf.FileDescriptorProto. */
export type FileDescriptorProto = IFileDescriptorProto;

export type ReflectionVersion = 'v1' | 'v1alpha';

/** Send one reflection request on a fresh stream and return the single response. */
async function reflect(
  address: string,
  request: ServerReflectionRequest['messageRequest'],
  version: ReflectionVersion,
  timeoutMs: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Promise<NonNullable<ServerReflectionResponse['messageResponse']>> {
  const Client = version === 'v1' ? ReflectionV1Client : ReflectionV1AlphaClient;
  const client = new Client(address, credentials);
  try {
    return await new Promise((resolve, reject) => {
      const stream = client.serverReflectionInfo({ deadline: Date.now() + timeoutMs });
      stream.on('data', (response: ServerReflectionResponse) => {
        if (!response.messageResponse) reject(new Error('empty reflection response'));
        else resolve(response.messageResponse);
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ host: '', messageRequest: request });
    });
  } finally {
    client.close();
  }
}

/** `grpcurl -plaintext ADDRESS list` (or with TLS `credentials`): the fully-qualified services, sorted. */
export async function listServices(address: string, version: ReflectionVersion = 'v1', timeoutMs = 5_000, credentials?: grpc.ChannelCredentials): Promise<string[]> {
  const response = await reflect(address, { $case: 'listServices', value: '' }, version, timeoutMs, credentials);
  if (response.$case === 'errorResponse') throw new Error(`reflection error: ${response.value.errorMessage}`);
  if (response.$case !== 'listServicesResponse') throw new Error(`unexpected reflection response ${response.$case}`);
  return response.value.service.map((s) => s.name).sort();
}

/** The file descriptors (the file and its dependencies) that define `symbol`. */
export async function fileContainingSymbol(
  address: string,
  symbol: string,
  version: ReflectionVersion = 'v1',
  timeoutMs = 5_000,
): Promise<FileDescriptorProto[]> {
  const response = await reflect(address, { $case: 'fileContainingSymbol', value: symbol }, version, timeoutMs);
  if (response.$case === 'errorResponse') {
    throw new Error(`reflection error ${response.value.errorCode}: ${response.value.errorMessage}`);
  }
  if (response.$case !== 'fileDescriptorResponse') throw new Error(`unexpected reflection response ${response.$case}`);
  return response.value.fileDescriptorProto.map(
    (bytes) => FileDescriptorProtoType.toObject(FileDescriptorProtoType.decode(bytes), { defaults: true }) as FileDescriptorProto,
  );
}

/**
 * `grpcurl describe SERVICE`: its methods as "Name(Request) returns (Response)",
 * with "stream " where a side streams.
 */
export async function describeService(address: string, service: string, version: ReflectionVersion = 'v1'): Promise<string[]> {
  const files = await fileContainingSymbol(address, service, version);
  const dot = service.lastIndexOf('.');
  const pkg = service.slice(0, dot);
  const name = service.slice(dot + 1);
  const file = files.find((f) => f.package === pkg && (f.service ?? []).some((s) => s.name === name));
  if (!file) throw new Error(`no file descriptor defines ${service}`);
  const svc = file.service!.find((s) => s.name === name)!;
  return (svc.method ?? []).map(
    (m) =>
      `${m.name}(${m.clientStreaming ? 'stream ' : ''}${(m.inputType ?? '').replace(/^\./, '')}) returns (${
        m.serverStreaming ? 'stream ' : ''
      }${(m.outputType ?? '').replace(/^\./, '')})`,
  );
}

export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** grpc.health.v1.Health/Check; a NOT_FOUND status (unknown service) rejects. */
export async function healthCheck(address: string, service = '', timeoutMs = 5_000): Promise<HealthStatus> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  try {
    const response = await new Promise<{ status: HealthCheckResponse_ServingStatus }>((resolve, reject) =>
      client.check({ service }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    switch (response.status) {
      case HealthCheckResponse_ServingStatus.SERVING:
        return 'SERVING';
      case HealthCheckResponse_ServingStatus.NOT_SERVING:
        return 'NOT_SERVING';
      case HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN:
        return 'SERVICE_UNKNOWN';
      default:
        return 'UNKNOWN';
    }
  } finally {
    client.close();
  }
}
