import { jsonSerializer } from './json-serializer.ts';
import { msgpackSerializer } from './msgpack-serializer.ts';
import { SerializerRegistry } from './serializer.ts';

/**
 * A registry holding the built-in serializers, `json` and `msgpack`, open to more.
 *
 * @returns a new registry (each caller may register its own serializers without affecting others)
 */
export function createSerializerRegistry(): SerializerRegistry {
  return new SerializerRegistry([jsonSerializer, msgpackSerializer]);
}

export { jsonSerializer, msgpackSerializer };
