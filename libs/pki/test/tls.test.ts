// A real mutual-TLS handshake: a Node https server with a certificate from the
// CA, requiring client certificates from the same CA, and clients that trust
// only that CA.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createCA, createCertificate, type CertificateAndKey } from '../src';

const ca = createCA('kubernetes');
const issuer = { cert: ca.certPem, key: ca.keyPem };
const serverCert = createCertificate({
  subject: { commonName: 'kube-apiserver' },
  issuer,
  extKeyUsage: ['serverAuth'],
  dnsNames: ['localhost'],
  ipAddresses: ['127.0.0.1'],
});

let server: https.Server;
let port: number;
const seen: Array<{ CN?: string | string[]; O?: string | string[] }> = [];

beforeAll(async () => {
  server = https.createServer({ cert: serverCert.certPem, key: serverCert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.push({ CN: peer.subject.CN, O: peer.subject.O });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ user: peer.subject.CN, groups: peer.subject.O }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(host: string, client: CertificateAndKey | undefined, trust: string, servername?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host, port, path: '/', method: 'GET', ca: trust, cert: client?.certPem, key: client?.keyPem, servername, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('the server sees the client certificate CN and O', async () => {
  const admin = createCertificate({ subject: { commonName: 'kubernetes-admin', organizations: ['system:masters'] }, issuer, extKeyUsage: ['clientAuth'] });
  const res = await get('127.0.0.1', admin, ca.certPem);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body)).toEqual({ user: 'kubernetes-admin', groups: 'system:masters' });
  expect(seen.at(-1)).toEqual({ CN: 'kubernetes-admin', O: 'system:masters' });
});

test('an RSA client certificate works too, and several groups arrive as a list', async () => {
  const dev = createCertificate({ subject: { commonName: 'jane', organizations: ['dev', 'ops'] }, issuer, extKeyUsage: ['clientAuth'], keyAlgorithm: 'rsa-2048' });
  const res = await get('localhost', dev, ca.certPem);
  expect(JSON.parse(res.body)).toEqual({ user: 'jane', groups: ['dev', 'ops'] });
});

test('the client checks the server name against the SANs', async () => {
  const admin = createCertificate({ subject: { commonName: 'a' }, issuer, extKeyUsage: ['clientAuth'] });
  await expect(get('127.0.0.1', admin, ca.certPem, 'kubernetes.example')).rejects.toThrow(/altnames|Hostname/i);
});

test('a client that does not trust the CA refuses the server', async () => {
  const other = createCA('other');
  await expect(get('127.0.0.1', undefined, other.certPem)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
});

test('the server refuses client certificates from another CA, with the wrong usage, or none', async () => {
  const other = createCA('other');
  const foreign = createCertificate({ subject: { commonName: 'mallory' }, issuer: { cert: other.certPem, key: other.keyPem }, extKeyUsage: ['clientAuth'] });
  await expect(get('127.0.0.1', foreign, ca.certPem)).rejects.toThrow();
  const serverOnly = createCertificate({ subject: { commonName: 'server-only' }, issuer, extKeyUsage: ['serverAuth'] });
  await expect(get('127.0.0.1', serverOnly, ca.certPem)).rejects.toThrow();
  await expect(get('127.0.0.1', undefined, ca.certPem)).rejects.toThrow();
  expect(seen.map((s) => s.CN)).not.toContain('mallory');
  expect(seen.map((s) => s.CN)).not.toContain('server-only');
});
