// Readiness probes `kubets up` and `kubets serve` poll the components with.
import https from 'node:https';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A check that an HTTP endpoint answers 2xx (within 2 s). */
export const httpOk = (url: string) => async (): Promise<boolean> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
};

/** GET from the local API server with the cluster CA and a bearer token. */
export function apiGet(port: number, ca: string, token: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, ca, headers: { Authorization: `Bearer ${token}` }, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
