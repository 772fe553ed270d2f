// The values a handler works with: its task, its output, its error.
// Free of WIT imports, so that a plugin's own logic can be unit-tested with
// `node --test`, outside any component.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A successful result: bytes and an optional content type. */
export class Output {
  constructor(data, contentType) {
    this.data = typeof data === 'string' ? encoder.encode(data) : data;
    this.contentType = contentType;
  }
  static json(value) {
    return new Output(JSON.stringify(value), 'application/json');
  }
  static text(text) {
    return new Output(text, 'text/plain; charset=utf-8');
  }
  static bytes(data) {
    return new Output(data, undefined);
  }
}

/** A failed run: retryable (with an optional delay) or permanent. */
export class TaskError extends Error {
  constructor(kind, message, retryAfterMs) {
    super(message);
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
  }
  static retryable(message, retryAfterMs) {
    return new TaskError('retryable', message, retryAfterMs);
  }
  static permanent(message) {
    return new TaskError('permanent', message, undefined);
  }
  /**
   * The WIT `task-error` record. A `retryAfterMs` the host cannot take (not
   * a whole number of milliseconds in 0..2^64) would trap the component
   * when lowered; it makes the error permanent instead, saying so.
   */
  toWit() {
    const delay = this.retryAfterMs;
    if (delay === undefined || delay === null) {
      return { kind: this.kind, message: this.message, retryAfterMs: undefined };
    }
    const whole = typeof delay === 'bigint' || (typeof delay === 'number' && Number.isInteger(delay));
    if (whole && delay >= 0 && delay < 2 ** 64) {
      return { kind: this.kind, message: this.message, retryAfterMs: BigInt(delay) };
    }
    return {
      kind: 'permanent',
      message:
        `${this.message} (and its retry delay ${JSON.stringify(String(delay))} is not a whole ` +
        'number of milliseconds from 0 to 18446744073709551615, so it is not retried)',
      retryAfterMs: undefined,
    };
  }
}

/** The task as the handler sees it, with `text()` and `json()`. */
export class Task {
  constructor(raw) {
    this.id = raw.id;
    this.taskType = raw.taskType;
    this.payload = raw.payload;
    this.attempt = raw.attempt;
    this.maxAttempts = raw.maxAttempts;
    this.enqueuedAtMs = Number(raw.enqueuedAtMs);
    this.deadlineMs = Number(raw.deadlineMs);
    this.children = raw.children ?? [];
  }
  text() {
    return decoder.decode(this.payload);
  }
  /** The payload as JSON; malformed JSON is a permanent error. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (e) {
      throw TaskError.permanent(`payload is not valid JSON: ${e.message}`);
    }
  }
}
