/** Schedules: delayed messages (Gozo), delayed tasks, cron task schedules, and who fires them. */
import { act } from "../api.js";
import { ActionButton, Badge, Card, Empty, ErrorBox, StateBadge, Table, useApi } from "../components.js";
import { duration, relative, when } from "../format.js";
import { Link } from "../router.js";

interface Schedules {
  scheduler: boolean;
  leaders: Record<string, string>;
  messages: {
    id: string;
    subject: string;
    due: string;
    due_ms: number;
    cron?: string;
    tz?: string;
    every_ms?: number;
    payload?: string;
  }[];
  delayed_tasks: { task_id: string; due_ms: number; subject: string }[];
  cron: {
    name: string;
    schedule: string;
    tz?: string;
    queue: string;
    type: string;
    paused?: boolean;
    next_runs: number[];
    last_tick?: number;
    last_task?: { id: string; state: string };
  }[];
  next?: number;
}

export function SchedulesView(props: { readOnly: boolean }) {
  const s = useApi<Schedules>("/ui/api/schedules");
  if (s.error) return <ErrorBox error={s.error} />;
  const d = s.data;
  if (!d) return <div class="loading">Loading…</div>;
  return (
    <div class="view">
      <div class="view-head">
        <h1>Schedules</h1>
        <Badge kind="info" title="the jetq serve instance that fires delayed messages and tasks">
          scheduler leader: {d.leaders.scheduler ?? "none"}
        </Badge>
        <Badge kind="info" title="the jetq serve instance that fires cron task schedules">
          cron leader: {d.leaders["task-scheduler"] ?? "none"}
        </Badge>
        <button type="button" class="btn" onClick={s.reload}>
          Refresh
        </button>
      </div>
      <Card title="Cron task schedules">
        {d.cron.length === 0 ? (
          <Empty title="No task schedules">
            Create one with <code>(await client.scheduledTasks()).create({"{ name, schedule, queue, type }"})</code>.
          </Empty>
        ) : (
          <Table testId="cron" columns={["Name", "Schedule", "Queue · type", "Next runs", "Last fire", ""]}>
            {d.cron.map((c) => (
              <tr key={c.name}>
                <td>
                  {c.name} {c.paused ? <Badge kind="warn">paused</Badge> : null}
                </td>
                <td class="mono">
                  {c.schedule}
                  {c.tz ? <span class="muted"> ({c.tz})</span> : null}
                </td>
                <td>
                  <Link to={`/queues/${encodeURIComponent(c.queue)}`}>{c.queue}</Link> · {c.type}
                </td>
                <td>
                  {c.paused
                    ? "–"
                    : c.next_runs.map((t) => (
                        <div key={t} title={relative(t)}>
                          {when(t, c.tz)}
                        </div>
                      ))}
                </td>
                <td>
                  {c.last_tick ? <div title={when(c.last_tick, c.tz)}>{relative(c.last_tick)}</div> : "–"}
                  {c.last_task ? (
                    <Link to={`/tasks/${encodeURIComponent(c.last_task.id)}`}>
                      <StateBadge state={c.last_task.state} />
                    </Link>
                  ) : c.last_tick ? (
                    <Badge kind="muted">not fired</Badge>
                  ) : null}
                </td>
                <td class="r">
                  {props.readOnly ? null : (
                    <>
                      {c.paused ? (
                        <ActionButton
                          label="Resume"
                          run={() => act({ action: "resume_cron", name: c.name })}
                          done={s.reload}
                        />
                      ) : (
                        <ActionButton
                          label="Pause"
                          run={() => act({ action: "pause_cron", name: c.name })}
                          done={s.reload}
                        />
                      )}
                      <ActionButton
                        label="Remove"
                        kind="danger"
                        confirm={`Remove the schedule ${c.name}?`}
                        run={() => act({ action: "remove_cron", name: c.name })}
                        done={s.reload}
                      />
                    </>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Card>
      <div class="two-cols">
        <Card title="Delayed messages (Gozo)">
          {!d.scheduler ? <Empty title="No scheduler in this process" /> : null}
          {d.scheduler && d.messages.length === 0 ? (
            <Empty title="No pending messages">
              Publish to <code>gozo</code> with a <code>Gozo-When</code> header, or <code>POST /v1/schedules</code>.
            </Empty>
          ) : null}
          {d.messages.length > 0 ? (
            <Table testId="messages" columns={["Id", "Subject", "Due", "Repeats", ""]}>
              {d.messages.map((m) => (
                <tr key={m.id}>
                  <td class="mono">{m.id}</td>
                  <td class="mono">{m.subject}</td>
                  <td title={when(m.due_ms, m.tz)}>{relative(m.due_ms)}</td>
                  <td class="mono">
                    {m.cron
                      ? `${m.cron}${m.tz ? ` (${m.tz})` : ""}`
                      : m.every_ms
                        ? `every ${duration(m.every_ms)}`
                        : "once"}
                  </td>
                  <td class="r">
                    {props.readOnly ? null : (
                      <ActionButton
                        label="Cancel"
                        kind="danger"
                        confirm={`Cancel the delayed message ${m.id}?`}
                        run={() => act({ action: "cancel_schedule", id: m.id })}
                        done={s.reload}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          ) : null}
        </Card>
        <Card title="Delayed tasks">
          {d.delayed_tasks.length === 0 ? (
            <Empty title="No delayed tasks">
              Tasks enqueued with <code>runAt</code> or <code>delayMs</code> wait here.
            </Empty>
          ) : (
            <Table testId="delayed" columns={["Task", "Due", ""]}>
              {d.delayed_tasks.map((t) => (
                <tr key={t.task_id}>
                  <td class="mono">
                    <Link to={`/tasks/${encodeURIComponent(t.task_id)}`}>{t.task_id}</Link>
                  </td>
                  <td title={when(t.due_ms)}>{relative(t.due_ms)}</td>
                  <td class="r">
                    {props.readOnly ? null : (
                      <ActionButton
                        label="Cancel"
                        kind="danger"
                        confirm={`Cancel task ${t.task_id}?`}
                        run={() => act({ action: "cancel_task", id: t.task_id })}
                        done={s.reload}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Card>
      </div>
    </div>
  );
}
