/** Dead letters of a queue: reason and last error; redrive one or all; purge. */
import { useCallback } from "preact/hooks";
import { act } from "../api.js";
import { ActionButton, Card, Empty, ErrorBox, Table, useApi, useThrottled } from "../components.js";
import { count, relative, when } from "../format.js";
import { useLiveEvent, useTick } from "../live.js";
import { Link, navigate } from "../router.js";
import type { Overview, TaskWire } from "../types.js";

interface Page {
  dead_letters: { task: TaskWire; reason: string; dead_at: number; seq: number }[];
  next?: number;
}

export function DeadLettersView(props: { queue?: string; query: URLSearchParams; readOnly: boolean }) {
  const overview = useApi<Overview>("/ui/api/overview");
  const tick = useTick();
  const queues = (tick?.overview ?? overview.data)?.queues ?? [];
  const queue = props.queue ?? queues.find((q) => q.counts.dead_letters > 0)?.name ?? queues[0]?.name;
  const after = props.query.get("after") ?? "0";
  const page = useApi<Page>(
    queue ? `/ui/api/dead-letters/${encodeURIComponent(queue)}?limit=50&after=${after}` : undefined,
  );
  const refresh = useThrottled(page.reload, 500);
  useLiveEvent(useCallback((e) => e.queue === queue && e.type === "jetq.v1.queue" && refresh(), [queue, refresh]));
  const total = queues.find((q) => q.name === queue)?.counts.dead_letters ?? 0;
  return (
    <div class="view">
      <div class="view-head">
        <h1>Dead letters</h1>
        <label>
          Queue{" "}
          <select
            value={queue}
            onChange={(e) => navigate(`/dead-letters/${encodeURIComponent(e.currentTarget.value)}`)}
            aria-label="queue"
          >
            {queues.map((q) => (
              <option key={q.name} value={q.name}>
                {q.name} ({count(q.counts.dead_letters)})
              </option>
            ))}
          </select>
        </label>
        {queue && !props.readOnly && total > 0 ? (
          <div class="controls">
            <ActionButton
              label="Redrive all"
              kind="primary"
              testId="redrive-all"
              confirm={`Put all ${count(total)} dead letters of ${queue} back in the queue?`}
              run={() => act({ action: "redrive_all", queue })}
              done={page.reload}
            />
            <ActionButton
              label="Purge"
              kind="danger"
              testId="purge-dead"
              confirm={`Remove all ${count(total)} dead letters of ${queue} without running them?`}
              run={() => act({ action: "purge_dead_letters", queue })}
              done={page.reload}
            />
          </div>
        ) : null}
      </div>
      {overview.error ? <ErrorBox error={overview.error} /> : null}
      {!queue && overview.data ? <Empty title="No queues yet" /> : null}
      {queue ? (
        <Card title={`${queue}: ${count(total)} dead letter${total === 1 ? "" : "s"}`}>
          {page.error ? <ErrorBox error={page.error} /> : null}
          {page.data && page.data.dead_letters.length === 0 ? (
            <Empty title="No dead letters">
              Tasks that fail for good (expired after their last try, or terminated) are kept here to inspect and
              redrive.
            </Empty>
          ) : null}
          {page.data && page.data.dead_letters.length > 0 ? (
            <Table
              testId="dead-letters"
              columns={["Task", "Type", "Reason", { label: "Tries", right: true }, "Dead since", "Last error", ""]}
            >
              {page.data.dead_letters.map((d) => (
                <tr key={d.task.id} data-task={d.task.id}>
                  <td class="mono">
                    <Link to={`/tasks/${encodeURIComponent(d.task.id)}`}>{d.task.id}</Link>
                  </td>
                  <td>{d.task.type}</td>
                  <td>{d.reason}</td>
                  <td class="r">{d.task.tries}</td>
                  <td title={when(d.dead_at)}>{relative(d.dead_at)}</td>
                  <td class="err-text" title={d.task.last_err}>
                    {d.task.last_err ?? ""}
                  </td>
                  <td class="r">
                    {props.readOnly ? null : (
                      <>
                        <ActionButton
                          label="Redrive"
                          testId="redrive"
                          run={() => act({ action: "redrive", queue, id: d.task.id })}
                          done={page.reload}
                        />
                        <ActionButton
                          label="Purge"
                          kind="danger"
                          confirm={`Remove the dead letter of ${d.task.id}?`}
                          run={() => act({ action: "purge_dead_letter", queue, id: d.task.id })}
                          done={page.reload}
                        />
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          ) : null}
          <div class="pager">
            {after !== "0" ? (
              <button type="button" class="btn" onClick={() => navigate(`/dead-letters/${encodeURIComponent(queue)}`)}>
                ← First
              </button>
            ) : null}
            {page.data?.next !== undefined ? (
              <button
                type="button"
                class="btn"
                onClick={() => navigate(`/dead-letters/${encodeURIComponent(queue)}?after=${page.data!.next}`)}
              >
                Next →
              </button>
            ) : null}
          </div>
        </Card>
      ) : null}
    </div>
  );
}
