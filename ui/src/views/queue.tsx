/** Queue: definition and controls, tasks per state (paginated, filtered), bulk actions. */
import { useCallback, useState } from "preact/hooks";
import { act, api } from "../api.js";
import {
  ActionButton,
  Badge,
  Card,
  Confirm,
  Empty,
  ErrorBox,
  Num,
  Progress,
  StateBadge,
  Table,
  useApi,
  useThrottled,
} from "../components.js";
import { bytes, count, duration, relative, when } from "../format.js";
import { useLiveEvent, useTick } from "../live.js";
import { Link, navigate } from "../router.js";
import type { QueueCounts, QueueDetail, TaskWire } from "../types.js";
import { Charts, QueueBadges } from "./overview.js";

/** The tabs: state, label, and the count that goes with it. */
const TABS: { state: string; label: string; count: (c: QueueCounts) => number }[] = [
  { state: "new", label: "Waiting", count: (c) => c.waiting },
  { state: "active", label: "Active", count: (c) => c.active },
  { state: "retry", label: "Retry", count: (c) => c.retry },
  { state: "delayed", label: "Delayed", count: (c) => c.delayed },
  { state: "blocked", label: "Blocked", count: (c) => c.blocked },
  { state: "complete", label: "Completed", count: (c) => c.complete },
  { state: "expired", label: "Expired", count: (c) => c.expired },
  { state: "terminated", label: "Terminated", count: (c) => c.terminated },
  { state: "unreachable", label: "Unreachable", count: (c) => c.unreachable },
  { state: "cancelled", label: "Cancelled", count: (c) => c.cancelled },
];

const RETRYABLE = new Set(["expired", "terminated", "unreachable", "cancelled", "complete"]);
const CANCELLABLE = new Set(["new", "active", "retry", "delayed", "blocked"]);
const DELETABLE = new Set(["complete", "expired", "terminated", "unreachable", "cancelled"]);

interface Page {
  tasks: TaskWire[];
  next_cursor?: string;
}

function Controls(props: { q: QueueDetail; readOnly: boolean; reload: () => void }) {
  const { q } = props;
  const [limit, setLimit] = useState(String(q.rate_limit?.limit ?? 100));
  const [interval, setInterval] = useState(String(q.rate_limit?.interval_ms ?? 1000));
  if (props.readOnly) return null;
  return (
    <div class="controls">
      {q.paused ? (
        <ActionButton
          label="Resume"
          kind="primary"
          testId="resume"
          run={() => act({ action: "resume", queue: q.name })}
          done={props.reload}
        />
      ) : (
        <ActionButton
          label="Pause"
          testId="pause"
          run={() => act({ action: "pause", queue: q.name })}
          done={props.reload}
        />
      )}
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void act({
            action: "set_rate_limit",
            queue: q.name,
            limit: { limit: Number(limit), interval_ms: Number(interval) },
          }).then(props.reload, (err: Error) => alert(err.message));
        }}
      >
        <label>
          Rate limit{" "}
          <input
            type="number"
            min={1}
            value={limit}
            onInput={(e) => setLimit(e.currentTarget.value)}
            aria-label="tasks per interval"
          />
        </label>
        <label>
          per{" "}
          <input
            type="number"
            min={1}
            value={interval}
            onInput={(e) => setInterval(e.currentTarget.value)}
            aria-label="interval in ms"
          />{" "}
          ms
        </label>
        <button type="submit" class="btn">
          Set
        </button>
        {q.rate_limit ? (
          <ActionButton
            label="Remove limit"
            run={() => act({ action: "set_rate_limit", queue: q.name, limit: null })}
            done={props.reload}
          />
        ) : null}
      </form>
    </div>
  );
}

function Definition(props: { q: QueueDetail }) {
  const c = props.q.config;
  const rows: [string, string][] = [
    ["max tries", count(c.max_tries)],
    ["max run time", duration(c.max_run_time_ms)],
    ["max concurrent", count(c.max_concurrent)],
    ["max age", c.max_age_ms > 0 ? duration(c.max_age_ms) : "unlimited"],
    ["max entries", c.max_entries > 0 ? count(c.max_entries) : "unlimited"],
    ["when full", c.discard_old ? "drop oldest" : "refuse new"],
    ["dead letters", c.dead_letters ? `kept ${duration(c.dead_letter_retention_ms)}` : "off"],
  ];
  return (
    <dl class="props">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
      <div>
        <dt>in flight</dt>
        <dd>
          <Num n={props.q.counts.in_flight} zero />
        </dd>
      </div>
      <div>
        <dt>pulling</dt>
        <dd title="pull requests waiting on the queue's consumers">
          {count(props.q.consumers.reduce((n, x) => n + x.waiting_pulls, 0))}
        </dd>
      </div>
    </dl>
  );
}

/** Runs a bulk action step by step with a progress bar. */
function Bulk(props: { queue: string; state: string; total: number; readOnly: boolean; done: () => void }) {
  const [asking, setAsking] = useState<"retry" | "cancel" | "delete" | "purge" | undefined>();
  const [progress, setProgress] = useState<{ done: number; total: number; label: string } | undefined>();
  const [error, setError] = useState<string>();
  if (props.readOnly || props.total === 0) return null;
  const run = async (op: "retry" | "cancel" | "delete" | "purge") => {
    setAsking(undefined);
    setError(undefined);
    const label = { retry: "Retried", cancel: "Cancelled", delete: "Deleted", purge: "Purged" }[op];
    setProgress({ done: 0, total: props.total, label });
    try {
      if (op === "purge") {
        const r = await act<{ purged: number }>({ action: "purge_queue", queue: props.queue });
        setProgress({ done: r.purged, total: props.total, label });
      } else {
        let done = 0;
        for (;;) {
          const r = await api<{ done: number; failed: number; errors: string[]; more: boolean }>(
            `/ui/api/queues/${encodeURIComponent(props.queue)}/bulk`,
            { method: "POST", body: { op, state: props.state, limit: 100 } },
          );
          done += r.done;
          setProgress({ done, total: Math.max(done, props.total), label });
          if (r.failed > 0) setError(`${r.failed} failed: ${r.errors.join("; ")}`);
          if (!r.more || r.done === 0) break;
        }
      }
    } catch (err) {
      setError((err as Error).message);
    }
    props.done();
  };
  const names = { retry: "retry", cancel: "cancel", delete: "delete", purge: "purge" };
  const what = `${count(props.total)} ${props.state === "new" ? "waiting" : props.state} task${props.total === 1 ? "" : "s"}`;
  return (
    <div class="bulk">
      {RETRYABLE.has(props.state) ? (
        <button type="button" class="btn" onClick={() => setAsking("retry")} data-testid="bulk-retry">
          Retry all
        </button>
      ) : null}
      {CANCELLABLE.has(props.state) ? (
        <button type="button" class="btn" onClick={() => setAsking("cancel")} data-testid="bulk-cancel">
          Cancel all
        </button>
      ) : null}
      {props.state === "new" ? (
        <button type="button" class="btn danger" onClick={() => setAsking("purge")} data-testid="bulk-purge">
          Purge
        </button>
      ) : null}
      {DELETABLE.has(props.state) ? (
        <button type="button" class="btn danger" onClick={() => setAsking("delete")} data-testid="bulk-delete">
          Delete all
        </button>
      ) : null}
      {asking ? (
        <Confirm
          text={
            asking === "purge"
              ? `Remove all ${what} from queue ${props.queue}? They will not run.`
              : `${names[asking][0]!.toUpperCase()}${names[asking].slice(1)} ${what} of queue ${props.queue}?`
          }
          kind={asking === "purge" || asking === "delete" ? "danger" : "primary"}
          onYes={() => void run(asking)}
          onNo={() => setAsking(undefined)}
        />
      ) : null}
      {progress ? <Progress {...progress} /> : null}
      {error ? <span class="inline-error">{error}</span> : null}
    </div>
  );
}

function TaskTable(props: { tasks: TaskWire[]; state: string }) {
  return (
    <Table
      testId="tasks"
      columns={[
        "Task",
        "Type",
        "State",
        { label: "Priority", right: true },
        { label: "Tries", right: true },
        "Created",
        props.state === "new" ? "Size" : "Last try",
        "Last error",
      ]}
    >
      {props.tasks.map((t) => (
        <tr key={t.id} data-task={t.id}>
          <td class="mono">
            <Link to={`/tasks/${encodeURIComponent(t.id)}`}>{t.id}</Link>
          </td>
          <td>{t.type}</td>
          <td>
            <StateBadge state={t.state} />
          </td>
          <td class="r">{t.priority}</td>
          <td class="r">
            {t.tries}
            {t.max_tries ? ` / ${t.max_tries}` : ""}
          </td>
          <td title={when(t.created)}>{relative(t.created)}</td>
          <td>
            {props.state === "new" ? (
              bytes(JSON.stringify(t.payload ?? t.payload_b64 ?? null).length)
            ) : t.tried ? (
              <span title={when(t.tried)}>{relative(t.tried)}</span>
            ) : (
              "–"
            )}
          </td>
          <td class="err-text" title={t.last_err}>
            {t.last_err ?? ""}
          </td>
        </tr>
      ))}
    </Table>
  );
}

export function QueueView(props: { name: string; query: URLSearchParams; readOnly: boolean; theme: string }) {
  const { name } = props;
  const state = props.query.get("state") ?? "new";
  const type = props.query.get("type") ?? "";
  const id = props.query.get("id") ?? "";
  const cursor = props.query.get("cursor") ?? "";
  const detail = useApi<QueueDetail>(`/ui/api/queues/${encodeURIComponent(name)}`);
  const qs = new URLSearchParams({ queue: name, state, limit: "25" });
  if (type) qs.set("type", type);
  if (id) qs.set("id", id);
  if (cursor) qs.set("cursor", cursor);
  const list = useApi<Page>(`/v1/tasks?${qs}`);
  const tick = useTick();
  const [idInput, setIdInput] = useState(id);
  const go = (changes: Record<string, string>) => {
    const next = new URLSearchParams({ state, ...(type ? { type } : {}), ...(id ? { id } : {}), ...changes });
    for (const [k, v] of [...next]) if (v === "") next.delete(k);
    navigate(`/queues/${encodeURIComponent(name)}?${next}`);
  };
  const refresh = useThrottled(() => {
    if (!cursor) list.reload();
  }, 1000);
  const reloadDetail = useThrottled(detail.reload, 500);
  useLiveEvent(
    useCallback(
      (e) => {
        if (e.queue !== name) return;
        refresh();
        if (e.type === "jetq.v1.queue") reloadDetail();
      },
      [name, refresh, reloadDetail],
    ),
  );
  if (detail.error) return <ErrorBox error={detail.error} title={`Queue ${name}`} />;
  // The task list does not wait for the queue's details: each shows as soon as it arrives.
  const d = detail.data;
  const live = tick?.overview.queues.find((q) => q.name === name);
  const q: QueueDetail | undefined = d && live ? { ...d, ...live } : d;
  const tab = TABS.find((t) => t.state === state) ?? TABS[0]!;
  return (
    <div class="view">
      <div class="view-head">
        <h1>
          <span class="muted">Queue</span> {name}
        </h1>
        {q ? <QueueBadges q={q} /> : null}
        {q ? <Controls q={q} readOnly={props.readOnly} reload={detail.reload} /> : null}
      </div>
      <div class="two-cols">
        <Card title="Definition">{q ? <Definition q={q} /> : <div class="loading">Loading…</div>}</Card>
        <Card title="Dead letters">
          <p>
            <Num n={q?.counts.dead_letters} zero /> tasks failed for good and kept.{" "}
            <Link to={`/dead-letters/${encodeURIComponent(name)}`}>Open dead letters →</Link>
          </p>
        </Card>
      </div>
      <Charts queue={name} theme={props.theme} />
      <Card>
        <div class="tabs" role="tablist">
          {TABS.map((t) => (
            <button
              type="button"
              role="tab"
              key={t.state}
              aria-selected={t.state === state}
              class={`tab ${t.state === state ? "on" : ""}`}
              data-state={t.state}
              onClick={() => go({ state: t.state, cursor: "" })}
            >
              {t.label} <span class="tab-count">{q ? count(t.count(q.counts)) : "–"}</span>
            </button>
          ))}
        </div>
        <div class="filters">
          <label>
            Type{" "}
            <select
              value={type}
              onChange={(e) => go({ type: e.currentTarget.value, cursor: "" })}
              aria-label="task type"
            >
              <option value="">all</option>
              {[...new Set([...(q?.types ?? []), ...(type ? [type] : [])])].map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              go({ id: idInput.trim(), cursor: "" });
            }}
          >
            <input
              type="search"
              placeholder="Find a task by id"
              value={idInput}
              onInput={(e) => setIdInput(e.currentTarget.value)}
              aria-label="task id"
            />
          </form>
          <Bulk
            queue={name}
            state={state}
            total={q ? tab.count(q.counts) : 0}
            readOnly={props.readOnly}
            done={() => {
              list.reload();
              detail.reload();
            }}
          />
        </div>
        {list.error ? <ErrorBox error={list.error} title="Could not list the tasks" /> : null}
        {list.data && list.data.tasks.length === 0 ? (
          <Empty
            title={id ? `No ${tab.label.toLowerCase()} task with id ${id}` : `No ${tab.label.toLowerCase()} tasks`}
          >
            {state === "new" ? "Enqueued tasks show here until a worker takes them." : null}
          </Empty>
        ) : null}
        {list.data && list.data.tasks.length > 0 ? <TaskTable tasks={list.data.tasks} state={state} /> : null}
        <div class="pager">
          {cursor ? (
            <button type="button" class="btn" onClick={() => go({ cursor: "" })}>
              ← Newest
            </button>
          ) : null}
          {list.data?.next_cursor ? (
            <button
              type="button"
              class="btn"
              data-testid="older"
              onClick={() => go({ cursor: list.data!.next_cursor! })}
            >
              Older →
            </button>
          ) : null}
          {list.loading ? <Badge kind="muted">loading…</Badge> : null}
        </div>
      </Card>
    </div>
  );
}
