import type { z } from 'zod';

/**
 * The fields of the object schema found at `path` inside `schema`, following
 * the path of a zod issue through objects, records, arrays, wrappers (optional,
 * default, nullable...) and pipes (a transform is read from its input). Empty
 * when the path leads to no object, so an unknown field gets no suggestion.
 */
export function knownKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.core.$ZodType | undefined = schema;
  let depth = 0;
  while (node !== undefined) {
    const def: z.core.$ZodTypes['_zod']['def'] = (node as z.core.$ZodTypes)._zod.def;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        node = def.innerType;
        continue;
      case 'pipe':
        node = def.in;
        continue;
    }
    if (depth === path.length) return def.type === 'object' ? Object.keys(def.shape) : [];
    const segment = String(path[depth++]);
    if (def.type === 'object') node = Object.hasOwn(def.shape, segment) ? def.shape[segment] : undefined;
    else if (def.type === 'record') node = def.valueType;
    else if (def.type === 'array') node = def.element;
    else node = undefined;
  }
  return [];
}
