/** Task: payload, result, timeline, progress, live log, dependencies; retry, cancel, delete, redrive. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { act } from "../api.js";
import { ActionButton, Badge, Card, Empty, ErrorBox, Json, StateBadge, useApi, useThrottled } from "../components.js";
import { duration, relative, when } from "../format.js";
import { useLiveEvent } from "../live.js";
import { Link, navigate } from "../router.js";
import type { TaskDetail } from "../types.js";

const FINAL = new Set(["complete", "expired", "terminated", "unreachable", "cancelled"]);

interface Step {
  at: string | number;
  label: string;
  detail?: string;
  kind: string;
}

function timeline(d: TaskDetail): Step[] {
  const t = d.task;
  const steps: Step[] = [{ at: t.created, label: "created", kind: "info" }];
  if (t.run_at) steps.push({ at: t.run_at, label: "due (run at)", kind: "muted" });
  for (const f of t.failures ?? [])
    steps.push({ at: f.at, label: `try ${f.try} failed`, detail: f.error, kind: "bad" });
  if (t.tried) steps.push({ at: t.tried, label: `try ${t.tries} started`, kind: "run" });
  if (t.result) steps.push({ at: t.result.completed, label: "completed", kind: "ok" });
  else if (FINAL.has(t.state) && d.index)
    steps.push({ at: d.index.updated_at, label: t.state, detail: t.last_err, kind: "bad" });
  if (d.dead_letter)
    steps.push({ at: d.dead_letter.dead_at, label: `dead-lettered (${d.dead_letter.reason})`, kind: "bad" });
  return steps.sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
}

export function TaskView(props: { id: string; readOnly: boolean }) {
  const detail = useApi<TaskDetail>(`/ui/api/tasks/${encodeURIComponent(props.id)}`);
  const [lines, setLines] = useState<{ at: number; line: string }[]>([]);
  const [progress, setProgress] = useState<unknown>(undefined);
  const logBox = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  useEffect(() => {
    if (detail.data) {
      setLines(detail.data.logs);
      setProgress(detail.data.task.progress);
    }
  }, [detail.data]);
  const reload = useThrottled(detail.reload, 300);
  useLiveEvent(
    useCallback(
      (e) => {
        if (e.task_id !== props.id) return;
        if (e.type === "jetq.v1.task_log" && e.line !== undefined)
          setLines((l) => [...l, { at: e.timestamp, line: e.line! }]);
        else if (e.type === "jetq.v1.task_progress") setProgress(e.progress);
        else reload();
      },
      [props.id, reload],
    ),
  );
  useEffect(() => {
    if (follow && logBox.current) logBox.current.scrollTop = logBox.current.scrollHeight;
  }, [lines, follow]);
  if (detail.error) return <ErrorBox error={detail.error} title={`Task ${props.id}`} />;
  const d = detail.data;
  if (!d) return <div class="loading">Loading…</div>;
  const t = d.task;
  const running = t.state === "active";
  const final = FINAL.has(t.state);
  return (
    <div class="view">
      <div class="view-head">
        <h1 class="mono">
          <span class="muted">Task</span> {t.id}
        </h1>
        <span data-testid="task-state">
          <StateBadge state={t.state} />
        </span>
        {!props.readOnly ? (
          <div class="controls">
            {!final ? (
              <ActionButton
                label="Cancel"
                testId="cancel"
                confirm={`Cancel task ${t.id}?${running ? " Its handler is told to stop." : ""}`}
                run={() => act({ action: "cancel_task", id: t.id })}
                done={detail.reload}
              />
            ) : null}
            {final || t.state === "retry" ? (
              <ActionButton
                label="Retry"
                kind="primary"
                testId="retry"
                run={() => act({ action: "retry_task", id: t.id })}
                done={detail.reload}
              />
            ) : null}
            {d.dead_letter ? (
              <ActionButton
                label="Redrive"
                kind="primary"
                testId="redrive"
                run={() => act({ action: "redrive", queue: t.queue, id: t.id })}
                done={detail.reload}
              />
            ) : null}
            {running ? null : (
              <ActionButton
                label="Delete"
                kind="danger"
                testId="delete"
                confirm={`Delete task ${t.id}, its work item and its log? This cannot be undone.`}
                run={() => act({ action: "delete_task", id: t.id })}
                done={() => navigate(`/queues/${encodeURIComponent(t.queue)}`)}
              />
            )}
          </div>
        ) : null}
      </div>
      <div class="two-cols">
        <Card title="Summary">
          <dl class="props">
            <div>
              <dt>queue</dt>
              <dd>
                <Link to={`/queues/${encodeURIComponent(t.queue)}`}>{t.queue}</Link>
              </dd>
            </div>
            <div>
              <dt>type</dt>
              <dd>{t.type}</dd>
            </div>
            <div>
              <dt>priority</dt>
              <dd>{t.priority}</dd>
            </div>
            <div>
              <dt>tries</dt>
              <dd>
                {t.tries}
                {t.max_tries ? ` of ${t.max_tries}` : " (queue's limit)"}
              </dd>
            </div>
            <div>
              <dt>created</dt>
              <dd title={when(t.created)}>{relative(t.created)}</dd>
            </div>
            {t.run_at ? (
              <div>
                <dt>run at</dt>
                <dd title={when(t.run_at)}>{relative(t.run_at)}</dd>
              </div>
            ) : null}
            {t.deadline ? (
              <div>
                <dt>deadline</dt>
                <dd title={when(t.deadline)}>{relative(t.deadline)}</dd>
              </div>
            ) : null}
            <div>
              <dt>signature</dt>
              <dd>
                {d.signed ? (
                  <Badge kind="ok" title="ed25519; verified by the workers that hold the key">
                    signed
                  </Badge>
                ) : (
                  <Badge kind="muted">unsigned</Badge>
                )}
              </dd>
            </div>
            {t.last_err ? (
              <div>
                <dt>last error</dt>
                <dd class="err-text">{t.last_err}</dd>
              </div>
            ) : null}
            {progress !== undefined ? (
              <div>
                <dt>progress</dt>
                <dd data-testid="progress">
                  {typeof progress === "number" ? `${progress}` : JSON.stringify(progress)}
                </dd>
              </div>
            ) : null}
          </dl>
        </Card>
        <Card title="Timeline">
          <ol class="timeline">
            {timeline(d).map((s, i) => (
              <li key={i} class={`step ${s.kind}`}>
                <span class="step-when" title={when(s.at)}>
                  {when(s.at)}
                </span>
                <span class="step-label">{s.label}</span>
                {s.detail ? <span class="step-detail">{s.detail}</span> : null}
              </li>
            ))}
          </ol>
          {t.result && t.tried ? (
            <p class="muted">
              Last try took about {duration(new Date(t.result.completed).getTime() - new Date(t.tried).getTime())}.
            </p>
          ) : null}
        </Card>
      </div>
      <div class="two-cols">
        <Card title="Payload">
          {t.payload_b64 !== undefined ? (
            <Json value={{ payload_b64: t.payload_b64 }} />
          ) : (
            <Json value={t.payload ?? null} testId="payload" />
          )}
        </Card>
        <Card title="Result">
          {t.result ? <Json value={t.result.value} /> : <Empty title={final ? "No result" : "No result yet"} />}
        </Card>
      </div>
      <Card
        title={<>Log {running ? <Badge kind="run">following live</Badge> : null}</>}
        tools={
          <label class="small">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> scroll to
            the end
          </label>
        }
      >
        {lines.length === 0 ? (
          <Empty title="No log lines">
            Handlers append lines with <code>ctx.appendLog(line)</code>.
          </Empty>
        ) : (
          <div class="log" ref={logBox} data-testid="log">
            {lines.map((l, i) => (
              <div key={i} class="log-line">
                <span class="log-at">{new Date(l.at).toLocaleTimeString()}</span>
                <span class="log-text">{l.line}</span>
              </div>
            ))}
          </div>
        )}
      </Card>
      <div class="two-cols">
        <Card title="Depends on">
          {t.dependencies?.length ? (
            <ul class="links">
              {t.dependencies.map((id) => (
                <li key={id} class="mono">
                  <Link to={`/tasks/${encodeURIComponent(id)}`}>{id}</Link>
                </li>
              ))}
            </ul>
          ) : (
            <Empty title="No dependencies" />
          )}
        </Card>
        <Card title="Dependants">
          {d.dependants.length ? (
            <ul class="links">
              {d.dependants.map((id) => (
                <li key={id} class="mono">
                  <Link to={`/tasks/${encodeURIComponent(id)}`}>{id}</Link>
                </li>
              ))}
            </ul>
          ) : (
            <Empty title="No task waits for this one" />
          )}
        </Card>
      </div>
    </div>
  );
}
