export { EVENTS_PREFIX, groupToken, resourceSubject, nodePodsSubject } from './subjects';
export { encodeEvent, decodeEvent } from './codec';
export type { ChainEvent, EventType } from './codec';
export { EventConsumer } from './consumer';
export type { ConsumerHandler, EventConsumerOptions, ConsumerStats, KObject } from './consumer';
