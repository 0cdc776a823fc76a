import crypto, { type KeyObject } from 'node:crypto';

/**
 * Key algorithms: the set kubeadm's `encryptionAlgorithm` offers. ECDSA P-256
 * is the default (small keys, fast handshakes, accepted everywhere).
 */
export const KEY_ALGORITHMS = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export interface KeyPair {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** "EC PRIVATE KEY" (SEC 1) for ECDSA, "RSA PRIVATE KEY" (PKCS #1) for RSA: the forms kubeadm writes. */
  privateKeyPem: string;
  /** "PUBLIC KEY" (PKIX SubjectPublicKeyInfo). */
  publicKeyPem: string;
}

const CURVES: Record<string, KeyAlgorithm> = { prime256v1: 'ecdsa-p256', secp384r1: 'ecdsa-p384' };

/** Generate a key pair (default ECDSA P-256). */
export function generateKeyPair(algorithm: KeyAlgorithm = 'ecdsa-p256'): KeyPair {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  switch (algorithm) {
    case 'ecdsa-p256':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      break;
    case 'ecdsa-p384':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      break;
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      pair = crypto.generateKeyPairSync('rsa', { modulusLength: Number(algorithm.slice(4)), publicExponent: 65537 });
      break;
    default:
      throw new Error(`unsupported key algorithm "${String(algorithm)}" (use one of ${KEY_ALGORITHMS.join(', ')})`);
  }
  return keyPairOf(pair.privateKey);
}

/** The key pair of an existing private key (PEM, DER or KeyObject). */
export function keyPairOf(key: string | Buffer | KeyObject): KeyPair {
  const privateKey = loadPrivateKey(key);
  const algorithm = keyAlgorithmOf(privateKey);
  const publicKey = crypto.createPublicKey(privateKey);
  return { algorithm, privateKey, publicKey, privateKeyPem: privateKeyToPem(privateKey), publicKeyPem: publicKeyToPem(publicKey) };
}

/** A private key from PEM (any of PKCS #8, SEC 1, PKCS #1), DER (PKCS #8) or a KeyObject. */
export function loadPrivateKey(key: string | Buffer | KeyObject): KeyObject {
  if (typeof key === 'object' && !Buffer.isBuffer(key)) {
    if (key.type !== 'private') throw new Error('expected a private key');
    return key;
  }
  const text = typeof key === 'string' ? key : key.toString('latin1');
  if (text.includes('-----BEGIN')) return crypto.createPrivateKey({ key: text, format: 'pem' });
  return crypto.createPrivateKey({ key: Buffer.isBuffer(key) ? key : Buffer.from(key, 'latin1'), format: 'der', type: 'pkcs8' });
}

/** Which supported algorithm a key uses; throws for others (Ed25519, RSA-PSS, other curves). */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const alg = CURVES[details.namedCurve ?? ''];
    if (alg) return alg;
    throw new Error(`unsupported EC curve ${details.namedCurve ?? '(unknown)'} (P-256 and P-384 are supported)`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    const alg = `rsa-${bits}`;
    if ((KEY_ALGORITHMS as readonly string[]).includes(alg)) return alg as KeyAlgorithm;
    throw new Error(`unsupported RSA modulus length ${bits} (2048, 3072 and 4096 are supported)`);
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? '(unknown)'}`);
}

export function privateKeyToPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'ec' ? 'sec1' : key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'pkcs8';
  return key.export({ format: 'pem', type }) as string;
}

export function publicKeyToPem(key: KeyObject): string {
  const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
  return pub.export({ format: 'pem', type: 'spki' }) as string;
}

/**
 * Map kubeadm's encryptionAlgorithm names ("ECDSA-P256", "RSA-2048", ...)
 * and this library's names to a KeyAlgorithm.
 */
export function parseKeyAlgorithm(text: string): KeyAlgorithm {
  const name = text.trim().toLowerCase();
  const found = KEY_ALGORITHMS.find((a) => a === name);
  if (!found) throw new Error(`unsupported key algorithm "${text}" (use one of ${KEY_ALGORITHMS.map((a) => a.toUpperCase()).join(', ')})`);
  return found;
}

/** The X.509 signature algorithm a key signs with, and the digest to pass to crypto.sign. */
export function signatureAlgorithmOf(key: KeyObject): { name: string; oid: string; hash: string; nullParameters: boolean } {
  const alg = keyAlgorithmOf(key);
  switch (alg) {
    case 'ecdsa-p256':
      return { name: 'ecdsa-with-SHA256', oid: '1.2.840.10045.4.3.2', hash: 'sha256', nullParameters: false };
    case 'ecdsa-p384':
      return { name: 'ecdsa-with-SHA384', oid: '1.2.840.10045.4.3.3', hash: 'sha384', nullParameters: false };
    default:
      return { name: 'sha256WithRSAEncryption', oid: '1.2.840.113549.1.1.11', hash: 'sha256', nullParameters: true };
  }
}
