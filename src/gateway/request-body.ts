import type { HttpBindings } from "@hono/node-server";
import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { badRequest, HttpError } from "./http-errors.js";
import type { GatewayLimits } from "./limits.js";

const tooLarge = (max: number) => new HttpError(413, "body_too_large", `request bodies may be at most ${max} bytes`);

/** Code of the error a request body read fails with when the client closed the connection mid-body. */
export const REQUEST_ABORTED = "request_aborted";

/** The client went away while its body was being read: nobody reads the answer, the log says it at debug. */
const aborted = (err: unknown) =>
  new HttpError(400, REQUEST_ABORTED, "the client closed the connection before its request body was read", {
    cause: err,
  });

/**
 * Reads a request body as text, refusing more than `maxBytes` (413 `body_too_large`, checked on the
 * Content-Length before reading, and while reading a chunked body). On Node it reads the
 * `IncomingMessage` directly, which avoids building a fetch `Request` per request.
 */
export async function readBody(c: Context, maxBytes: number): Promise<string> {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (!incoming) {
    const text = await c.req.text();
    if (Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes);
    return text;
  }
  if (Number(incoming.headers["content-length"] ?? 0) > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw aborted(err);
  }
  if (!incoming.complete) throw aborted(undefined);
  return Buffer.concat(chunks, size).toString("utf8");
}

/**
 * True when arrays and objects in a JSON text nest deeper than `max` (one pass, strings skipped).
 * Checked before parsing, so that nothing later walks a deep value recursively.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/**
 * Reads a request body as JSON, whatever its content type (emq clients send `application/json`,
 * curl users often do not). An empty body reads as `{}`.
 * @throws HttpError 413 `body_too_large`, 400 `invalid_json`, `json_too_deep`, `request_aborted`
 */
export async function readJson(c: Context, limits: Pick<GatewayLimits, "bodyBytes" | "jsonDepth">): Promise<unknown> {
  const text = await readBody(c, limits.bodyBytes);
  if (text.trim() === "") return {};
  if (nestsDeeperThan(text, limits.jsonDepth))
    throw badRequest("json_too_deep", `JSON bodies may nest arrays and objects at most ${limits.jsonDepth} deep`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest("invalid_json", `request body is not valid JSON: ${(err as Error).message}`);
  }
}

function where(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "body";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/**
 * Validates `value` with `schema`. The error code is the first issue's `params.code` when the
 * schema sets one (e.g. `invalid_queue_name`), else `invalid_request`; the message lists the issues.
 * @throws HttpError 400
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const first = issues[0] as { params?: { code?: unknown } } | undefined;
  const code = typeof first?.params?.code === "string" ? first.params.code : "invalid_request";
  const message = issues
    .slice(0, 5)
    .map((i) => `${where(i.path)}: ${i.message}`)
    .join("; ");
  throw badRequest(code, issues.length > 5 ? `${message}; and ${issues.length - 5} more` : message);
}

/** Reads and validates a JSON body. @throws HttpError 413 (`body_too_large`), 400 (`invalid_json`, `json_too_deep`, `invalid_request`, …) */
export async function jsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  limits: Pick<GatewayLimits, "bodyBytes" | "jsonDepth">,
): Promise<z.infer<S>> {
  return validate(schema, await readJson(c, limits));
}

/**
 * An abort signal that fires when the client closes the connection before the answer is sent
 * (long-polls give back what they took). Undefined when the runtime gives no way to tell.
 */
export function disconnectSignal(c: Context): AbortSignal | undefined {
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  if (!outgoing) return c.req.raw.signal;
  const ac = new AbortController();
  outgoing.once("close", () => {
    if (!outgoing.writableFinished) ac.abort(new Error("client went away"));
  });
  return ac.signal;
}
