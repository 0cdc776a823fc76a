import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StatusError } from '@kubets/api-machinery';
import * as grpc from '@grpc/grpc-js';
import { parseKubeconfig, loadKubeconfig } from './kubeconfig';
import { Store } from './store';
import { toStatusError, grpcCodeOf, isRetryable } from './errors';
import { objectKey, splitKey, type KObject } from './types';

const pod = (ns: string, name: string, labels: Record<string, string> = {}, node?: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name, labels, resourceVersion: '1' },
  spec: { containers: [], ...(node ? { nodeName: node } : {}) },
});

describe('Store', () => {
  test('keys, namespace / label / node indexes, updates move objects between index values', () => {
    const s = new Store();
    s.set(pod('a', 'p1', { app: 'web', tier: 'fe' }, 'n1'));
    s.set(pod('a', 'p2', { app: 'db' }));
    s.set(pod('b', 'p3', { app: 'web' }, 'n2'));
    expect(s.get('a/p1')?.metadata.name).toBe('p1');
    expect(s.getByName('b', 'p3')?.metadata.name).toBe('p3');
    expect(s.byIndex('namespace', 'a').map(objectKey).sort()).toEqual(['a/p1', 'a/p2']);
    expect(s.byIndex('label', 'app=web').map(objectKey).sort()).toEqual(['a/p1', 'b/p3']);
    expect(s.byIndex('node', 'n1').map(objectKey)).toEqual(['a/p1']);
    expect(s.indexValues('node').sort()).toEqual(['n1', 'n2']);

    s.set(pod('a', 'p1', { app: 'db' }, 'n2'));
    expect(s.byIndex('label', 'app=web').map(objectKey)).toEqual(['b/p3']);
    expect(s.byIndex('label', 'tier=fe')).toEqual([]);
    expect(s.byIndex('node', 'n2').map(objectKey).sort()).toEqual(['a/p1', 'b/p3']);
    expect(s.indexValues('node')).toEqual(['n2']);

    s.delete('b/p3');
    expect(s.byIndex('node', 'n2').map(objectKey)).toEqual(['a/p1']);
    expect(s.byIndex('label', 'app=web')).toEqual([]);
    expect(s.size).toBe(2);
    expect(() => s.byIndex('nope', 'x')).toThrow(/does not exist/);
  });

  test('selector queries: strings, sets and set-based requirements, within a namespace', () => {
    const s = new Store();
    s.set(pod('a', 'p1', { app: 'web', env: 'prod' }));
    s.set(pod('a', 'p2', { app: 'web', env: 'dev' }));
    s.set(pod('b', 'p3', { app: 'web', env: 'prod' }));
    s.set(pod('b', 'p4', { app: 'api' }));
    const names = (xs: KObject[]) => xs.map((x) => String(x.metadata.name)).sort();
    expect(names(s.list({ selector: 'app=web,env=prod' }))).toEqual(['p1', 'p3']);
    expect(names(s.list({ namespace: 'a', selector: { app: 'web' } }))).toEqual(['p1', 'p2']);
    expect(names(s.list({ selector: 'env in (dev),app' }))).toEqual(['p2']);
    expect(names(s.list({ selector: '!env' }))).toEqual(['p4']);
    expect(names(s.list({ namespace: 'b' }))).toEqual(['p3', 'p4']);
    expect(names(s.list({ selector: '' }))).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(names(s.list({ filter: (o) => o.metadata.name.endsWith('2') }))).toEqual(['p2']);
  });

  test('custom indexers cover objects already cached', () => {
    const s = new Store();
    s.set(pod('a', 'p1', { app: 'web' }));
    s.addIndexers({ byName: (o) => [o.metadata.name] });
    s.set(pod('a', 'p2'));
    expect(s.byIndex('byName', 'p1').length).toBe(1);
    expect(s.byIndex('byName', 'p2').length).toBe(1);
    expect(() => s.addIndexers({ byName: () => [] })).toThrow(/already exists/);
  });

  test('keys of cluster-scoped objects are bare names', () => {
    expect(objectKey({ metadata: { name: 'n1' } })).toBe('n1');
    expect(splitKey('n1')).toEqual({ namespace: '', name: 'n1' });
    expect(splitKey('ns/x')).toEqual({ namespace: 'ns', name: 'x' });
  });
});

describe('kubeconfig', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const doc = (user: string) => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://10.0.0.5:6443
    certificate-authority-data: ${b64('CA PEM')}
contexts:
- name: admin@c
  context: { cluster: c, user: admin }
- name: other@c
  context: { cluster: c, user: other }
current-context: admin@c
users:
- name: admin
  user:
${user}
- name: other
  user:
    token: tok-2
`;

  test('the current context: server host, CA, client certificate', () => {
    const kc = parseKubeconfig(doc(`    client-certificate-data: ${b64('CERT')}\n    client-key-data: ${b64('KEY')}`));
    expect(kc).toEqual({ server: 'https://10.0.0.5:6443', host: '10.0.0.5', ca: 'CA PEM', cert: 'CERT', key: 'KEY' });
  });

  test('another context, tokens, file references relative to the kubeconfig', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    fs.writeFileSync(path.join(dir, 'token'), 'tok-file\n');
    fs.writeFileSync(path.join(dir, 'kc.yaml'), doc('    tokenFile: token'));
    expect(loadKubeconfig(path.join(dir, 'kc.yaml')).token).toBe('tok-file');
    expect(loadKubeconfig(path.join(dir, 'kc.yaml'), { context: 'other@c' }).token).toBe('tok-2');
    expect(() => loadKubeconfig(path.join(dir, 'kc.yaml'), { context: 'nope' })).toThrow(/context "nope" not found/);
    fs.rmSync(dir, { recursive: true });
  });

  test('IPv6 servers keep their brackets', () => {
    const kc = parseKubeconfig(doc('    token: t').replace('10.0.0.5', '[fd00::1]'));
    expect(kc.host).toBe('[fd00::1]');
  });
});

describe('gRPC errors as StatusErrors', () => {
  test('the Status in the trailer wins', () => {
    const md = new grpc.Metadata();
    md.set('kubets-status-bin', Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'pods "x" not found', reason: 'NotFound', details: { name: 'x', kind: 'pods' }, code: 404 })));
    const e = toStatusError(Object.assign(new Error('5 NOT_FOUND'), { code: grpc.status.NOT_FOUND, details: 'pods "x" not found', metadata: md }));
    expect(e).toBeInstanceOf(StatusError);
    expect(e.code).toBe(404);
    expect(e.reason).toBe('NotFound');
    expect(e.message).toBe('pods "x" not found');
    expect(grpcCodeOf(e)).toBe(grpc.status.NOT_FOUND);
  });

  test('without a trailer the gRPC code is mapped', () => {
    const e = toStatusError(Object.assign(new Error('14 UNAVAILABLE'), { code: grpc.status.UNAVAILABLE, details: 'No connection established', metadata: new grpc.Metadata() }));
    expect(e.code).toBe(503);
    expect(isRetryable(e)).toBe(true);
    expect(toStatusError(Object.assign(new Error('x'), { code: grpc.status.UNAUTHENTICATED, details: 'Unauthorized', metadata: new grpc.Metadata() })).code).toBe(401);
  });
});
