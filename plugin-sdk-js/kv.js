// `wasi:keyvalue`: the buckets of `[capabilities] kv`, scoped to the plugin.
// Needs the `full-handler` world.

import { open as openBucket } from 'wasi:keyvalue/store@0.2.0-draft2';
import { increment as atomicIncrement } from 'wasi:keyvalue/atomics@0.2.0-draft2';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the bucket `name`: `get`, `set`, `delete`, `exists`, `increment`. */
export function bucket(name) {
  const raw = openBucket(name);
  return {
    get(key) {
      const value = raw.get(key);
      return value === undefined || value === null ? undefined : decoder.decode(value);
    },
    getBytes(key) {
      return raw.get(key) ?? undefined;
    },
    set(key, value) {
      raw.set(key, typeof value === 'string' ? encoder.encode(value) : value);
    },
    delete(key) {
      raw.delete(key);
    },
    exists(key) {
      return raw.exists(key);
    },
    increment(key, delta = 1) {
      return Number(atomicIncrement(raw, key, BigInt(delta)));
    },
  };
}
