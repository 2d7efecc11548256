/** The jetq dashboard: token prompt, layout, theme and the views, each at its own URL under /ui. */
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, api, onUnauthorized, storedToken, storeToken } from "./api.js";
import { ErrorBox } from "./components.js";
import { startLive, useConnected } from "./live.js";
import { Link, match, useLocation } from "./router.js";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import type { Config } from "./types.js";
import { DeadLettersView } from "./views/dead-letters.js";
import { OverviewView } from "./views/overview.js";
import { QueueView } from "./views/queue.js";
import { SchedulesView } from "./views/schedules.js";
import { TaskView } from "./views/task.js";
import { WorkersView } from "./views/workers.js";

const THEME_KEY = "jetq.theme";

function initialTheme(): string {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function TokenPrompt(props: { onToken: (t: string) => void; wrong: boolean }) {
  const [value, setValue] = useState("");
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <div class="login">
      <form
        class="card login-box"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) props.onToken(value.trim());
        }}
      >
        <div class="brand big">jetq</div>
        <p>This dashboard needs one of the gateway's bearer tokens.</p>
        <input
          ref={input}
          type="password"
          placeholder="Token"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          aria-label="token"
          data-testid="token"
        />
        {props.wrong ? (
          <div class="inline-error" role="alert">
            That token was refused.
          </div>
        ) : null}
        <button type="submit" class="btn primary" data-testid="sign-in">
          Open the dashboard
        </button>
        <p class="muted small">It is kept for this browser tab only (session storage).</p>
      </form>
    </div>
  );
}

/** The view of a dashboard URL. */
function pick(path: string, query: URLSearchParams, ro: boolean, theme: string): preact.JSX.Element {
  if (path === "/") return <OverviewView theme={theme} />;
  const queue = match("/queues/:name", path);
  if (queue) return <QueueView key={queue.name} name={queue.name!} query={query} readOnly={ro} theme={theme} />;
  const task = match("/tasks/:id", path);
  if (task) return <TaskView key={task.id} id={task.id!} readOnly={ro} />;
  if (path === "/dead-letters") return <DeadLettersView query={query} readOnly={ro} />;
  const dead = match("/dead-letters/:queue", path);
  if (dead) return <DeadLettersView key={dead.queue} queue={dead.queue!} query={query} readOnly={ro} />;
  if (path === "/schedules") return <SchedulesView readOnly={ro} />;
  if (path === "/workers") return <WorkersView />;
  return <ErrorBox error={new Error(`There is no page at ${path}.`)} title="Not found" />;
}

const NAV = [
  {
    to: "/",
    label: "Overview",
    active: (p: string) => p === "/" || p.startsWith("/queues/") || p.startsWith("/tasks/"),
  },
  { to: "/dead-letters", label: "Dead letters", active: (p: string) => p.startsWith("/dead-letters") },
  { to: "/schedules", label: "Schedules", active: (p: string) => p.startsWith("/schedules") },
  { to: "/workers", label: "Workers", active: (p: string) => p.startsWith("/workers") },
];

function Shell(props: { config?: Config; theme: string; setTheme: (t: string) => void; signOut?: () => void }) {
  const loc = useLocation();
  const connected = useConnected();
  // Until the settings arrive (asked for at the same time as the view's data), show no action.
  const ro = props.config?.read_only ?? true;
  const queue = match("/queues/:name", loc.path)?.name;
  const task = match("/tasks/:id", loc.path)?.id;
  useEffect(() => startLive({ ...(queue ? { queue } : {}), ...(task ? { task } : {}) }), [queue, task]);
  const view = pick(loc.path, loc.query, ro, props.theme);
  return (
    <div class="app">
      <header class="top">
        <Link to="/" class="brand">
          jetq
        </Link>
        <nav class="nav">
          {NAV.map((n) => (
            <Link key={n.to} to={n.to} class={n.active(loc.path) ? "on" : ""}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div class="top-right">
          {props.config?.read_only ? <span class="badge muted">read-only</span> : null}
          <span
            class={`live ${connected ? "on" : ""}`}
            title={connected ? "receiving live updates" : "reconnecting…"}
            data-testid="live"
          >
            {connected ? "live" : "offline"}
          </span>
          <button
            type="button"
            class="btn ghost"
            title="switch light / dark"
            aria-label="switch theme"
            onClick={() => props.setTheme(props.theme === "dark" ? "light" : "dark")}
          >
            {props.theme === "dark" ? "☀" : "☾"}
          </button>
          {props.signOut ? (
            <button type="button" class="btn ghost" onClick={props.signOut}>
              Sign out
            </button>
          ) : null}
          {props.config ? <span class="muted small">v{props.config.version}</span> : null}
        </div>
      </header>
      <main class="main">{view}</main>
    </div>
  );
}

function App() {
  const [theme, setTheme] = useState(initialTheme);
  const [config, setConfig] = useState<Config>();
  const [needToken, setNeedToken] = useState(false);
  const [wrong, setWrong] = useState(false);
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  useEffect(
    () =>
      onUnauthorized(() => {
        setConfig(undefined);
        setNeedToken(true);
      }),
    [],
  );
  useEffect(() => {
    api<Config>("/ui/api/config").then(
      (c) => {
        setConfig(c);
        setNeedToken(false);
        setError(undefined);
      },
      (err: ApiError) => {
        if (err.status === 401) {
          setWrong(storedToken() !== undefined);
          storeToken(undefined);
          setNeedToken(true);
        } else setError(err);
      },
    );
  }, [attempt]);
  if (needToken)
    return (
      <TokenPrompt
        wrong={wrong}
        onToken={(t) => {
          storeToken(t);
          setAttempt((n) => n + 1);
        }}
      />
    );
  if (error)
    return (
      <div class="main">
        <ErrorBox error={error} title="The dashboard cannot reach jetq serve" />
        <button type="button" class="btn" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </div>
    );
  return (
    <Shell
      {...(config ? { config } : {})}
      theme={theme}
      setTheme={setTheme}
      {...(config?.auth
        ? {
            signOut: () => {
              storeToken(undefined);
              setWrong(false);
              setConfig(undefined);
              setNeedToken(true);
            },
          }
        : {})}
    />
  );
}

render(<App />, document.getElementById("app")!);
