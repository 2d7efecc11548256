import { readFileSync } from "node:fs";
import {
  type Authenticator,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ConfigError } from "../errors.js";
import { loadNatsContext } from "./nats-context.js";

/** How to reach NATS; the same fields as `jetq serve`'s flags (and Gozo's). */
export interface NatsOptions {
  /** Server URL(s); a comma-separated string or a list. @defaultValue `"nats://127.0.0.1:4222"` */
  servers?: string | string[];
  /** Require TLS. @defaultValue false */
  secure?: boolean;
  /** Token authentication. */
  token?: string;
  /** User name (with {@link password}). */
  user?: string;
  /** Password for {@link user}. */
  password?: string;
  /** Client TLS certificate file. */
  cert?: string;
  /** Client TLS key file. */
  key?: string;
  /** CA certificate file to verify the server. */
  ca?: string;
  /** NKey seed file. */
  nkey?: string;
  /** Credentials (JWT + seed) file. */
  credentials?: string;
  /** Do the TLS handshake before the server's INFO (servers configured with `handshake_first`). @defaultValue false */
  tlsFirst?: boolean;
  /** Prefix of reply subjects (the account's permissions may require one). @defaultValue `"_INBOX"` */
  inboxPrefix?: string;
  /**
   * Start from the settings of this nats CLI context (`~/.config/nats/context/<name>.json`, the
   * same files as `nats --context`), or of the selected one with `""`; an absolute path names a
   * context file. Every other option given here beats the context's value.
   * @defaultValue none
   */
  natsContext?: string;
  /** Connection name shown in server monitoring. @defaultValue `"jetq"` */
  name?: string;
  /**
   * Capture the caller's stack for every request so that timeouts point at the calling code.
   * Costs two `Error` objects per JetStream publish (a quarter of the CPU of an enqueue), so it is
   * off unless you are debugging. @defaultValue false
   */
  asyncTraces?: boolean;
}

function readSecret(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError("unreadable_file", `cannot read ${what} file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Splits `"a,b"` or a list into server URLs. */
export function serverList(servers: string | string[] | undefined): string[] {
  const list = (Array.isArray(servers) ? servers : (servers ?? "nats://127.0.0.1:4222").split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError("no_servers", "no NATS server address given");
  return list;
}

/**
 * Connects to NATS with reconnects enabled forever (a worker or service should ride out a server restart).
 * @throws ConfigError for unreadable key files; the client's own error when no server answers.
 */
export async function connectNats(given: NatsOptions = {}): Promise<NatsConnection> {
  const opts = withContext(given);
  const authenticator: Authenticator[] = [];
  if (opts.token) authenticator.push(tokenAuthenticator(opts.token));
  if (opts.user) authenticator.push(usernamePasswordAuthenticator(opts.user, opts.password));
  if (opts.nkey) {
    const seed = readSecret(opts.nkey, "nkey seed");
    authenticator.push(nkeyAuthenticator(new TextEncoder().encode(Buffer.from(seed).toString("utf8").trim())));
  }
  if (opts.credentials) authenticator.push(credsAuthenticator(readSecret(opts.credentials, "credentials")));
  const tlsWanted = opts.secure || opts.tlsFirst || opts.cert || opts.key || opts.ca;
  return connect({
    servers: serverList(opts.servers),
    name: opts.name ?? "jetq",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    noAsyncTraces: !opts.asyncTraces,
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    ...(authenticator.length > 0 ? { authenticator } : {}),
    ...(tlsWanted
      ? {
          tls: {
            ...(opts.tlsFirst ? { handshakeFirst: true } : {}),
            ...(opts.cert ? { certFile: opts.cert } : {}),
            ...(opts.key ? { keyFile: opts.key } : {}),
            ...(opts.ca ? { caFile: opts.ca } : {}),
          },
        }
      : {}),
  });
}

/**
 * The options with their `natsContext` applied: the context's settings, then every option given
 * (a field left undefined keeps the context's value).
 * @throws ConfigError when the context cannot be read or uses what jetq does not support
 */
export function withContext(opts: NatsOptions): NatsOptions {
  if (opts.natsContext === undefined) return opts;
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as NatsOptions;
  const { natsContext: _, ...merged } = { ...loadNatsContext(opts.natsContext), ...given };
  return merged;
}
