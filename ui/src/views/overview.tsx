/** Overview: every queue with its counts, badges and rates, and the last hour of everything. */
import { SeriesChart } from "../chart.js";
import { Badge, Card, Empty, ErrorBox, Num, Table, useApi } from "../components.js";
import { count, duration, rate, relative } from "../format.js";
import { useTick } from "../live.js";
import { Link } from "../router.js";
import type { Overview, QueueRow, Series } from "../types.js";

/** The badges of a queue: paused, rate limited, held. */
export function QueueBadges(props: { q: QueueRow }) {
  const { q } = props;
  return (
    <>
      {q.paused ? <Badge kind="warn">paused</Badge> : null}
      {q.rate_limit ? (
        <Badge kind="info" title="queue-wide rate limit">
          {count(q.rate_limit.limit)} / {duration(q.rate_limit.interval_ms)}
        </Badge>
      ) : null}
      {q.hold_until && q.hold_until > Date.now() ? (
        <Badge kind="warn" title="a handler holds the queue back">
          held {relative(q.hold_until)}
        </Badge>
      ) : null}
    </>
  );
}

const failed = (q: QueueRow) => q.counts.expired + q.counts.terminated + q.counts.unreachable;

function Stat(props: { label: string; value: string; title?: string; kind?: string }) {
  return (
    <div class={`stat ${props.kind ?? ""}`} title={props.title}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
    </div>
  );
}

/** The charts of one queue or of all ("*"). */
export function Charts(props: { queue: string; theme: string }) {
  const path = props.queue === "*" ? "/ui/api/series" : `/ui/api/series?queue=${encodeURIComponent(props.queue)}`;
  const series = useApi<Series>(path);
  if (series.error) return <ErrorBox error={series.error} title="Could not load the charts" />;
  if (!series.data) return <div class="loading">Loading charts…</div>;
  return (
    <div class="charts">
      <Card title="Throughput, last hour">
        <SeriesChart series={series.data} queue={props.queue} kind="throughput" theme={props.theme} />
      </Card>
      <Card title="Enqueue → start latency">
        <SeriesChart series={series.data} queue={props.queue} kind="latency" theme={props.theme} />
      </Card>
    </div>
  );
}

export function OverviewView(props: { theme: string }) {
  const first = useApi<Overview>("/ui/api/overview");
  const tick = useTick();
  const o = tick?.overview ?? first.data;
  if (!o) return first.error ? <ErrorBox error={first.error} /> : <div class="loading">Loading…</div>;
  const total = (f: (q: QueueRow) => number) => o.queues.reduce((n, q) => n + f(q), 0);
  return (
    <div class="view">
      <div class="view-head">
        <h1>Overview</h1>
        {o.index.ready ? null : (
          <Badge kind="info" title="the task index is being built from the stream">
            indexing {o.index.records > 0 ? Math.floor((100 * o.index.replayed) / o.index.records) : 0}%
          </Badge>
        )}
      </div>
      <div class="stats">
        <Stat label="queues" value={count(o.queues.length)} />
        <Stat label="waiting" value={count(total((q) => q.counts.waiting))} />
        <Stat label="active" value={count(total((q) => q.counts.active))} kind="run" />
        <Stat label="completed" value={count(total((q) => q.counts.complete))} kind="ok" />
        <Stat label="failed" value={count(total(failed))} kind="bad" title="expired, terminated or unreachable" />
        <Stat label="dead letters" value={count(total((q) => q.counts.dead_letters))} />
        <Stat
          label="processed"
          value={rate(o.rates.completed + o.rates.failed)}
          title="completed + failed tries per second (last 10 s)"
        />
      </div>
      <Charts queue="*" theme={props.theme} />
      <Card title="Queues">
        {o.queues.length === 0 ? (
          <Empty title="No queues yet">
            Queues appear here once created, e.g. with <code>Client.connect({'{ queue: "emails" }'})</code> or{" "}
            <code>PUT /v1/queues/emails</code>.
          </Empty>
        ) : (
          <Table
            testId="queues"
            columns={[
              "Queue",
              { label: "Waiting", right: true, title: "not yet handed to a worker" },
              { label: "Active", right: true },
              { label: "Retry", right: true },
              { label: "Delayed", right: true },
              { label: "Blocked", right: true },
              { label: "Completed", right: true },
              { label: "Failed", right: true, title: "expired, terminated or unreachable" },
              { label: "Cancelled", right: true },
              { label: "Dead letters", right: true },
              { label: "Done/s", right: true, title: "completed per second, last 10 s" },
              { label: "Failed/s", right: true, title: "failed tries per second, last 10 s" },
            ]}
          >
            {o.queues.map((q) => (
              <tr key={q.name} data-queue={q.name}>
                <td>
                  <Link to={`/queues/${encodeURIComponent(q.name)}`} class="strong">
                    {q.name}
                  </Link>{" "}
                  <QueueBadges q={q} />
                  {q.error ? <span class="inline-error">{q.error}</span> : null}
                </td>
                <td class="r" data-col="waiting" title={`by priority 0–9: ${q.counts.waiting_by_priority.join(" · ")}`}>
                  <Num n={q.counts.waiting} />
                </td>
                <td class="r" data-col="active">
                  <Num n={q.counts.active} />
                </td>
                <td class="r" data-col="retry">
                  <Num n={q.counts.retry} />
                </td>
                <td class="r">
                  <Num n={q.counts.delayed} />
                </td>
                <td class="r">
                  <Num n={q.counts.blocked} />
                </td>
                <td class="r" data-col="complete">
                  <Num n={q.counts.complete} />
                </td>
                <td class="r" data-col="failed">
                  <Num n={failed(q)} />
                </td>
                <td class="r">
                  <Num n={q.counts.cancelled} />
                </td>
                <td class="r" data-col="dead">
                  <Link to={`/dead-letters/${encodeURIComponent(q.name)}`}>
                    <Num n={q.counts.dead_letters} />
                  </Link>
                </td>
                <td class="r">{rate(q.rates.completed)}</td>
                <td class="r">{rate(q.rates.failed)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Card>
    </div>
  );
}
