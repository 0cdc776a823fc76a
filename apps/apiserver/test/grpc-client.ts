import * as grpc from '@grpc/grpc-js';
import { ResourcesClient, type ResourceRef, type WatchEvent } from '@kubets/proto/kubets/api/v1/api';

export function resourcesClient(port: number, ca: string, token: string): ResourcesClient {
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(Buffer.from(ca)),
    grpc.credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      cb(null, md);
    }),
  );
  return new ResourcesClient(`127.0.0.1:${port}`, creds);
}

export function ref(resource: string, o: Partial<ResourceRef> = {}): ResourceRef {
  return { group: '', version: 'v1', resource, namespace: '', name: '', subresource: '', ...o };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function call(fn: (...args: any[]) => unknown, req: unknown): Promise<any> {
  return new Promise((resolve, reject) => fn(req, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))));
}

export function statusOf(err: grpc.ServiceError): any {
  const v = err.metadata?.get('kubets-status-bin')[0];
  return v ? JSON.parse(Buffer.from(v as Buffer).toString('utf8')) : undefined;
}

export type { WatchEvent };
