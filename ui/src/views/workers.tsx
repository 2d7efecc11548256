/** Workers and instances: the processes consuming each queue, and the jetq serve instances. */
import { Badge, Card, Empty, ErrorBox, Table, useApi } from "../components.js";
import { count, duration, relative, when } from "../format.js";
import { useTick } from "../live.js";
import { Link } from "../router.js";
import type { WorkersView as Workers } from "../types.js";

export function WorkersView() {
  const tick = useTick();
  // Heartbeats come every few seconds: re-read with every fifth tick.
  const w = useApi<Workers>("/ui/api/workers", [Math.floor((tick?.overview.at ?? 0) / 5000)]);
  if (w.error) return <ErrorBox error={w.error} />;
  const d = w.data;
  if (!d) return <div class="loading">Loading…</div>;
  const now = Date.now();
  return (
    <div class="view">
      <div class="view-head">
        <h1>Workers &amp; instances</h1>
      </div>
      <Card title={`Workers (${count(d.workers.length)})`}>
        {d.workers.length === 0 ? (
          <Empty title="No worker is running">
            Workers announce themselves every 5 s while <code>client.run(router)</code> runs.
          </Empty>
        ) : (
          <Table testId="workers" columns={["Host · pid", "Queues", "Busy", "Version", "Up", "Seen"]}>
            {d.workers.map((x) => (
              <tr key={x.instance} data-instance={x.instance}>
                <td>
                  {x.host} · {x.pid}
                  <div class="muted mono small">{x.instance}</div>
                </td>
                <td>
                  {x.queues.map((q) => (
                    <Link key={q} to={`/queues/${encodeURIComponent(q)}`} class="chip">
                      {q}
                    </Link>
                  ))}
                </td>
                <td>
                  <div class="meter" title={`${x.running} of ${x.concurrency} slots`}>
                    <div
                      class="meter-bar"
                      style={{ width: `${x.concurrency ? (100 * x.running) / x.concurrency : 0}%` }}
                    />
                  </div>
                  <span class="small" data-col="running">
                    {x.running} / {x.concurrency}
                  </span>
                </td>
                <td>{x.version}</td>
                <td title={when(x.started)}>{duration(now - x.started)}</td>
                <td>{relative(x.lastSeen)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Card>
      <Card title={`jetq serve instances (${count(d.serves.length)})`}>
        {d.serves.length === 0 ? (
          <Empty title="No instance announced itself yet" />
        ) : (
          <Table testId="serves" columns={["Host · pid", "Roles", "Gateway", "Version", "Up"]}>
            {d.serves.map((x) => (
              <tr key={x.instance}>
                <td>
                  {x.host} · {x.pid}
                  <div class="muted mono small">{x.instance}</div>
                </td>
                <td>
                  <Badge kind={x.roles.scheduler === "leader" ? "ok" : "muted"}>scheduler {x.roles.scheduler}</Badge>{" "}
                  <Badge kind={x.roles.task_scheduler === "leader" ? "ok" : "muted"}>
                    cron {x.roles.task_scheduler}
                  </Badge>{" "}
                  {x.roles.dashboard ? <Badge kind="info">dashboard</Badge> : null}
                </td>
                <td class="mono">{x.roles.gateway ?? "–"}</td>
                <td>{x.version}</td>
                <td title={when(x.started)}>{duration(now - x.started)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Card>
    </div>
  );
}
