/**
 * Freezes a value and everything it holds, so a loaded config or a resolved
 * threshold set cannot be changed by whoever reads it. Returns the value.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
