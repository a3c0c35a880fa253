export { AcceptContent } from './accept-content.ts';
export type {
  Broker,
  ConsumeOptions,
  Consumer,
  Delivery,
  FanoutMessage,
  OutgoingMessage,
  Subscription,
} from './broker.ts';
export { formatCeleryDatetime, formatDateDone, parseCeleryDatetime } from './datetime.ts';
export { createSerializerRegistry } from './default-serializers.ts';
export {
  CeleriacError,
  ConnectionClosedError,
  ContentDisallowedError,
  DecodeError,
  EncodeError,
  ErrorCode,
  InvalidMessageError,
  LimitExceededError,
  TaskRejectError,
  TaskRetryError,
  TimeoutError,
  type CeleriacErrorOptions,
  type TaskRetryOptions,
  type ProtocolErrorContext,
} from './errors.ts';
export {
  CELERIAC_EXC_MODULE,
  decodeException,
  encodeException,
  RemoteTaskError,
  type ExceptionInfo,
  type RemoteTaskErrorOptions,
} from './exceptions.ts';
export { createJsonSerializer, jsonSerializer, type JsonSerializerOptions } from './json-serializer.ts';
export { createMsgpackSerializer, msgpackSerializer, type MsgpackSerializerOptions } from './msgpack-serializer.ts';
export { silentLogger, type LogFields, type Logger } from './logger.ts';
export { argsRepr, kwargsRepr, pyRepr, REPR_MAX_LENGTH } from './py-repr.ts';
export type { ChordPart, ChordPartProgress, ResultBackend, StoreResultOptions, WaitForOptions } from './result-backend.ts';
export {
  createResultMeta,
  decodeResultMeta,
  encodeResultMeta,
  errorFromMeta,
  pendingMeta,
  validateResultMeta,
  type DecodeResultOptions,
  type ResultExtended,
  type ResultMeta,
  type ResultMetaInput,
} from './result-meta.ts';
export {
  DEFAULT_DECODE_LIMITS,
  formatPath,
  normalizeContentType,
  SerializerRegistry,
  type ContentEncoding,
  type DecodeLimits,
  type Serializer,
  type WireValue,
} from './serializer.ts';
export {
  decodeTaskMessage,
  encodeTaskMessage,
  parseEnvelope,
  readTaskId,
  type DecodeTaskOptions,
  type DeliveryInfo,
  type EncodedTaskMessage,
  type EncodeTaskOptions,
  type EnvelopeProperties,
  type KombuEnvelope,
  type SignatureDict,
  type TaskEmbed,
  type TaskHeaders,
  type TaskMessage,
  type TaskMessageInput,
  type WireObject,
} from './task-message.ts';
export { EXCEPTION_STATES, PROPAGATE_STATES, READY_STATES, TaskState } from './task-state.ts';
