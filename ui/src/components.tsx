/** Building blocks shared by the views. */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api } from "./api.js";
import { count, exact } from "./format.js";

/** Loads `path` (again whenever `deps` change or `reload()` is called); keeps the last data while reloading. */
export function useApi<T>(
  path: string | undefined,
  deps: unknown[] = [],
): { data?: T; error?: ApiError; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  const reload = useCallback(() => setN((x) => x + 1), []);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path).then(
      (data) => live && setState({ data, loading: false }),
      (error: ApiError) => live && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [path, n, ...deps]);
  return { ...state, reload };
}

/** Calls `f` at most once per `ms` (trailing), for refreshing on bursts of events. */
export function useThrottled(f: () => void, ms: number): () => void {
  const timer = useRef<number | undefined>(undefined);
  const fn = useRef(f);
  fn.current = f;
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      fn.current();
    }, ms);
  }, [ms]);
}

/** An error shown where the data would be. */
export function ErrorBox(props: { error: unknown; title?: string }) {
  const e = props.error as ApiError | Error;
  const code = e instanceof ApiError ? e.code : undefined;
  return (
    <div class="error" role="alert">
      <strong>{props.title ?? "Could not load this"}</strong>
      <span>
        {e.message}
        {code && code !== "http_error" ? <code class="code">{code}</code> : null}
      </span>
    </div>
  );
}

/** What to show when there is nothing. */
export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <div class="empty-title">{props.title}</div>
      {props.children ? <div class="empty-body">{props.children}</div> : null}
    </div>
  );
}

/** A panel with a title and optional tools on the right. */
export function Card(props: {
  title?: ComponentChildren;
  tools?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <section class={`card ${props.class ?? ""}`}>
      {props.title || props.tools ? (
        <header class="card-head">
          <h2>{props.title}</h2>
          <div class="tools">{props.tools}</div>
        </header>
      ) : null}
      {props.children}
    </section>
  );
}

/** A small colored label. */
export function Badge(props: { kind?: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${props.kind ?? ""}`} title={props.title}>
      {props.children}
    </span>
  );
}

const STATE_KIND: Record<string, string> = {
  new: "info",
  active: "run",
  retry: "warn",
  delayed: "muted",
  blocked: "muted",
  complete: "ok",
  expired: "bad",
  terminated: "bad",
  unreachable: "bad",
  cancelled: "muted",
  queue_error: "bad",
};

/** A task state as a badge (`new` reads "waiting"). */
export function StateBadge(props: { state: string }) {
  return <Badge kind={STATE_KIND[props.state] ?? ""}>{props.state === "new" ? "waiting" : props.state}</Badge>;
}

/** A count, compact, with the exact number on hover. */
export function Num(props: { n: number | undefined; zero?: boolean }) {
  if (props.n === undefined) return <span class="num muted">–</span>;
  return (
    <span class={`num ${props.n === 0 && !props.zero ? "muted" : ""}`} title={exact(props.n)}>
      {count(props.n)}
    </span>
  );
}

/** A button that asks for confirmation first (when `confirm` is given) and shows its own error. */
export function ActionButton(props: {
  label: string;
  run: () => Promise<unknown>;
  confirm?: string;
  kind?: "danger" | "primary";
  done?: () => void;
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [asking, setAsking] = useState(false);
  const go = async () => {
    setAsking(false);
    setBusy(true);
    setError(undefined);
    try {
      await props.run();
      props.done?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button
        type="button"
        class={`btn ${props.kind ?? ""}`}
        disabled={busy}
        data-testid={props.testId}
        onClick={() => (props.confirm ? setAsking(true) : void go())}
      >
        {busy ? "…" : props.label}
      </button>
      {asking ? (
        <Confirm text={props.confirm!} onYes={() => void go()} onNo={() => setAsking(false)} kind={props.kind} />
      ) : null}
      {error ? (
        <span class="inline-error" role="alert">
          {(error as Error).message}
        </span>
      ) : null}
    </span>
  );
}

/** A confirmation dialog. */
export function Confirm(props: { text: string; onYes: () => void; onNo: () => void; kind?: string | undefined }) {
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => yes.current?.focus(), []);
  return (
    <div class="modal" role="dialog" aria-modal="true" onKeyDown={(e) => e.key === "Escape" && props.onNo()}>
      <div class="modal-box">
        <p>{props.text}</p>
        <div class="modal-actions">
          <button type="button" class="btn" onClick={props.onNo}>
            Cancel
          </button>
          <button type="button" ref={yes} class={`btn ${props.kind ?? "primary"}`} onClick={props.onYes}>
            Confirm
          </button>
        </div>
      </div>
    </div>
  );
}

/** A progress bar, `done` of `total`. */
export function Progress(props: { done: number; total: number; label?: string }) {
  const pct = props.total > 0 ? Math.min(100, (100 * props.done) / props.total) : 100;
  return (
    <div class="progress" role="progressbar" aria-valuenow={Math.round(pct)} aria-valuemin={0} aria-valuemax={100}>
      <div class="progress-bar" style={{ width: `${pct}%` }} />
      <span class="progress-label">
        {props.label ?? ""} {count(props.done)} / {count(props.total)}
      </span>
    </div>
  );
}

const TRUNCATE_AT = 4096;

/** Pretty JSON, cut after a few KB with a toggle to show everything. */
export function Json(props: { value: unknown; testId?: string }) {
  const [all, setAll] = useState(false);
  const text = JSON.stringify(props.value, null, 2) ?? "null";
  const long = text.length > TRUNCATE_AT;
  return (
    <div class="json">
      <pre data-testid={props.testId}>{long && !all ? `${text.slice(0, TRUNCATE_AT)}\n…` : text}</pre>
      {long ? (
        <button type="button" class="btn small" onClick={() => setAll(!all)}>
          {all ? "Show less" : `Show all (${count(text.length)} characters)`}
        </button>
      ) : null}
    </div>
  );
}

/** A column heading: its label, or the label with a hint and right alignment (numbers). */
export type Column = string | { label: string; right?: boolean; title?: string };

/** A table with headings; `children` are its rows. */
export function Table(props: { testId?: string; columns: Column[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="table" data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((c, i) =>
              typeof c === "string" ? (
                <th key={i}>{c}</th>
              ) : (
                <th key={i} class={c.right ? "r" : undefined} title={c.title}>
                  {c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
