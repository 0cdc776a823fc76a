// bench/apiserver: kubets-apiserver on a 3-member kubets-kv and, in the same
// run, on a 3-member real etcd 3.4 (the API server works on either), on this
// machine: what the store costs is visible side by side.
//
//   npx nx run @kubets/bench-apiserver:bench      full run (a few minutes)
//   node bench/apiserver/dist/main.js --smoke     tiny run (the test target)
//
// Single-object calls (create, get, update) and list, each with 1, 10 and
// 100 concurrent clients over HTTPS keep-alive connections with a bearer
// token, the way kubectl and client-go talk to kube-apiserver; latency is per
// request as the client sees it. Then watch fan-out: 100 watchers on one
// namespace while objects are created; events delivered per second.
// The Kubernetes API call latency SLO is p99 <= 1 s for single-object calls;
// our goal on this machine: p99 < 50 ms at 100 clients.
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { runInit } from '@kubets/cli';
import { EtcdClient } from '@kubets/etcd-client';
import { KvCluster, RealEtcdCluster, builtApp, freePort, spawnProcess, type ManagedProcess } from '@kubets/testkit';

const smoke = process.argv.includes('--smoke');
// --cpu-prof-dir DIR: write a V8 CPU profile of the API server there (open in Chrome DevTools).
const profIdx = process.argv.indexOf('--cpu-prof-dir');
const profDir = profIdx > 0 ? process.argv[profIdx + 1] : undefined;
const OPS = smoke ? 60 : 2000;
const LIST_OBJECTS = 100;
const WATCHERS = smoke ? 10 : 100;
const WATCH_EVENTS = smoke ? 20 : 500;

interface Result {
  ops: number;
  p50: number;
  p99: number;
  perSec: number;
}

let agent: https.Agent;
let port = 0;
let token = '';
let ca = '';

function request(method: string, p: string, body?: string, contentType = 'application/json'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path: p, agent, ca, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': contentType } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function must(method: string, p: string, body: string | undefined, want: number, contentType?: string): Promise<string> {
  const r = await request(method, p, body, contentType);
  if (r.status !== want) throw new Error(`${method} ${p}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
  return r.body;
}

async function run(total: number, concurrency: number, op: (i: number, worker: number) => Promise<unknown>): Promise<Result> {
  const lat = new Float64Array(total);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = next++; i < total; i = next++) {
        const s = process.hrtime.bigint();
        await op(i, w);
        lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort();
  return { ops: total, p50: lat[Math.floor(total * 0.5)]!, p99: lat[Math.min(total - 1, Math.floor(total * 0.99))]!, perSec: total / secs };
}

const cm = (ns: string, name: string, v: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels: { bench: 'yes' } }, data: { v } });

type Store = 'kubets-kv' | 'etcd';

interface Measured {
  rows: Array<[string, number, Result]>;
  kvRows: Array<[number, Result]>;
  fanout: { writeSecs: number; fanSecs: number; delivered: number; lastAfterMs: number };
}

async function measure(store: Store): Promise<Measured> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-bench-api-'));
  port = await freePort();
  const init = runInit({
    outDir: dir,
    configText: `apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.1\n  bindPort: ${port}\n---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: 127.0.0.1:${port}\n`,
  });
  token = init.summary.adminToken;
  ca = fs.readFileSync(path.join(dir, 'pki/ca.crt'), 'utf8');
  const kv = store === 'etcd' ? await RealEtcdCluster.start(3) : await KvCluster.start();
  let api: ManagedProcess | undefined;
  try {
    api = spawnProcess({
      name: `bench-apiserver-on-${store}`,
      command: process.execPath,
      args: [
        ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
        builtApp('apiserver'),
        `--etcd-servers=${kv.endpoints.join(',')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--tls-cert-file=${path.join(dir, 'pki/apiserver.crt')}`,
        `--tls-private-key-file=${path.join(dir, 'pki/apiserver.key')}`,
        `--client-ca-file=${path.join(dir, 'pki/ca.crt')}`,
        `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
        `--grpc-bind-address=127.0.0.1:${await freePort()}`,
      ],
    });
    await api.waitForLog(/kubets-apiserver ready on/, 30_000);
    const rows: Array<[string, number, Result]> = [];
    // The floor under every write: the same KV driven directly (etcd v3 puts of
    // a ConfigMap-sized value, 10 gRPC connections), in this run, on this machine.
    const kvClients = Array.from({ length: 10 }, (_, i) => new EtcdClient({ endpoints: [kv.endpoints[i % kv.endpoints.length]!], operationTimeoutMs: 60_000 }));
    const value = Buffer.from(cm('bench', 'kv-direct-object', 'x'));
    const kvRows: Array<[number, Result]> = [];
    for (const clients of [1, 10, 100]) {
      kvRows.push([clients, await run(OPS, clients, (i, w) => kvClients[w % kvClients.length]!.put(`/bench/kv-direct/${clients}/${i}`, value))]);
    }
    for (const c of kvClients) c.close();
    for (const clients of [1, 10, 100]) {
      agent = new https.Agent({ keepAlive: true, maxSockets: clients });
      // Open the clients' connections first (TLS handshakes are not what is measured).
      await run(clients * 4, clients, () => must('GET', '/version', undefined, 200));
      const ns = `bench-${clients}`;
      await must('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }), 201);
      const base = `/api/v1/namespaces/${ns}/configmaps`;
      rows.push(['create', clients, await run(OPS, clients, (i) => must('POST', base, cm(ns, `o-${i}`, '0'), 201))]);
      rows.push(['get', clients, await run(OPS, clients, (i) => must('GET', `${base}/o-${(i * 7919) % OPS}`, undefined, 200))]);
      // update: each client PUTs its own objects with the resourceVersion it last saw (no conflicts).
      const current = new Map<number, any>();
      rows.push([
        'update',
        clients,
        await run(OPS, clients, async (i, worker) => {
          const idx = worker;
          let obj = current.get(idx);
          if (!obj) obj = JSON.parse(await must('GET', `${base}/o-${idx}`, undefined, 200));
          obj.data.v = String(i);
          current.set(idx, JSON.parse(await must('PUT', `${base}/o-${idx}`, JSON.stringify(obj), 200)));
        }),
      ]);
      const listNs = `bench-list-${clients}`;
      await must('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: listNs } }), 201);
      for (let i = 0; i < LIST_OBJECTS; i++) await must('POST', `/api/v1/namespaces/${listNs}/configmaps`, cm(listNs, `l-${i}`, 'x'), 201);
      rows.push([`list (${LIST_OBJECTS} objects)`, clients, await run(Math.ceil(OPS / 4), clients, () => must('GET', `/api/v1/namespaces/${listNs}/configmaps?limit=500`, undefined, 200))]);
      agent.destroy();
    }
    // Watch fan-out.
    agent = new https.Agent({ keepAlive: true, maxSockets: WATCHERS + 10 });
    await must('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench-watch' } }), 201);
    const rv = JSON.parse(await must('GET', '/api/v1/namespaces/bench-watch/configmaps', undefined, 200)).metadata.resourceVersion;
    let delivered = 0;
    let firstAt = 0n;
    let lastAt = 0n;
    const want = WATCHERS * WATCH_EVENTS;
    const done = new Promise<void>((resolve) => {
      for (let w = 0; w < WATCHERS; w++) {
        const req = https.request({ host: '127.0.0.1', port, method: 'GET', path: `/api/v1/namespaces/bench-watch/configmaps?watch=true&resourceVersion=${rv}`, agent, ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            let n = 0;
            for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) n++;
            if (n === 0) return;
            const now = process.hrtime.bigint();
            if (firstAt === 0n) firstAt = now;
            lastAt = now;
            delivered += n;
            if (delivered >= want) resolve();
          });
        });
        req.end();
      }
    });
    const writeAgent = new https.Agent({ keepAlive: true, maxSockets: 10 });
    const prev = agent;
    agent = writeAgent;
    const t0 = process.hrtime.bigint();
    await run(WATCH_EVENTS, 10, (i) => must('POST', '/api/v1/namespaces/bench-watch/configmaps', cm('bench-watch', `w-${i}`, '0'), 201));
    const writeSecs = Number(process.hrtime.bigint() - t0) / 1e9;
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((_, rej) => (giveUp = setTimeout(() => rej(new Error(`watchers got ${delivered}/${want} events`)), 60_000)))]);
    clearTimeout(giveUp); // else it keeps the process alive for its 60 s
    const fanSecs = Number(lastAt - t0) / 1e9;
    prev.destroy();
    writeAgent.destroy();

    return { rows, kvRows, fanout: { writeSecs, fanSecs, delivered, lastAfterMs: (Number(lastAt - t0) / 1e9 - writeSecs) * 1000 } };
  } finally {
    await api?.stop();
    await kv.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
const cell = (r: Result | undefined) => (r ? `${fmt(r.perSec)}/s, p50 ${fmt(r.p50)} ms, p99 **${fmt(r.p99)} ms**` : '-');

async function main(): Promise<void> {
  const stores: Store[] = process.argv.includes('--kubets-only') ? ['kubets-kv'] : ['kubets-kv', 'etcd'];
  const results = new Map<Store, Measured>();
  // One after the other, never at once: each has the machine to itself.
  for (const store of stores) results.set(store, await measure(store));
  const base = results.get('kubets-kv')!;
  const etcd = results.get('etcd');
  const lines = [
    `kubets-apiserver on a 3-member kubets-kv${etcd ? ' and on a 3-member etcd 3.4 (same API server, same load)' : ''} (${os.cpus().length} cores, Node ${process.versions.node}${smoke ? ', SMOKE run: numbers are meaningless' : ''})`,
    '',
    `| call | clients | requests | on kubets-kv |${etcd ? ' on etcd 3.4 |' : ''}`,
    `|---|---|---|---|${etcd ? '---|' : ''}`,
    ...base.rows.map(([name, c, r], i) => `| ${name} | ${c} | ${r.ops} | ${cell(r)} |${etcd ? ` ${cell(etcd.rows[i]?.[2])} |` : ''}`),
    ...base.kvRows.map(([c, r], i) => `| (store put, direct) | ${c} | ${r.ops} | ${cell(r)} |${etcd ? ` ${cell(etcd.kvRows[i]?.[1])} |` : ''}`),
    '',
  ];
  for (const [store, m] of results) {
    const f = m.fanout;
    lines.push(
      `watch fan-out on ${store}: ${WATCHERS} watchers, ${WATCH_EVENTS} creates (10 writers, ${fmt(WATCH_EVENTS / f.writeSecs)} creates/s): ` +
        `${f.delivered} events delivered in ${fmt(f.fanSecs)} s = ${fmt(f.delivered / f.fanSecs)} events/s; last event ${fmt(f.lastAfterMs)} ms after the last create was acknowledged`,
    );
  }
  for (const [store, m] of results) {
    const worst = Math.max(...m.rows.filter(([n, c]) => c === 100 && n !== `list (${LIST_OBJECTS} objects)`).map(([, , r]) => r.p99));
    const storePut = m.kvRows.find(([c]) => c === 100)?.[1].p99 ?? 0;
    lines.push(`single-object p99 at 100 clients on ${store}: ${fmt(worst)} ms (goal < 50 ms; Kubernetes SLO 1 s); the store's own put p99 at 100 clients: ${fmt(storePut)} ms`);
  }
  // eslint-disable-next-line no-console
  console.log(lines.join('\n'));
}

main().catch((e) => {
  // eslint-disable-next-line no-console
  console.error(e);
  process.exit(1);
});
