import fs from 'node:fs';
import path from 'node:path';
import type { CertificateAndKey } from './certificate';

/** Mode of private keys and other secrets (kubeadm writes 0600). */
export const KEY_FILE_MODE = 0o600;
/** Mode of certificates and public keys. */
export const CERT_FILE_MODE = 0o644;

/**
 * Write `data` to `file` atomically (a temporary file in the same directory,
 * then rename) with exactly `mode`, creating the directory (0755) if needed.
 * The mode is set before any data is written, so a secret is never readable
 * by others, even briefly, and an existing file's looser mode is not kept.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/** Write a private key (or any secret) with mode 0600. */
export function writeKeyFile(file: string, pem: string): void {
  writeFileAtomic(file, pem, KEY_FILE_MODE);
}

/** Write a certificate or public key with mode 0644. */
export function writeCertFile(file: string, pem: string): void {
  writeFileAtomic(file, pem, CERT_FILE_MODE);
}

export interface CertAndKeyPaths {
  certPath: string;
  keyPath: string;
}

/** kubeadm's naming: <dir>/<baseName>.crt (0644) and <dir>/<baseName>.key (0600). */
export function certAndKeyPaths(dir: string, baseName: string): CertAndKeyPaths {
  return { certPath: path.join(dir, `${baseName}.crt`), keyPath: path.join(dir, `${baseName}.key`) };
}

/** Write <dir>/<baseName>.crt and <dir>/<baseName>.key. The key is written first. */
export function writeCertAndKey(dir: string, baseName: string, pair: Pick<CertificateAndKey, 'certPem' | 'keyPem'>): CertAndKeyPaths {
  const paths = certAndKeyPaths(dir, baseName);
  writeKeyFile(paths.keyPath, pair.keyPem);
  writeCertFile(paths.certPath, pair.certPem);
  return paths;
}

/** Read <dir>/<baseName>.crt and .key, or undefined when either is missing. */
export function readCertAndKey(dir: string, baseName: string): { certPem: string; keyPem: string } | undefined {
  const { certPath, keyPath } = certAndKeyPaths(dir, baseName);
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) return undefined;
  return { certPem: fs.readFileSync(certPath, 'utf8'), keyPem: fs.readFileSync(keyPath, 'utf8') };
}
