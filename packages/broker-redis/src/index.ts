export { type FanoutHub } from './fanout-hub.ts';
export {
  DEFAULT_PRIORITY_STEPS,
  KOMBU_SEP,
  KombuKeys,
  type RedisBrokerTransportOptions,
} from './kombu-keys.ts';
export { createRedisBroker, RedisBroker, type RedisBrokerOptions } from './redis-broker.ts';
export { type ConsumerCloseOptions, type RedisConsumer } from './redis-consumer.ts';
export { type RedisDelivery } from './redis-delivery.ts';
