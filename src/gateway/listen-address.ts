import { ConfigError } from "../errors.js";

/** A host and port to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port` (`[::1]:8080` for IPv6; `:8080` means 127.0.0.1), or `off` (→ undefined).
 * @throws ConfigError (`invalid_http_address`)
 */
export function parseListenAddress(value: string): ListenAddress | undefined {
  const v = value.trim();
  if (v.toLowerCase() === "off") return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || port > 65_535)
    throw new ConfigError(
      "invalid_http_address",
      `invalid HTTP address ${JSON.stringify(value)}: use host:port or off`,
    );
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}
