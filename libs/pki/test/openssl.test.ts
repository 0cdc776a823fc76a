// The certificates as OpenSSL's command line sees them: parsed, printed,
// chained with `openssl verify`, and strict DER by `openssl asn1parse`.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCA, createCertificate, writeCertAndKey } from '../src';

let dir: string;

function openssl(...args: string[]): string {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl not runnable: ${r.error.message} (install the Debian package openssl)`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-pki-openssl-'));
  const ca = createCA('kubernetes');
  const issuer = { cert: ca.certPem, key: ca.keyPem };
  writeCertAndKey(dir, 'ca', ca);
  writeCertAndKey(
    dir,
    'server',
    createCertificate({
      subject: { commonName: 'kube-apiserver' },
      issuer,
      extKeyUsage: ['serverAuth'],
      dnsNames: ['localhost', 'kubernetes.default.svc.cluster.local'],
      ipAddresses: ['127.0.0.1', '10.96.0.1', 'fd00::1'],
    }),
  );
  writeCertAndKey(
    dir,
    'client',
    createCertificate({ subject: { commonName: 'kubernetes-admin', organizations: ['system:masters'] }, issuer, extKeyUsage: ['clientAuth'] }),
  );
  writeCertAndKey(dir, 'rsa-client', createCertificate({ subject: { commonName: 'rsa' }, issuer, extKeyUsage: ['clientAuth'], keyAlgorithm: 'rsa-2048' }));
  writeCertAndKey(dir, 'far', createCertificate({ subject: { commonName: 'far' }, issuer, validityDays: 365 * 40 }));
  writeCertAndKey(dir, 'other-ca', createCA('other'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('openssl x509 -text shows the v3 fields and extensions', () => {
  const text = openssl('x509', '-noout', '-text', '-in', 'server.crt');
  expect(text).toContain('Version: 3 (0x2)');
  expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
  expect(text).toContain('Issuer: CN = kubernetes');
  expect(text).toContain('Subject: CN = kube-apiserver');
  expect(text).toContain('NIST CURVE: P-256');
  expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature/);
  expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
  expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
  expect(text).toContain('X509v3 Subject Key Identifier');
  expect(text).toContain('X509v3 Authority Key Identifier');
  expect(text).toContain('DNS:localhost, DNS:kubernetes.default.svc.cluster.local, IP Address:127.0.0.1, IP Address:10.96.0.1, IP Address:FD00:0:0:0:0:0:0:1');

  const caText = openssl('x509', '-noout', '-text', '-in', 'ca.crt');
  expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
  expect(caText).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign/);

  expect(openssl('x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', 'client.crt').trim()).toBe('subject=CN=kubernetes-admin,O=system:masters');
});

test('openssl verify chains every leaf to the CA, and only to it', () => {
  expect(openssl('verify', '-CAfile', 'ca.crt', 'server.crt', 'client.crt', 'rsa-client.crt', 'far.crt')).toBe(
    'server.crt: OK\nclient.crt: OK\nrsa-client.crt: OK\nfar.crt: OK\n',
  );
  expect(openssl('verify', '-CAfile', 'ca.crt', '-purpose', 'sslserver', 'server.crt')).toBe('server.crt: OK\n');
  expect(openssl('verify', '-CAfile', 'ca.crt', '-purpose', 'sslclient', 'client.crt')).toBe('client.crt: OK\n');
  expect(() => openssl('verify', '-CAfile', 'ca.crt', '-purpose', 'sslserver', 'client.crt')).toThrow(/(unsupported|unsuitable) certificate purpose/);
  expect(() => openssl('verify', '-CAfile', 'other-ca.crt', 'server.crt')).toThrow(/unable to get local issuer certificate/);
  expect(openssl('verify', '-CAfile', 'ca.crt', '-x509_strict', 'server.crt')).toBe('server.crt: OK\n');
});

test('dates: UTCTime before 2050, GeneralizedTime after', () => {
  const dump = openssl('asn1parse', '-in', 'far.crt');
  expect(dump).toMatch(/UTCTIME/);
  expect(dump).toMatch(/GENERALIZEDTIME\s*:20[5-9]\d/);
});

test('keys parse and match their certificates', () => {
  for (const name of ['ca', 'server', 'client', 'rsa-client']) {
    const fromCert = execFileSync('openssl', ['x509', '-noout', '-pubkey', '-in', `${name}.crt`], { cwd: dir, encoding: 'utf8' });
    const fromKey = execFileSync('openssl', ['pkey', '-pubout', '-in', `${name}.key`], { cwd: dir, encoding: 'utf8' });
    expect(fromKey).toBe(fromCert);
  }
  expect(fs.statSync(path.join(dir, 'server.key')).mode & 0o777).toBe(0o600);
});
