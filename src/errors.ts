/**
 * Every error jetq throws on purpose is a {@link JetqError} with a stable string `code`,
 * so callers can branch on `err.code` rather than on message text.
 */
export class JetqError extends Error {
  /** Stable, machine-readable error code (e.g. `"invalid_name"`). */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that is malformed or out of range: a bad name, an oversize payload, an unknown option. */
export class ValidationError extends JetqError {}

/** A task, queue or schedule that does not exist. */
export class NotFoundError extends JetqError {}

/** JetStream refused or failed an operation (stream missing, publish not acknowledged, timeout). */
export class StorageError extends JetqError {}

/** A configuration or environment problem found while starting a component. */
export class ConfigError extends JetqError {}

/** The operation does not fit the current state of its target (e.g. cancelling a finished task). */
export class StateError extends JetqError {}

/** The text of a thrown value, for logs and error records: an `Error`'s message, anything else as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
