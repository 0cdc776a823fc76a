import { encodeK8sProtobuf } from '@kubets/k8s-protobuf';
import { withSeed } from '@kubets/testkit';
import { ApiEnv } from './harness';

jest.setTimeout(180_000);

const VALID = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fuzz', namespace: 'default', labels: { a: 'b' } }, data: { k: 'v' } });

function expectStatus(r: { status: number; body: string; headers: Record<string, unknown> }, codes: number[], what: string): void {
  if (!codes.includes(r.status)) throw new Error(`${what}: HTTP ${r.status}, want ${codes.join('|')}: ${r.body.slice(0, 300)}`);
  if (r.status >= 400) {
    let s: any;
    try {
      s = JSON.parse(r.body);
    } catch {
      throw new Error(`${what}: HTTP ${r.status} without a JSON Status: ${r.body.slice(0, 200)}`);
    }
    expect(s.kind).toBe('Status');
    expect(s.apiVersion).toBe('v1');
    expect(s.status).toBe('Failure');
    expect(s.code).toBe(r.status);
    expect(typeof s.reason).toBe('string');
    expect(typeof s.message).toBe('string');
  }
}

describe('hostile input: every answer is a Status with the right code and the server keeps serving', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'kubets' });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}) => env.request('POST', '/api/v1/namespaces/default/configmaps', { body, headers });

  it('malformed, truncated and random bodies get 400', async () => {
    await withSeed(async (_seed, rand) => {
      expectStatus(await post('{'), [400], 'truncated');
      expectStatus(await post('not json at all'), [400], 'garbage');
      expectStatus(await post('[]'), [400], 'array');
      expectStatus(await post('null'), [400], 'null');
      expectStatus(await post('"string"'), [400], 'string');
      expectStatus(await post(''), [400], 'empty');
      for (let i = 0; i < 60; i++) {
        const cut = VALID.slice(0, Math.floor(rand() * (VALID.length - 1)));
        expectStatus(await post(cut), [400], `truncated at ${cut.length}`);
        const bytes = Buffer.alloc(1 + Math.floor(rand() * 200));
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
        expectStatus(await post(bytes), [400], 'random bytes');
        // Random single-byte corruption of a valid body: 201 (still valid), 400, 409 or 422.
        const b = Buffer.from(VALID.replace('"fuzz"', `"fuzz-${i}"`));
        b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        expectStatus(await post(b), [201, 400, 409, 422], 'corrupted body');
      }
    });
  });

  it('wrong content types get 415, wrong patch types too', async () => {
    expectStatus(await post(VALID, { 'Content-Type': 'text/plain' }), [415], 'text/plain');
    expectStatus(await post(VALID, { 'Content-Type': 'application/vnd.kubernetes.protobuf' }), [400], 'JSON sent as protobuf');
    expectStatus(await post(VALID, { 'Content-Type': 'application/cbor' }), [415], 'cbor');
    expectStatus(await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: VALID.replace('fuzz', 'ct-ok') }), [201], 'json');
    expectStatus(await env.request('PATCH', '/api/v1/namespaces/default/configmaps/ct-ok', { body: '{}', headers: { 'Content-Type': 'application/json' } }), [415], 'patch with application/json');
    expectStatus(await env.request('PATCH', '/api/v1/namespaces/default/configmaps/ct-ok', { body: '{}', headers: { 'Content-Type': 'application/apply-patch+yaml' } }), [415], 'server-side apply');
    expectStatus(await env.request('PATCH', '/api/v1/namespaces/default/configmaps/ct-ok', { body: '[{"op":"bogus"}]', headers: { 'Content-Type': 'application/json-patch+json' } }), [400, 422], 'bad json patch');
    expectStatus(await env.request('PATCH', '/api/v1/namespaces/default/configmaps/ct-ok', { body: '{"data":', headers: { 'Content-Type': 'application/merge-patch+json' } }), [400], 'truncated merge patch');
  });

  it('Kubernetes protobuf bodies work (kubectl 1.32+); truncated and corrupted ones get 400', async () => {
    await withSeed(async (_seed, rand) => {
      const pb = encodeK8sProtobuf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-pb', namespace: 'default' }, data: { a: 'b' } });
      const ct = { 'Content-Type': 'application/vnd.kubernetes.protobuf' };
      expectStatus(await post(Buffer.from(pb), ct), [201], 'protobuf');
      expect((await env.request('GET', '/api/v1/namespaces/default/configmaps/from-pb')).json().data).toEqual({ a: 'b' });
      for (let i = 0; i < 40; i++) {
        const cut = Buffer.from(pb).subarray(0, Math.floor(rand() * (pb.length - 1)));
        // Protobuf has no end marker: a cut at a field boundary is a valid, smaller object (409 or 422).
        expectStatus(await post(cut, ct), [400, 409, 422], `protobuf truncated at ${cut.length}`);
        const b = Buffer.from(encodeK8sProtobuf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `pb-${i}`, namespace: 'default' }, data: { a: 'b' } }));
        b[4 + Math.floor(rand() * (b.length - 4))] = Math.floor(rand() * 256);
        expectStatus(await post(b, ct), [201, 400, 409, 422], 'corrupted protobuf');
      }
    });
  });

  it('YAML bodies work; malformed YAML gets 400', async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  namespace: default\ndata:\n  a: b\n';
    expectStatus(await post(yaml, { 'Content-Type': 'application/yaml' }), [201], 'yaml');
    expectStatus(await post('a: [unclosed\n  b: {', { 'Content-Type': 'application/yaml' }), [400], 'bad yaml');
    expectStatus(await post('a: &x [*x]\n', { 'Content-Type': 'application/yaml' }), [400], 'recursive alias');
    expectStatus(await post('---\na: 1\n---\nb: 2\n', { 'Content-Type': 'application/yaml' }), [400], 'two documents');
  });

  it('deep JSON, huge labels, bodies over 3 MiB', async () => {
    const deep = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    expectStatus(await post(deep), [400], 'deep JSON');
    const deepArr = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deep', namespace: 'default' }, data: { a: 'b' }, extra: JSON.parse('['.repeat(500) + ']'.repeat(500)) });
    expectStatus(await post(deepArr), [400], 'deep arrays');
    const hugeLabel = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'huge-label', namespace: 'default', labels: { a: 'x'.repeat(100_000) } } });
    expectStatus(await post(hugeLabel), [422], 'huge label value');
    const manyLabels: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) manyLabels[`k${i}`] = 'v';
    expectStatus(await post(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'many-labels', namespace: 'default', labels: manyLabels } })), [201, 422], 'many labels');
    const badKey = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad-key', namespace: 'default', labels: { 'in valid/key/x': 'v' } } });
    expectStatus(await post(badKey), [422], 'invalid label key');
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', namespace: 'default' }, data: { a: 'x'.repeat(3 * 1024 * 1024 + 10) } });
    expectStatus(await post(big), [413], 'over 3 MiB');
    // Kubernetes' 1 MiB limit of a ConfigMap is validation: 422.
    const oneAndHalf = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mb', namespace: 'default' }, data: { a: 'x'.repeat(1024 * 1024 + 10) } });
    expectStatus(await post(oneAndHalf), [422], 'configmap over 1 MiB');
  });

  it('invalid names, paths, selectors and resourceVersions', async () => {
    expectStatus(await post(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'UPPER', namespace: 'default' } })), [422], 'upper-case name');
    expectStatus(await post(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'default' } })), [422], 'no name');
    expectStatus(await post(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } })), [400], 'wrong kind');
    expectStatus(await post(JSON.stringify({ apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } })), [400], 'wrong apiVersion');
    expectStatus(await env.request('POST', '/api/v1/namespaces/nope/configmaps', { body: VALID }), [400], 'namespace of the body differs from the URL');
    expectStatus(await env.request('POST', '/api/v1/namespaces/nope/configmaps', { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }) }), [404], 'missing namespace');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/widgets'), [404], 'unknown resource');
    expectStatus(await env.request('GET', '/api/v9/pods'), [404], 'unknown version');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(b'), [400], 'bad label selector');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps?fieldSelector=spec.bogus%3D1'), [400], 'unsupported field');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps?resourceVersion=abc'), [400], 'bad rv');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps?limit=-1'), [400], 'bad limit');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps?continue=garbage'), [400], 'bad continue');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1'), [200, 410], 'watch from compacted/old rv');
    expectStatus(await env.request('PUT', '/api/v1/namespaces/default/configmaps/ct-ok', { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ct-ok', namespace: 'default', resourceVersion: '1' } }) }), [409], 'stale rv');
    expectStatus(await env.request('DELETE', '/api/v1/namespaces/default/configmaps/never-was'), [404], 'delete missing');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps', { token: null }), [401], 'no credentials');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps', { token: 'wrong' }), [401], 'wrong token');
    expectStatus(await env.request('GET', '/api/v1/namespaces/default/configmaps', { token: null, headers: { Authorization: 'Basic Zm9vOmJhcg==' } }), [401], 'basic auth');
    expectStatus(await env.request('GET', '/healthz', { token: null }), [200], 'healthz without credentials');
  });

  it('is still serving, and nothing crashed', async () => {
    const r = await env.request('GET', '/readyz');
    expect(r.status).toBe(200);
    expect(env.apiservers[0]!.proc.running).toBe(true);
  });
});
