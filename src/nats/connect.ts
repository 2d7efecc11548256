import { readFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
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
 * Server URLs without the credentials some of them carry (`nats://user:pass@host:4222`, or
 * `nats://token@host:4222`), and the first such credentials. The NATS client ignores credentials
 * in URLs, so they are taken out and used as user/password or token authentication.
 */
export function splitUrlCredentials(servers: readonly string[]): {
  servers: string[];
  user?: string;
  password?: string;
  token?: string;
} {
  const out: { servers: string[]; user?: string; password?: string; token?: string } = { servers: [] };
  let found = false;
  for (const s of servers) {
    let url: URL;
    try {
      url = new URL(s.includes("://") ? s : `nats://${s}`);
    } catch {
      out.servers.push(s);
      continue;
    }
    if (!url.username && !url.password) {
      out.servers.push(s);
      continue;
    }
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (!found) {
      found = true;
      if (url.password) {
        out.user = user;
        out.password = password;
      } else out.token = user;
    }
    url.username = "";
    url.password = "";
    out.servers.push(url.toString().replace(/\/$/, ""));
  }
  return out;
}

/**
 * Reads the `INFO` line a NATS server sends first, over plain TCP, or undefined when it cannot
 * be read within `timeoutMs` (the caller then connects as usual and gets the client's error).
 */
async function serverInfo(server: string, timeoutMs = 2000): Promise<Record<string, unknown> | undefined> {
  let url: URL;
  try {
    url = new URL(server.includes("://") ? server : `nats://${server}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== "nats:" && url.protocol !== "tls:") return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || 4222);
  return new Promise((resolve) => {
    let buf = "";
    const socket = tcpConnect({ host, port });
    const done = (v: Record<string, unknown> | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on("error", () => done(undefined));
    socket.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n");
      if (end < 0) return buf.length > 65_536 ? done(undefined) : undefined;
      const line = buf.slice(0, end);
      try {
        done(line.startsWith("INFO ") ? (JSON.parse(line.slice(5)) as Record<string, unknown>) : undefined);
      } catch {
        done(undefined);
      }
    });
  });
}

/**
 * Connects to NATS with reconnects enabled forever (a worker or service should ride out a server restart).
 * Credentials in server URLs are used when no user or token is given. With TLS wanted but no
 * client certificate, the server is asked first whether it requires one, so that case fails at
 * once with a clear error instead of a connect timeout.
 * @throws ConfigError for unreadable key files, `tls_client_cert_required`; the client's own error
 * when no server answers.
 */
export async function connectNats(given: NatsOptions = {}): Promise<NatsConnection> {
  const opts = withContext(given);
  const fromUrls = splitUrlCredentials(serverList(opts.servers));
  const user = opts.user ?? fromUrls.user;
  const password = opts.user ? opts.password : (fromUrls.password ?? opts.password);
  const token = opts.token ?? (opts.user ? undefined : fromUrls.token);
  const authenticator: Authenticator[] = [];
  if (token) authenticator.push(tokenAuthenticator(token));
  if (user) authenticator.push(usernamePasswordAuthenticator(user, password));
  if (opts.nkey) {
    const seed = readSecret(opts.nkey, "nkey seed");
    authenticator.push(nkeyAuthenticator(new TextEncoder().encode(Buffer.from(seed).toString("utf8").trim())));
  }
  if (opts.credentials) authenticator.push(credsAuthenticator(readSecret(opts.credentials, "credentials")));
  const tlsWanted = opts.secure || opts.tlsFirst || opts.cert || opts.key || opts.ca;
  if (tlsWanted && !opts.tlsFirst && !(opts.cert && opts.key)) {
    const info = await serverInfo(fromUrls.servers[0]!);
    if (info?.tls_verify === true)
      throw new ConfigError(
        "tls_client_cert_required",
        `the NATS server at ${fromUrls.servers[0]} requires a TLS client certificate: give it with -c/--cert and -k/--key (NATS_CERT, NATS_KEY)${opts.cert || opts.key ? ` (only ${opts.cert ? "--cert" : "--key"} was given)` : ""}`,
      );
  }
  return connect({
    servers: fromUrls.servers,
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
