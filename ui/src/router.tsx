/** A small router over the history API: every view of the dashboard is a URL under /ui/. */
import { useEffect, useState } from "preact/hooks";

/** Path prefix of the dashboard. */
export const BASE = "/ui";

/** The current location: path below /ui and query parameters. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return { path: p === "" ? "/" : p, query: new URLSearchParams(location.search) };
}

const listeners = new Set<() => void>();

/** Goes to a dashboard URL (`/queues/emails?state=retry`) without reloading. */
export function navigate(to: string, replace = false): void {
  const url = `${BASE}${to}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const l of listeners) l();
  if (!replace) window.scrollTo(0, 0);
}

/** The current location, re-rendering on navigation. */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return loc;
}

/** A link to a dashboard URL. */
export function Link(props: { to: string; class?: string; children: preact.ComponentChildren; title?: string }) {
  return (
    <a
      href={`${BASE}${props.to}`}
      class={props.class}
      title={props.title}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

/** Matches `/queues/:name` style patterns; returns the decoded parameters or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split("/");
  const a = path.split("/");
  if (p.length !== a.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(":")) {
      try {
        out[p[i]!.slice(1)] = decodeURIComponent(a[i]!);
      } catch {
        return undefined;
      }
    } else if (p[i] !== a[i]) return undefined;
  }
  return out;
}
