export {
  createCertificate,
  createCA,
  inspectCertificate,
  certificateMatchesKey,
  certificateToPem,
  certificateToDer,
  verifyIssuedBy,
  subjectKeyIdOf,
  publicKeyPin,
  x509,
  KEY_USAGES,
  EXT_KEY_USAGE_OIDS,
  OID,
} from './certificate';
export type { CertificateOptions, CertificateAndKey, CertificateInfo, CAOptions, Issuer, Subject, KeyUsage, ExtKeyUsage } from './certificate';
export {
  generateKeyPair,
  keyPairOf,
  loadPrivateKey,
  keyAlgorithmOf,
  parseKeyAlgorithm,
  privateKeyToPem,
  publicKeyToPem,
  signatureAlgorithmOf,
  KEY_ALGORITHMS,
} from './keys';
export type { KeyAlgorithm, KeyPair } from './keys';
export {
  writeFileAtomic,
  writeKeyFile,
  writeCertFile,
  writeCertAndKey,
  readCertAndKey,
  certAndKeyPaths,
  KEY_FILE_MODE,
  CERT_FILE_MODE,
} from './files';
export type { CertAndKeyPaths } from './files';
export { parseIP, formatIP } from './ip';
export * as der from './der';
