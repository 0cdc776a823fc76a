import crypto, { X509Certificate } from 'node:crypto';
import {
  certificateMatchesKey,
  createCA,
  createCertificate,
  inspectCertificate,
  OID,
  publicKeyPin,
  verifyIssuedBy,
  x509,
} from './certificate';
import * as der from './der';
import { generateKeyPair, keyAlgorithmOf, loadPrivateKey, parseKeyAlgorithm } from './keys';

const ca = createCA('kubernetes');
const issuer = { cert: ca.certPem, key: ca.keyPem };

describe('generateKeyPair', () => {
  test('ECDSA P-256 by default, SEC 1 private key PEM, PKIX public key PEM', () => {
    const pair = generateKeyPair();
    expect(pair.algorithm).toBe('ecdsa-p256');
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(pair.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const sig = crypto.sign('sha256', Buffer.from('x'), crypto.createPrivateKey(pair.privateKeyPem));
    expect(crypto.verify('sha256', Buffer.from('x'), crypto.createPublicKey(pair.publicKeyPem), sig)).toBe(true);
  });

  test('RSA keys are PKCS #1', () => {
    const pair = generateKeyPair('rsa-2048');
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(keyAlgorithmOf(loadPrivateKey(pair.privateKeyPem))).toBe('rsa-2048');
  });

  test('kubeadm encryptionAlgorithm names', () => {
    expect(parseKeyAlgorithm('ECDSA-P256')).toBe('ecdsa-p256');
    expect(parseKeyAlgorithm('RSA-4096')).toBe('rsa-4096');
    expect(() => parseKeyAlgorithm('ED25519')).toThrow(/unsupported key algorithm "ED25519"/);
  });
});

describe('createCA', () => {
  const cert = new X509Certificate(ca.certPem);

  test('is a self-signed v3 CA', () => {
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=kubernetes');
    expect(cert.issuer).toBe('CN=kubernetes');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.serialNumber).toMatch(/^[0-9A-F]+$/);
    expect(der.readSingle(cert.raw).content[4]).toBe(0xa0); // version [0] present
  });

  test('critical BasicConstraints and KeyUsage with keyCertSign; SKI equals AKI', () => {
    const info = inspectCertificate(ca.certPem);
    expect(info.isCA).toBe(true);
    expect(info.extensions.get(OID.basicConstraints)).toBe(true);
    expect(info.extensions.get(OID.keyUsage)).toBe(true);
    expect(info.keyUsage).toEqual(['digitalSignature', 'keyCertSign']);
    expect(info.subjectKeyId).toHaveLength(20);
    expect(info.authorityKeyId?.equals(info.subjectKeyId!)).toBe(true);
  });

  test('about ten years, starting a little in the past', () => {
    const info = inspectCertificate(ca.certPem);
    const now = Date.now();
    expect(info.notBefore.getTime()).toBeLessThan(now - 60_000);
    expect(info.notBefore.getTime()).toBeGreaterThan(now - 10 * 60_000);
    const days = (info.notAfter.getTime() - now) / 86_400_000;
    expect(days).toBeGreaterThan(3649);
    expect(days).toBeLessThan(3651);
  });
});

describe('createCertificate', () => {
  const server = createCertificate({
    subject: { commonName: 'kube-apiserver' },
    issuer,
    extKeyUsage: ['serverAuth'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default.svc.cluster.local', 'localhost'],
    ipAddresses: ['127.0.0.1', '10.96.0.1', '::1'],
  });
  const client = createCertificate({
    subject: { commonName: 'kubernetes-admin', organizations: ['system:masters', 'devs'] },
    issuer,
    extKeyUsage: ['clientAuth'],
  });

  test('signed by the CA, names chained', () => {
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.issuer).toBe('CN=kubernetes');
    expect(cert.ca).toBe(false);
    expect(verifyIssuedBy(server.certPem, ca.certPem)).toBeUndefined();
    expect(verifyIssuedBy(server.certPem, createCA('other').certPem)).toMatch(/not issued by this CA/);
    expect(inspectCertificate(server.certPem).authorityKeyId).toEqual(inspectCertificate(ca.certPem).subjectKeyId);
  });

  test('subjectAltName: checkHost and checkIP; duplicates dropped', () => {
    const cert = new X509Certificate(server.certPem);
    expect(cert.checkHost('kubernetes.default.svc.cluster.local')).toBe('kubernetes.default.svc.cluster.local');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.checkIP('10.96.0.1')).toBe('10.96.0.1');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('10.96.0.2')).toBeUndefined();
    expect(inspectCertificate(server.certPem).dnsNames).toEqual(['localhost', 'kubernetes', 'kubernetes.default.svc.cluster.local']);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  test('subject with O and CN, in Go pkix.Name order', () => {
    const cert = new X509Certificate(client.certPem);
    expect(cert.subject).toBe('O=system:masters\nO=devs\nCN=kubernetes-admin');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const info = inspectCertificate(client.certPem);
    expect(info.subject).toEqual({ commonName: 'kubernetes-admin', organizations: ['system:masters', 'devs'], organizationalUnits: [] });
    expect(info.extensions.has(OID.subjectAltName)).toBe(false);
    expect(info.extensions.get(OID.basicConstraints)).toBe(true);
    expect(info.isCA).toBe(false);
  });

  test('random positive serials with a minimal encoding', () => {
    const serials = new Set<bigint>();
    for (let i = 0; i < 20; i++) {
      const c = createCertificate({ subject: { commonName: `s${i}` }, issuer, serial: i === 0 ? 1n : undefined });
      const info = inspectCertificate(c.certPem);
      expect(info.serial > 0n).toBe(true);
      serials.add(info.serial);
      // Re-encoding the serial gives the same bytes as in the certificate.
      const tbs = der.readChildren(der.readSingle(info.tbsDer));
      expect(tbs[1]!.raw.equals(der.integer(info.serial))).toBe(true);
    }
    expect(serials.size).toBe(20);
    expect(() => createCertificate({ subject: { commonName: 'x' }, serial: 0n })).toThrow(/positive/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, serial: -5n })).toThrow(/positive/);
  });

  test('RSA and P-384 keys and issuers', () => {
    const rsaCA = createCA('rsa-ca', { keyAlgorithm: 'rsa-2048' });
    const leaf = createCertificate({ subject: { commonName: 'leaf' }, issuer: { cert: rsaCA.certPem, key: rsaCA.keyPem }, keyAlgorithm: 'ecdsa-p384' });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.verify(new X509Certificate(rsaCA.certPem).publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(inspectCertificate(rsaCA.certPem).keyUsage).toEqual(['digitalSignature', 'keyEncipherment', 'keyCertSign']);
    // The RSA signature algorithm identifier carries NULL parameters.
    const sigAlg = der.readChildren(der.readSingle(cert.raw))[1]!;
    expect(sigAlg.raw.toString('hex')).toBe('300d06092a864886f70d01010b0500');
    const ecSigAlg = der.readChildren(der.readSingle(new X509Certificate(server.certPem).raw))[1]!;
    expect(ecSigAlg.raw.toString('hex')).toBe('300a06082a8648ce3d040302');
  });

  test('validity past 2049 uses GeneralizedTime', () => {
    const c = createCertificate({ subject: { commonName: 'far' }, issuer, validityDays: 365 * 40 });
    const info = inspectCertificate(c.certPem);
    expect(info.notAfter.getUTCFullYear()).toBeGreaterThanOrEqual(2050);
    const validity = der.readChildren(der.readSingle(info.tbsDer))[4]!;
    const [nb, na] = der.readChildren(validity);
    expect(nb!.tag).toBe(der.Tag.UTC_TIME);
    expect(na!.tag).toBe(der.Tag.GENERALIZED_TIME);
    expect(new X509Certificate(c.certPem).validTo).toMatch(/20[5-9]\d GMT$/);
  });

  test('reusing a key keeps the public key', () => {
    const renewed = createCertificate({ subject: { commonName: 'kube-apiserver' }, issuer, key: server.keyPem });
    expect(renewed.keyPem).toBe(server.keyPem);
    expect(certificateMatchesKey(renewed.certPem, server.keyPem)).toBe(true);
    expect(certificateMatchesKey(renewed.certPem, client.keyPem)).toBe(false);
  });

  test('an intermediate CA with a path length', () => {
    const inter = createCertificate({ subject: { commonName: 'intermediate' }, issuer, isCA: true, maxPathLength: 0 });
    const leaf = createCertificate({ subject: { commonName: 'leaf' }, issuer: { cert: inter.certPem, key: inter.keyPem } });
    expect(x509(leaf.certPem).checkIssued(x509(inter.certPem))).toBe(true);
    expect(x509(inter.certPem).ca).toBe(true);
  });

  test('rejects bad input', () => {
    expect(() => createCertificate({ subject: { commonName: '' } })).toThrow(/commonName/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, dnsNames: ['bad name'] })).toThrow(/invalid DNS name "bad name"/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, ipAddresses: ['10.0.0.300'] })).toThrow(/invalid IP address "10.0.0.300"/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, issuer: { cert: ca.certPem, key: client.keyPem } })).toThrow(/does not belong/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, issuer: { cert: client.certPem, key: client.keyPem } })).toThrow(/not a CA/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, isCA: true, keyUsage: ['digitalSignature'] })).toThrow(/keyCertSign/);
    expect(() => createCertificate({ subject: { commonName: 'x' }, validityDays: 0 })).toThrow(/validityDays/);
  });

  test('the DER is canonical: re-encoding every parsed part reproduces the certificate', () => {
    // Node parses with OpenSSL; DER round trip through X509Certificate keeps the bytes.
    const cert = new X509Certificate(server.certPem);
    expect(cert.raw.equals(server.certDer)).toBe(true);
    expect(publicKeyPin(ca.certPem)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
