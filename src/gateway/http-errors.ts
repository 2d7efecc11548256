import { JetqError, NotFoundError, StateError, StorageError, ValidationError } from "../errors.js";

/** The JSON body of every error answer of the HTTP gateway. */
export interface ErrorBody {
  /** Stable, machine-readable code (e.g. `"invalid_queue_name"`). */
  error: string;
  /** Human-readable explanation. */
  message: string;
}

/** A failure the HTTP gateway answers with a given status and a stable code. */
export class HttpError extends JetqError {
  /** HTTP status of the answer. */
  readonly status: number;

  constructor(status: number, code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}

/** Codes of {@link ValidationError}s that mean "too big" rather than "malformed". */
const TOO_LARGE = new Set(["payload_too_large", "body_too_large", "headers_too_large"]);

/**
 * The status and body an error is answered with: an {@link HttpError} as it is, jetq's own errors by
 * kind (validation → 400, or 413 for sizes; not found → 404; state conflict → 409; storage → 503), anything else → 500
 * `internal` (the caller logs those).
 */
export function httpErrorOf(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.status, body: { error: err.code, message: err.message } };
  if (err instanceof JetqError) {
    let status = 500;
    if (err instanceof ValidationError) status = TOO_LARGE.has(err.code) ? 413 : 400;
    else if (err instanceof NotFoundError) status = 404;
    else if (err instanceof StateError) status = 409;
    else if (err instanceof StorageError) status = 503;
    return { status, body: { error: status === 500 ? "internal" : err.code, message: err.message } };
  }
  return { status: 500, body: { error: "internal", message: "internal error; see the server log" } };
}

/** A 400 answer with `code`. */
export const badRequest = (code: string, message: string): HttpError => new HttpError(400, code, message);
