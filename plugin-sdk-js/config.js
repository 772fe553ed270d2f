// `wasi:config/store`: the plugin's `[config]` values and `[secrets]`,
// granted by its manifest. Needs a world importing `wasi:config/store`
// (`http-handler` or `full-handler`).

import { get as configGet } from 'wasi:config/store@0.2.0-rc.1';
import { TaskError } from './types.js';

export const config = {
  /** The `[config]` value `key`, or undefined. */
  get(key) {
    return configGet(key) ?? undefined;
  },
  /**
   * The secret `key` from `[secrets]`; a permanent error naming the key if
   * it is missing. Never log it.
   */
  secret(key) {
    const value = configGet(key);
    if (value === undefined || value === null) {
      throw TaskError.permanent(`no secret \`${key}\`: add it to [secrets] in the plugin's manifest`);
    }
    return value;
  },
};
