import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCA } from './certificate';
import { readCertAndKey, writeCertAndKey, writeKeyFile } from './files';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-pki-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const mode = (file: string) => fs.statSync(file).mode & 0o777;

test('keys are 0600, certificates 0644, directories created', () => {
  const ca = createCA('kubernetes');
  const paths = writeCertAndKey(path.join(dir, 'pki'), 'ca', ca);
  expect(paths).toEqual({ certPath: path.join(dir, 'pki', 'ca.crt'), keyPath: path.join(dir, 'pki', 'ca.key') });
  expect(mode(paths.keyPath)).toBe(0o600);
  expect(mode(paths.certPath)).toBe(0o644);
  expect(readCertAndKey(path.join(dir, 'pki'), 'ca')).toEqual({ certPem: ca.certPem, keyPem: ca.keyPem });
  expect(readCertAndKey(path.join(dir, 'pki'), 'missing')).toBeUndefined();
  expect(fs.readdirSync(path.join(dir, 'pki')).sort()).toEqual(['ca.crt', 'ca.key']);
});

test('overwriting a world-readable file leaves it 0600', () => {
  const file = path.join(dir, 'secret.key');
  fs.writeFileSync(file, 'old', { mode: 0o644 });
  writeKeyFile(file, 'new');
  expect(mode(file)).toBe(0o600);
  expect(fs.readFileSync(file, 'utf8')).toBe('new');
});
