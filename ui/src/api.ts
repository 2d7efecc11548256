/** Talking to the gateway: the bearer token of this browser session, JSON calls, the live stream. */

const TOKEN_KEY = "jetq.token";

/** The token stored for this browser session (sessionStorage), if any. */
export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** Stores (or with undefined forgets) the session's token. */
export function storeToken(token: string | undefined): void {
  if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An error answer of the gateway. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Listeners told when the gateway answers 401 (the token is missing or wrong). */
const unauthorized = new Set<() => void>();

/** Calls `f` whenever a request is refused for want of a valid token. */
export function onUnauthorized(f: () => void): () => void {
  unauthorized.add(f);
  return () => unauthorized.delete(f);
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = { Accept: "application/json" };
  const token = storedToken();
  if (token) h.Authorization = `Bearer ${token}`;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

/** Calls the gateway; resolves with the JSON answer. @throws ApiError */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: init.method ?? "GET",
      headers: headers(init.body !== undefined),
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch (err) {
    throw new ApiError(0, "unreachable", `the server cannot be reached (${(err as Error).message})`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const b = (body ?? {}) as { error?: string; message?: string };
    if (res.status === 401) for (const f of unauthorized) f();
    throw new ApiError(res.status, b.error ?? "http_error", b.message ?? `${res.status} ${res.statusText}`);
  }
  return body as T;
}

/** Runs a dashboard action (`POST /ui/api/actions`). */
export function act<T = unknown>(action: Record<string, unknown>): Promise<T> {
  return api<{ result: T }>("/ui/api/actions", { method: "POST", body: action }).then((r) => r.result);
}

/** One server-sent event. */
export interface LiveMessage {
  event: string;
  data: unknown;
}

/**
 * Follows `/ui/api/live` (server-sent events read with fetch, so the bearer token can be sent),
 * reconnecting after a second when the stream breaks, until the returned function is called.
 * `status` is told whether the stream is connected.
 */
export function follow(
  query: Record<string, string | undefined>,
  each: (m: LiveMessage) => void,
  status: (connected: boolean) => void,
): () => void {
  const ac = new AbortController();
  const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
  const run = async () => {
    while (!ac.signal.aborted) {
      try {
        const res = await fetch(`/ui/api/live?${qs}`, { headers: headers(false), signal: ac.signal });
        if (res.status === 401) for (const f of unauthorized) f();
        if (!res.ok || !res.body) throw new Error(`live stream answered ${res.status}`);
        status(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end = buf.indexOf("\n\n");
          while (end >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            end = buf.indexOf("\n\n");
            let event = "message";
            const data: string[] = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }
            if (data.length > 0) each({ event, data: JSON.parse(data.join("\n")) });
          }
        }
      } catch {
        // broken or refused: try again shortly
      }
      status(false);
      if (ac.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void run();
  return () => ac.abort();
}
