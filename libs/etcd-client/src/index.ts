export { EtcdClient, EtcdError, Watcher, prefixEnd } from './client';
export type { EtcdClientOptions, GetOptions, KeyValue, Event } from './client';
export { rangeRequest, putRequest, txnOp } from './ops';
