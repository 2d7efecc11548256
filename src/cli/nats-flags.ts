import { type Command, Option } from "commander";
import type { NatsOptions } from "../nats/connect.js";
import { selectedNatsContext } from "../nats/nats-context.js";

/**
 * Adds Gozo's connection flags (same short letters), each also read from `NATS_<NAME>`,
 * plus `--ca` and `--context` (a nats CLI context, whose settings the other flags override).
 * A flag given on the command line beats the environment.
 */
export function addNatsFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--context [name]",
        "use a nats CLI context (~/.config/nats/context/<name>.json); without a name, the selected one",
      ).env("NATS_CONTEXT"),
    )
    .addOption(
      new Option("-a, --address <urls>", "NATS server URL(s), comma-separated; none = embedded server").env(
        "NATS_ADDRESS",
      ),
    )
    .addOption(new Option("-s, --secure", "require a TLS connection").env("NATS_SECURE"))
    .addOption(new Option("-t, --token <token>", "token authentication").env("NATS_TOKEN"))
    .addOption(new Option("-u, --user <user>", "user name").env("NATS_USER"))
    .addOption(new Option("-p, --password <password>", "password").env("NATS_PASSWORD"))
    .addOption(new Option("-c, --cert <file>", "client TLS certificate").env("NATS_CERT"))
    .addOption(new Option("-k, --key <file>", "client TLS key").env("NATS_KEY"))
    .addOption(new Option("--ca <file>", "CA certificate to verify the server").env("NATS_CA"))
    .addOption(new Option("-n, --nkey <file>", "NKey seed file").env("NATS_NKEY"))
    .addOption(new Option("-j, --jwt <file>", "credentials file (JWT and seed)").env("NATS_JWT"));
}

/** The parsed values of {@link addNatsFlags}. */
export interface NatsFlags {
  /** A context name, or `true` for the selected context. */
  context?: string | true;
  address?: string;
  secure?: boolean | string;
  token?: string;
  user?: string;
  password?: string;
  cert?: string;
  key?: string;
  ca?: string;
  nkey?: string;
  jwt?: string;
}

/**
 * Turns parsed flags into connection options. With `selectedContext`, a command given neither an
 * address nor `--context` uses the nats CLI's selected context when there is one (as `nats` does).
 */
export function natsOptionsFromFlags(f: NatsFlags, how: { selectedContext?: boolean } = {}): NatsOptions {
  const opts: NatsOptions = {};
  if (f.context !== undefined) opts.natsContext = f.context === true ? "" : f.context;
  else if (how.selectedContext && !f.address && selectedNatsContext() !== undefined) opts.natsContext = "";
  if (f.address) opts.servers = f.address;
  if (f.secure !== undefined && f.secure !== false && f.secure !== "false" && f.secure !== "0") opts.secure = true;
  if (f.token) opts.token = f.token;
  if (f.user) opts.user = f.user;
  if (f.password) opts.password = f.password;
  if (f.cert) opts.cert = f.cert;
  if (f.key) opts.key = f.key;
  if (f.ca) opts.ca = f.ca;
  if (f.nkey) opts.nkey = f.nkey;
  if (f.jwt) opts.credentials = f.jwt;
  return opts;
}
