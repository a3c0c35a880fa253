import { CeleriacError, ContentDisallowedError, ErrorCode } from './errors.ts';
import { normalizeContentType, type SerializerRegistry } from './serializer.ts';

/** Content types kombu knows by name, so an accept list may name them without us registering them. */
const KNOWN_NAMES: Readonly<Record<string, string>> = {
  json: 'application/json',
  msgpack: 'application/x-msgpack',
  pickle: 'application/x-python-serialize',
  yaml: 'application/x-yaml',
};

/**
 * The accept-content whitelist (Celery's `accept_content` / `result_accept_content`),
 * checked before a single byte is decoded. Entries are serializer names (`json`) or MIME
 * types (`application/json`), as in Celery.
 *
 * @see celery-wire.md §3.3
 */
export class AcceptContent {
  readonly #types: ReadonlySet<string>;
  /** The accepted MIME types, normalized. */
  readonly contentTypes: readonly string[];

  /**
   * @param entries - names or MIME types; json only by default
   * @param registry - resolves names of registered serializers to their content type
   * @throws {@link CeleriacError} `INVALID_CONFIG` for a name that is neither registered, known to
   *   kombu, nor a MIME type
   */
  constructor(entries: Iterable<string> = ['json'], registry?: SerializerRegistry) {
    const types = new Set<string>();
    for (const entry of entries) {
      const contentType = entry.includes('/')
        ? normalizeContentType(entry)
        : (registry?.find(entry)?.contentType ?? KNOWN_NAMES[entry]);
      if (contentType === undefined) {
        throw new CeleriacError(
          ErrorCode.INVALID_CONFIG,
          `Unknown serializer ${JSON.stringify(entry)} in accept_content ` +
            `(expected a MIME type or one of: ${[...new Set([...(registry?.names() ?? []), ...Object.keys(KNOWN_NAMES)])].join(', ')})`,
        );
      }
      types.add(normalizeContentType(contentType));
    }
    this.#types = types;
    this.contentTypes = [...types];
  }

  /**
   * @param contentType - a MIME type as found in a message
   * @returns whether it is accepted
   */
  accepts(contentType: string): boolean {
    return this.#types.has(normalizeContentType(contentType));
  }

  /**
   * @param contentType - a MIME type as found in a message
   * @param taskId - the task id, for the error
   * @throws {@link ContentDisallowedError} when it is not accepted
   */
  assert(contentType: string, taskId?: string): void {
    if (!this.accepts(contentType)) {
      throw new ContentDisallowedError(contentType, this.contentTypes, { taskId, contentType });
    }
  }
}
