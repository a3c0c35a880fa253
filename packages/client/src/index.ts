/**
 * `@celeriac/client`: the Celeriac producer. An app built from Celery-style configuration,
 * typed task declarations, `delay` / `applyAsync` / `sendTask` with Celery's per-call
 * options, and lazy result handles from `@celeriac/backend-redis` — without the worker.
 *
 * @packageDocumentation
 */
export {
  chain,
  chord,
  chordSizeOf,
  freezeSignature,
  group,
  leafIds,
  planSignature,
  resultTupleOf,
  type CanvasPlan,
  type ChainSignature,
  type ChordSignature,
  type GroupSignature,
  type ResultNode,
} from './canvas.ts';
export { App, createApp, type CreateAppOptions, type TaskDeclaration } from './app.ts';
export {
  assertRedisUrl,
  resolveConfig,
  type CeleryConfigInput,
  type CeleryConfigNamespaced,
  type CeleryConfigNew,
  type CeleryConfigOld,
  type ResolveConfigOptions,
} from './config.ts';
export { DisabledBackend, noBackendError } from './disabled-backend.ts';
export { closestName, editDistance } from './edit-distance.ts';
export {
  completeRetryPolicy,
  DEFAULT_RETRY_POLICY,
  isRetryablePublishError,
  publishWithRetry,
  retryInterval,
  type PublishWithRetryOptions,
} from './publish-retry.ts';
export {
  createRouter,
  globToRegExp,
  toRoute,
  type ResolvedRoute,
  type RouteAnswer,
  type Router,
  type TaskRoute,
  type TaskRouteMap,
  type TaskRoutePairs,
  type TaskRouter,
  type TaskRouterEntry,
  type TaskRoutes,
} from './routes.ts';
export {
  fromWireOptions,
  SEND_OPTION_NAMES,
  toSignatureDict,
  toSignatureList,
  toWireOptions,
  type RetryPolicy,
  type SendOptions,
  type SignatureLike,
} from './send-options.ts';
export { SentGroupResult } from './sent-group-result.ts';
export { SentResult, type SentResultInit } from './sent-result.ts';
export {
  defaultConfig,
  OLD_SETTING_NAMES,
  SETTINGS,
  type BrokerTransportOptions,
  type CeleryConfig,
  type OldSettingName,
  type PublishRetryPolicyConfig,
  type ResultBackendTransportOptions,
  type SettingCheck,
  type SettingName,
  type SettingSpec,
} from './settings.ts';
export { createSignature, type SignatureOptions } from './signature.ts';
export {
  TASK_OPTION_NAMES,
  type RetryCallOptions,
  type TaskContext,
  type TaskDefinition,
  type TaskFunction,
  type TaskOptions,
  type TaskPool,
  type TaskRegistry,
  type TaskRequest,
} from './task-definition.ts';
export { Task, type ArgsSuffix, type TaskSender, type TaskSignatureOptions } from './task.ts';
