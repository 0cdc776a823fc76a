export { EtcdClient, EtcdError, Watcher, prefixEnd } from './client';
export type { EtcdClientOptions, GetOptions, KeyValue, Event } from './client';
