// X.509 v3 certificates (RFC 5280) built from DER by hand and signed with
// crypto.sign. The layout follows what Go's crypto/x509 CreateCertificate
// writes for kubeadm, so kubectl, kube-apiserver-style clients, OpenSSL and
// Node all accept the result.
import crypto, { X509Certificate, type KeyObject } from 'node:crypto';
import * as der from './der';
import { formatIP, parseIP } from './ip';
import { generateKeyPair, keyPairOf, loadPrivateKey, signatureAlgorithmOf, type KeyAlgorithm } from './keys';

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

/** KeyUsage bits (RFC 5280 4.2.1.3), in bit order. */
export const KEY_USAGES = [
  'digitalSignature',
  'contentCommitment',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const EXT_KEY_USAGE_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
} as const;
export type ExtKeyUsage = keyof typeof EXT_KEY_USAGE_OIDS;

export interface Subject {
  commonName: string;
  /** O= values; Kubernetes reads them as the user's groups. */
  organizations?: string[];
  /** OU= values. */
  organizationalUnits?: string[];
}

/** A CA that signs: its certificate (PEM or DER) and private key (PEM or KeyObject). */
export interface Issuer {
  cert: string | Buffer;
  key: string | Buffer | KeyObject;
}

export interface CertificateOptions {
  subject: Subject;
  /** The signing CA. Omit for a self-signed certificate (a root CA when isCA). */
  issuer?: Issuer;
  isCA?: boolean;
  /** BasicConstraints pathLenConstraint of a CA. */
  maxPathLength?: number;
  /** Default 3650 for a CA, 365 otherwise. Ignored when notAfter is given. */
  validityDays?: number;
  /** Default: five minutes ago (as kubeadm does, for clock skew). */
  notBefore?: Date;
  notAfter?: Date;
  /** Default: digitalSignature + keyCertSign (+ keyEncipherment for RSA) for a CA; digitalSignature (+ keyEncipherment for RSA) otherwise. */
  keyUsage?: KeyUsage[];
  extKeyUsage?: ExtKeyUsage[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Positive serial number; default 128 random bits. */
  serial?: bigint;
  /** Use this private key (e.g. to renew a certificate) instead of generating one. */
  key?: string | Buffer | KeyObject;
  /** Algorithm of the generated key (default ecdsa-p256). */
  keyAlgorithm?: KeyAlgorithm;
}

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
  certDer: Buffer;
}

/** Certificate fields read back from DER (see inspectCertificate). */
export interface CertificateInfo {
  der: Buffer;
  tbsDer: Buffer;
  serial: bigint;
  issuerDer: Buffer;
  subjectDer: Buffer;
  subject: Subject;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  isCA: boolean;
  keyUsage: KeyUsage[];
  extKeyUsage: string[];
  dnsNames: string[];
  ipAddresses: string[];
  /** OID -> critical, for every extension present. */
  extensions: Map<string, boolean>;
}

const DAY_MS = 86_400_000;
const BACKDATE_MS = 5 * 60_000;
const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/i;

function toDer(cert: string | Buffer): Buffer {
  if (Buffer.isBuffer(cert) && cert[0] === der.Tag.SEQUENCE) return Buffer.from(cert);
  const text = typeof cert === 'string' ? cert : cert.toString('latin1');
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error('no "CERTIFICATE" PEM block found');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** PEM text of a DER certificate (64-character lines). */
export function certificateToPem(certDer: Buffer): string {
  const b64 = certDer.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** DER of the first certificate in PEM text (or the DER itself). */
export function certificateToDer(cert: string | Buffer): Buffer {
  return toDer(cert);
}

function encodeName(subject: Subject): Buffer {
  const rdns: Buffer[] = [];
  // Go's pkix.Name order: O, OU, CN; one attribute per RDN.
  for (const o of subject.organizations ?? []) rdns.push(der.setOf(der.sequence(der.oid(OID.organization), der.utf8String(o))));
  for (const ou of subject.organizationalUnits ?? []) rdns.push(der.setOf(der.sequence(der.oid(OID.organizationalUnit), der.utf8String(ou))));
  if (subject.commonName !== '') rdns.push(der.setOf(der.sequence(der.oid(OID.commonName), der.utf8String(subject.commonName))));
  return der.sequence(...rdns);
}

function decodeName(name: der.DerElement): Subject {
  const subject: Required<Subject> = { commonName: '', organizations: [], organizationalUnits: [] };
  for (const rdn of der.readChildren(name)) {
    for (const atv of der.readChildren(rdn)) {
      const [type, value] = der.readChildren(atv);
      if (!type || !value) continue;
      const text = value.content.toString(value.tag === der.Tag.UTF8_STRING ? 'utf8' : 'latin1');
      const id = der.decodeOid(type.content);
      if (id === OID.commonName) subject.commonName = text;
      else if (id === OID.organization) subject.organizations.push(text);
      else if (id === OID.organizationalUnit) subject.organizationalUnits.push(text);
    }
  }
  return subject;
}

function spkiOf(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

/** Subject key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1), as Go computes it. */
export function subjectKeyIdOf(spkiDer: Buffer): Buffer {
  const [, bits] = der.readChildren(der.readSingle(spkiDer));
  const key = der.expectTag(bits, der.Tag.BIT_STRING, 'subjectPublicKey').content.subarray(1);
  return crypto.createHash('sha1').update(key).digest();
}

/** kubeadm's discovery hash of a CA: "sha256:" + hex SHA-256 of its SubjectPublicKeyInfo. */
export function publicKeyPin(cert: string | Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(inspectCertificate(cert).spkiDer).digest('hex')}`;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value)) : der.sequence(der.oid(id), der.octetString(value));
}

function randomSerial(): bigint {
  for (;;) {
    const bytes = crypto.randomBytes(16);
    bytes[0] = bytes[0]! & 0x7f;
    const n = BigInt(`0x${bytes.toString('hex')}`);
    if (n > 0n) return n;
  }
}

function uniq<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

/**
 * Create a certificate and its private key. Self-signed when `issuer` is
 * omitted. Extensions: BasicConstraints (critical), KeyUsage (critical),
 * ExtKeyUsage, SubjectKeyIdentifier, AuthorityKeyIdentifier and
 * SubjectAltName (when there are names).
 */
export function createCertificate(options: CertificateOptions): CertificateAndKey {
  const { subject } = options;
  if (typeof subject?.commonName !== 'string' || subject.commonName === '') throw new Error('certificate subject needs a commonName');
  const isCA = options.isCA ?? false;
  const pair = options.key !== undefined ? keyPairOf(options.key) : generateKeyPair(options.keyAlgorithm);
  const spki = spkiOf(pair.publicKey);
  const subjectKeyId = subjectKeyIdOf(spki);
  const subjectDer = encodeName(subject);

  let issuerDer: Buffer;
  let authorityKeyId: Buffer | undefined;
  let signingKey: KeyObject;
  if (options.issuer) {
    const issuerInfo = inspectCertificate(options.issuer.cert);
    signingKey = loadPrivateKey(options.issuer.key);
    if (!spkiOf(crypto.createPublicKey(signingKey)).equals(issuerInfo.spkiDer)) {
      throw new Error('the issuer private key does not belong to the issuer certificate');
    }
    if (!issuerInfo.isCA) throw new Error('the issuer certificate is not a CA (BasicConstraints cA is not set)');
    if (issuerInfo.keyUsage.length > 0 && !issuerInfo.keyUsage.includes('keyCertSign')) {
      throw new Error('the issuer certificate may not sign certificates (KeyUsage lacks keyCertSign)');
    }
    // The issuer field must be byte-identical to the CA's subject for chain building.
    issuerDer = issuerInfo.subjectDer;
    authorityKeyId = issuerInfo.subjectKeyId ?? subjectKeyIdOf(issuerInfo.spkiDer);
  } else {
    signingKey = pair.privateKey;
    issuerDer = subjectDer;
    authorityKeyId = subjectKeyId;
  }
  const sigAlg = signatureAlgorithmOf(signingKey);
  const algorithmIdentifier = sigAlg.nullParameters ? der.sequence(der.oid(sigAlg.oid), der.nullValue()) : der.sequence(der.oid(sigAlg.oid));

  const serial = options.serial ?? randomSerial();
  if (serial <= 0n) throw new Error('the serial number must be positive');
  if (serial >= 1n << 159n) throw new Error('the serial number must fit in 20 octets');

  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const validityDays = options.validityDays ?? (isCA ? 3650 : 365);
  if (!(validityDays > 0)) throw new Error('validityDays must be positive');
  const notAfter = options.notAfter ?? new Date(Date.now() + validityDays * DAY_MS);
  // Whole seconds: DER times carry no fractions.
  const nb = new Date(Math.floor(notBefore.getTime() / 1000) * 1000);
  const na = new Date(Math.floor(notAfter.getTime() / 1000) * 1000);
  if (na <= nb) throw new Error('notAfter must be after notBefore');

  const rsa = pair.algorithm.startsWith('rsa');
  const keyUsage = options.keyUsage ?? (isCA ? ['digitalSignature', 'keyCertSign', ...(rsa ? (['keyEncipherment'] as const) : [])] : ['digitalSignature', ...(rsa ? (['keyEncipherment'] as const) : [])]);
  for (const ku of keyUsage) if (!KEY_USAGES.includes(ku)) throw new Error(`unknown key usage "${String(ku)}"`);
  if (isCA && !keyUsage.includes('keyCertSign')) throw new Error('a CA certificate needs the keyCertSign key usage');
  const extKeyUsage = uniq(options.extKeyUsage ?? []);
  for (const eku of extKeyUsage) if (!(eku in EXT_KEY_USAGE_OIDS)) throw new Error(`unknown extended key usage "${String(eku)}"`);

  const dnsNames = uniq(options.dnsNames ?? []);
  for (const name of dnsNames) if (!DNS_NAME.test(name) || name.length > 253) throw new Error(`invalid DNS name "${name}" for a subjectAltName`);
  const ipBytes = uniq(options.ipAddresses ?? []).map((ip) => {
    const bytes = parseIP(ip);
    if (!bytes) throw new Error(`invalid IP address "${ip}" for a subjectAltName`);
    return bytes;
  });

  const extensions: Buffer[] = [];
  extensions.push(extension(OID.keyUsage, true, der.namedBits(keyUsage.map((ku) => KEY_USAGES.indexOf(ku)))));
  if (extKeyUsage.length > 0) extensions.push(extension(OID.extKeyUsage, false, der.sequence(...extKeyUsage.map((e) => der.oid(EXT_KEY_USAGE_OIDS[e])))));
  const bc: Buffer[] = [];
  if (isCA) {
    bc.push(der.boolean(true));
    if (options.maxPathLength !== undefined) bc.push(der.integer(options.maxPathLength));
  }
  extensions.push(extension(OID.basicConstraints, true, der.sequence(...bc)));
  extensions.push(extension(OID.subjectKeyIdentifier, false, der.octetString(subjectKeyId)));
  if (authorityKeyId) extensions.push(extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, authorityKeyId))));
  if (dnsNames.length > 0 || ipBytes.length > 0) {
    const names = [...dnsNames.map((n) => der.implicitPrimitive(2, Buffer.from(n, 'ascii'))), ...ipBytes.map((b) => der.implicitPrimitive(7, b))];
    extensions.push(extension(OID.subjectAltName, false, der.sequence(...names)));
  }

  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(serial),
    algorithmIdentifier,
    issuerDer,
    der.sequence(der.x509Time(nb), der.x509Time(na)),
    subjectDer,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = crypto.sign(sigAlg.hash, tbs, signingKey);
  const certDer = der.sequence(tbs, algorithmIdentifier, der.bitString(signature));
  return { certPem: certificateToPem(certDer), keyPem: pair.privateKeyPem, certDer };
}

export interface CAOptions {
  organizations?: string[];
  validityDays?: number;
  keyAlgorithm?: KeyAlgorithm;
  key?: string | Buffer | KeyObject;
}

/** A self-signed root CA (10 years by default, like kubeadm's "kubernetes" CA). */
export function createCA(commonName: string, options: CAOptions = {}): CertificateAndKey {
  return createCertificate({
    subject: { commonName, organizations: options.organizations },
    isCA: true,
    validityDays: options.validityDays ?? 3650,
    keyAlgorithm: options.keyAlgorithm,
    key: options.key,
  });
}

/** Read back the fields of a certificate (PEM or DER). Strict DER: throws on malformed input. */
export function inspectCertificate(cert: string | Buffer): CertificateInfo {
  const certDer = toDer(cert);
  const top = der.readSingle(certDer);
  der.expectTag(top, der.Tag.SEQUENCE, 'Certificate');
  const [tbs] = der.readChildren(top);
  der.expectTag(tbs, der.Tag.SEQUENCE, 'TBSCertificate');
  const fields = der.readChildren(tbs!);
  let i = 0;
  if (fields[0]?.tag === 0xa0) i++;
  const serial = der.decodeInteger(der.expectTag(fields[i++], der.Tag.INTEGER, 'serialNumber').content);
  i++; // signature algorithm
  const issuer = der.expectTag(fields[i++], der.Tag.SEQUENCE, 'issuer');
  const validity = der.readChildren(der.expectTag(fields[i++], der.Tag.SEQUENCE, 'validity'));
  const subject = der.expectTag(fields[i++], der.Tag.SEQUENCE, 'subject');
  const spki = der.expectTag(fields[i++], der.Tag.SEQUENCE, 'subjectPublicKeyInfo');
  const info: CertificateInfo = {
    der: certDer,
    tbsDer: tbs!.raw,
    serial,
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    subject: decodeName(subject),
    notBefore: der.decodeTime(validity[0]!),
    notAfter: der.decodeTime(validity[1]!),
    spkiDer: spki.raw,
    isCA: false,
    keyUsage: [],
    extKeyUsage: [],
    dnsNames: [],
    ipAddresses: [],
    extensions: new Map(),
  };
  const extsWrapper = fields.slice(i).find((f) => f.tag === 0xa3);
  if (!extsWrapper) return info;
  const exts = der.readChildren(der.expectTag(der.readChildren(extsWrapper)[0], der.Tag.SEQUENCE, 'extensions'));
  for (const ext of exts) {
    const parts = der.readChildren(ext);
    const id = der.decodeOid(der.expectTag(parts[0], der.Tag.OID, 'extnID').content);
    const critical = parts.length === 3 && parts[1]!.tag === der.Tag.BOOLEAN && parts[1]!.content[0] !== 0;
    const value = der.expectTag(parts[parts.length - 1], der.Tag.OCTET_STRING, 'extnValue').content;
    info.extensions.set(id, critical);
    const inner = der.readSingle(value);
    switch (id) {
      case OID.subjectKeyIdentifier:
        info.subjectKeyId = Buffer.from(inner.content);
        break;
      case OID.authorityKeyIdentifier: {
        const keyId = der.readChildren(inner).find((c) => c.tag === 0x80);
        if (keyId) info.authorityKeyId = Buffer.from(keyId.content);
        break;
      }
      case OID.basicConstraints: {
        const first = der.readChildren(inner)[0];
        info.isCA = first?.tag === der.Tag.BOOLEAN && first.content[0] !== 0;
        break;
      }
      case OID.keyUsage: {
        const bytes = inner.content.subarray(1);
        KEY_USAGES.forEach((name, bit) => {
          if ((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) info.keyUsage.push(name);
        });
        break;
      }
      case OID.extKeyUsage: {
        const byOid = new Map(Object.entries(EXT_KEY_USAGE_OIDS).map(([k, v]) => [v as string, k]));
        for (const c of der.readChildren(inner)) {
          const o = der.decodeOid(c.content);
          info.extKeyUsage.push(byOid.get(o) ?? o);
        }
        break;
      }
      case OID.subjectAltName:
        for (const name of der.readChildren(inner)) {
          if (name.tag === 0x82) info.dnsNames.push(name.content.toString('ascii'));
          else if (name.tag === 0x87) info.ipAddresses.push(formatIP(name.content));
        }
        break;
      default:
        break;
    }
  }
  return info;
}

/** Does the private key belong to the certificate? */
export function certificateMatchesKey(cert: string | Buffer, key: string | Buffer | KeyObject): boolean {
  const spki = inspectCertificate(cert).spkiDer;
  return spkiOf(crypto.createPublicKey(loadPrivateKey(key))).equals(spki);
}

/** Node's view of a certificate (PEM or DER). */
export function x509(cert: string | Buffer): X509Certificate {
  return new X509Certificate(toDer(cert));
}

/**
 * Check that `cert` was issued by `caCert` (name chaining and signature) and
 * is valid at `at` (default now). Returns a reason when it is not, undefined when it is.
 */
export function verifyIssuedBy(cert: string | Buffer, caCert: string | Buffer, at: Date = new Date()): string | undefined {
  const leaf = x509(cert);
  const ca = x509(caCert);
  if (!leaf.checkIssued(ca)) return 'it was not issued by this CA (issuer name or key identifier differ)';
  if (!leaf.verify(ca.publicKey)) return 'its signature does not verify with the CA public key';
  const info = inspectCertificate(cert);
  if (at < info.notBefore) return `it is not valid before ${info.notBefore.toISOString()}`;
  if (at > info.notAfter) return `it expired at ${info.notAfter.toISOString()}`;
  return undefined;
}
