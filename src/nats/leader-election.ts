import type { KV } from "@nats-io/kv";
import type { Logger } from "../logger.js";
import { clampDelay } from "../timers.js";
/** Subject of the event published when a candidate wins an election. */
export const leaderEventSubject = (component: string): string => `jetq.ev.leader.${component}`;

/** Parameters of {@link LeaderElection}. */
export interface LeaderElectionParams {
  /**
   * The election bucket: one key per component, whose max age is the claim's lifetime (see
   * `ttlMs`). Opened by the caller (jetq's storage opens `JETQ_ELECTIONS`).
   */
  bucket: () => Promise<KV>;
  /** Publishes the event of a won election (core NATS, nothing stored). */
  publish: (subject: string, data: string) => void;
  /** What is being led, e.g. `"scheduler"` (a KV key: letters, digits, `_`, `-`). */
  component: string;
  /** This candidate's name, unique among candidates (e.g. host and pid). */
  name: string;
  /**
   * How long a leader's claim lives without renewal: the bucket's max age, which this must match.
   * A dead leader is replaced after at most this plus one campaign interval. @defaultValue 3000 ms
   */
  ttlMs?: number;
  /** Called when this candidate becomes leader. */
  onElected: () => void;
  /** Called when this candidate stops being leader (lost its claim, or stopped). */
  onDemoted: () => void;
  log: Logger;
}

/**
 * Leader election on a JetStream KV bucket with a TTL: a candidate becomes leader by creating the
 * component's key, keeps leadership by updating it at the revision it last wrote (every ttl/3), and
 * loses it when an update fails. When the leader dies its key ages out and another candidate's
 * create succeeds. Reusable by any component that must run once per cluster.
 */
export class LeaderElection {
  private kv?: KV;
  private revision = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private leading = false;

  constructor(private readonly p: LeaderElectionParams) {}

  /** True while this candidate holds leadership. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** The claim lifetime in force: the bucket's max age once known (see start). */
  private ttlInForce?: number;

  private get ttl(): number {
    return this.ttlInForce ?? this.p.ttlMs ?? 3000;
  }

  /** Opens the bucket and starts campaigning. */
  async start(): Promise<void> {
    this.kv = await this.p.bucket();
    // A bucket made earlier with another lifetime keeps it: campaign at its pace, or a claim
    // would run out between renewals.
    const bucketTtl = (await this.kv.status()).ttl;
    if (bucketTtl > 0 && bucketTtl !== this.ttl) {
      this.p.log.warn("the election bucket's claim lifetime differs from the one asked for; using the bucket's", {
        election: this.p.component,
        bucketTtlMs: bucketTtl,
        askedTtlMs: this.ttl,
      });
      this.ttlInForce = bucketTtl;
    }
    await this.campaign();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.campaign(), clampDelay(this.leading ? this.ttl / 3 : this.ttl / 6));
  }

  private async campaign(): Promise<void> {
    const kv = this.kv;
    if (!kv || this.stopped) return;
    try {
      if (this.leading) this.revision = await kv.update(this.p.component, this.p.name, this.revision);
      else {
        this.revision = await kv.create(this.p.component, this.p.name);
        this.leading = true;
        this.p.log.info("elected leader", { election: this.p.component, name: this.p.name });
        this.p.publish(
          leaderEventSubject(this.p.component),
          JSON.stringify({
            type: "jetq.v1.leader_elected",
            component: this.p.component,
            name: this.p.name,
            timestamp: new Date().toISOString(),
          }),
        );
        this.p.onElected();
      }
    } catch (err) {
      if (this.leading) {
        this.leading = false;
        this.p.log.warn("lost leadership", { election: this.p.component, error: (err as Error).message });
        this.p.onDemoted();
      }
    }
    this.schedule();
  }

  /** Stops campaigning; a leader gives up its key so another candidate takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      this.p.onDemoted();
      await this.kv?.delete(this.p.component, { previousSeq: this.revision }).catch(() => undefined);
    }
  }
}

/**
 * The name of the candidate leading `component` now, or undefined when none is (no election held,
 * or the leader's claim ran out).
 */
export async function currentLeader(bucket: KV, component: string): Promise<string | undefined> {
  const e = await bucket.get(component);
  return e?.operation === "PUT" ? e.string() : undefined;
}
