// @kubets/cli as a library: run `kubets init` programmatically (tests of
// other projects generate a cluster's PKI with runInit).
export {
  runInit,
  readInitSummary,
  apiServerAltNames,
  InitError,
  DEFAULT_OUT_DIR,
  FILES,
  SUMMARY_FILE,
  ADMIN_TOKEN_USER,
} from './init';
export type { InitOptions, InitResult, InitSummary, InitFile, FileAction, FileKey } from './init';
export {
  parseInitConfiguration,
  configFromFlags,
  parseEndpoint,
  parseGoDuration,
  InitConfigError,
  DEFAULTS,
  KUBEADM_V1BETA3,
  KUBEADM_V1BETA4,
} from './config';
export type { InitConfiguration, BootstrapToken, HostPort, InitFlags, ParseOptions } from './config';
export { buildKubeconfig, readKubeconfig, contextName } from './kubeconfig';
export type { KubeconfigOptions, KubeconfigUser, KubeconfigView } from './kubeconfig';
export {
  generateBootstrapToken,
  generateBearerToken,
  bootstrapUser,
  formatTokenFile,
  parseTokenFile,
  BOOTSTRAP_TOKEN_PATTERN,
  BOOTSTRAPPERS_GROUP,
  DEFAULT_BOOTSTRAP_GROUP,
} from './tokens';
export type { TokenEntry } from './tokens';
export { parseCidr, nthAddress, cidrsOverlap, ipFamily } from './net';
export type { Cidr } from './net';
