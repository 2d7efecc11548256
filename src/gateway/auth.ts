import { readFileSync } from "node:fs";
import type { MiddlewareHandler } from "hono";
import { BearerTokens } from "../bearer-tokens.js";
import { ConfigError } from "../errors.js";

export { BearerTokens };

/** Where tokens come from: a file (one per line; blank lines and `#` comments skipped) and/or a comma-separated list. */
export interface TokenSources {
  /** Path of a token file. */
  file?: string;
  /** Comma-separated tokens (e.g. the `JETQ_HTTP_TOKENS` environment variable). */
  list?: string;
}

/** Reads the tokens of every source. @throws ConfigError (`http_token_file`) when the file cannot be read */
export function loadTokens(src: TokenSources): string[] {
  const tokens: string[] = [];
  if (src.file) {
    let text: string;
    try {
      text = readFileSync(src.file, "utf8");
    } catch (err) {
      throw new ConfigError(
        "http_token_file",
        `cannot read the HTTP token file ${src.file}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    for (const line of text.split(/\r?\n/)) {
      const t = line.trim();
      if (t !== "" && !t.startsWith("#")) tokens.push(t);
    }
  }
  if (src.list) tokens.push(...src.list.split(",").map((t) => t.trim()));
  return tokens.filter((t) => t !== "");
}

/**
 * Hono middleware answering 401 `unauthorized` unless the request carries an accepted bearer token
 * (or its path is one `isPublic` lets through: the dashboard's page and assets, which hold no data).
 */
export function bearerAuth(tokens: BearerTokens, isPublic?: (path: string) => boolean): MiddlewareHandler {
  return async (c, next) => {
    if (!tokens.enabled || tokens.accepts(c.req.header("authorization"))) return next();
    if (isPublic?.(c.req.path) && (c.req.method === "GET" || c.req.method === "HEAD")) return next();
    c.header("WWW-Authenticate", 'Bearer realm="jetq"');
    return c.json(
      { error: "unauthorized", message: "a valid bearer token is required (Authorization: Bearer <token>)" },
      401,
    );
  };
}
