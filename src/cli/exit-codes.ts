/**
 * The exit codes of the `jetq` command (documented in docs/cli.md), so that scripts can tell a
 * missing task from an unreachable server without parsing messages.
 */
import {
  AuthorizationError,
  ConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
} from "@nats-io/nats-core";
import { CommanderError } from "commander";
import { ConfigError, NotFoundError, StateError, StorageError, ValidationError } from "../errors.js";
import { HttpError } from "../gateway/http-errors.js";

/** What each exit code means. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** An unexpected failure (a bug, or an error jetq does not classify). */
  failed: 1,
  /** The command line or an input was wrong: unknown command or option, invalid value or name, bad file. */
  usage: 2,
  /** The queue, task, schedule or dead letter named does not exist. */
  notFound: 3,
  /** The target's state refuses the operation (a finished task, an immutable setting, a change that would drop tasks). */
  conflict: 4,
  /** NATS or JetStream could not be reached or used (connection refused, authorization, timeout, storage failure). */
  unavailable: 5,
  /** A bulk operation finished, but some of its items failed (listed in its answer). */
  partial: 6,
  /** Stopped by Ctrl-C (SIGINT). */
  interrupted: 130,
} as const;

/** The exit code an error ends the command with. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof HttpError)
    return err.status === 404
      ? EXIT.notFound
      : err.status === 409
        ? EXIT.conflict
        : err.status >= 500
          ? EXIT.unavailable
          : EXIT.usage;
  if (err instanceof ValidationError || err instanceof ConfigError) return EXIT.usage;
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof StateError) return EXIT.conflict;
  if (
    err instanceof StorageError ||
    err instanceof ConnectionError ||
    err instanceof AuthorizationError ||
    err instanceof UserAuthenticationExpiredError ||
    err instanceof TimeoutError ||
    err instanceof RequestError ||
    err instanceof NoRespondersError
  )
    return EXIT.unavailable;
  return EXIT.failed;
}
