export * from './rules';
export { NftablesBackend, IpvsBackend, IPVS_DEVICE, type Backend, type BackendOptions, type SyncResult } from './backends';
export { Proxier, type ProxierOptions } from './proxier';
export { run, CommandError } from './exec';
