/**
 * The nats CLI's saved contexts (`nats context add …`): JSON files in
 * `$XDG_CONFIG_HOME/nats/context/<name>.json` (else `~/.config/nats/context/`), the selected one
 * named in `../context.txt`. jetq reads them so that `--context` and the `natsContext` option
 * connect wherever `nats --context` does.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { ConfigError } from "../errors.js";
import type { NatsOptions } from "./connect.js";

/** Fields of a context file that jetq cannot honour; a context that sets one is refused. */
const UNSUPPORTED = [
  "nsc",
  "jetstream_domain",
  "jetstream_api_prefix",
  "socks_proxy",
  "user_jwt",
  "windows_cert_store",
];

const NAME = /^[A-Za-z0-9_.@-]{1,128}$/;

/** The nats CLI's configuration directory (`…/nats`), from `XDG_CONFIG_HOME` or the home directory. */
export function natsConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), ".config");
  return join(base, "nats");
}

/** The name of the context selected with `nats context select`, or undefined when none is. */
export function selectedNatsContext(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const name = readFileSync(join(natsConfigDir(env), "context.txt"), "utf8").trim();
    return name === "" ? undefined : name;
  } catch {
    return undefined;
  }
}

/** Where a context's file is: `name` may also be the absolute path of a context file. */
function contextFile(name: string, env: NodeJS.ProcessEnv): string {
  if (isAbsolute(name)) return name;
  if (!NAME.test(name) || name.startsWith("."))
    throw new ConfigError("invalid_nats_context", `invalid NATS context name ${JSON.stringify(name.slice(0, 130))}`);
  return join(natsConfigDir(env), "context", `${name}.json`);
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);

/**
 * The connection settings of a nats CLI context: servers (`url`), `token`, `user`/`password`,
 * `creds`, `nkey` (seed file), TLS `cert`/`key`/`ca`, `tls_first` and `inbox_prefix`.
 * @param name a context name, an absolute path of a context file, or `""` for the selected context
 * @throws ConfigError (`nats_context_not_found`, `invalid_nats_context`, `unsupported_nats_context`)
 */
export function loadNatsContext(name: string, env: NodeJS.ProcessEnv = process.env): NatsOptions {
  const chosen = name === "" ? selectedNatsContext(env) : name;
  if (chosen === undefined)
    throw new ConfigError("nats_context_not_found", "no NATS context is selected (nats context select <name>)");
  const file = contextFile(chosen, env);
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError("nats_context_not_found", `cannot read NATS context ${chosen} (${file})`, { cause: err });
  }
  let ctx: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object");
    ctx = v as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError("invalid_nats_context", `NATS context ${chosen} is not valid: ${(err as Error).message}`);
  }
  const unsupported = UNSUPPORTED.filter((k) => text(ctx[k]) !== undefined);
  if (unsupported.length > 0)
    throw new ConfigError(
      "unsupported_nats_context",
      `NATS context ${chosen} sets ${unsupported.join(", ")}, which jetq does not support`,
    );
  const opts: NatsOptions = {};
  const set = <K extends keyof NatsOptions>(key: K, v: NatsOptions[K] | undefined) => {
    if (v !== undefined) opts[key] = v;
  };
  set("servers", text(ctx.url));
  set("token", text(ctx.token));
  set("user", text(ctx.user));
  set("password", text(ctx.password));
  set("credentials", text(ctx.creds));
  set("nkey", text(ctx.nkey));
  set("cert", text(ctx.cert));
  set("key", text(ctx.key));
  set("ca", text(ctx.ca));
  set("inboxPrefix", text(ctx.inbox_prefix));
  if (ctx.tls_first === true) opts.tlsFirst = true;
  return opts;
}
