import type { JobServerMessage } from '../api/jobs.ts';

/** Where a subscriber's frames go: a WebSocket in the server, a plain object in tests. */
export interface StreamSink {
  /** Bytes queued but not yet written to the network (ws's `bufferedAmount`). */
  readonly bufferedAmount: number;
  send(data: string): void;
}

export interface StreamOptions {
  /** How many messages the replay buffer keeps for `resume`. */
  replayLimit?: number;
  /** How many bytes of serialised messages the replay buffer keeps. */
  replayBytes?: number;
  /** Above this many unsent bytes a client is slow: it gets the newest progress and preview only. */
  slowClientBytes?: number;
  now?: () => number;
}

type Body = JobServerMessage extends infer M
  ? M extends unknown
    ? Omit<M, 'jobId' | 'seq' | 'ts'>
    : never
  : never;

interface Entry {
  seq: number;
  type: JobServerMessage['type'];
  data: string;
}

/** Progress and previews are superseded by newer ones; completed and error never are. */
const supersedable = (type: Entry['type']): boolean => type === 'progress' || type === 'preview';

class Subscriber {
  /** Entries not yet handed to the sink, in seq order: at most one progress and one preview plus terminal messages. */
  pending: Entry[] = [];
  constructor(readonly sink: StreamSink) {}
}

/**
 * The per-job message log behind `/ws/jobs/{name}`: stamps every message with `jobId`, the next
 * `seq` and `ts`; keeps a bounded replay buffer for `resume`; fans messages out so that a slow
 * subscriber holds at most the newest progress and preview instead of a growing queue.
 */
export class PreviewStream {
  private seqValue = 0;
  private readonly buffer: Entry[] = [];
  private bufferBytes = 0;
  private readonly latest = new Map<Entry['type'], Entry>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly replayLimit: number;
  private readonly replayBytes: number;
  private readonly slowClientBytes: number;
  private readonly now: () => number;

  constructor(
    readonly jobId: string,
    options: StreamOptions = {},
  ) {
    this.replayLimit = options.replayLimit ?? 512;
    this.replayBytes = options.replayBytes ?? 16 * 1024 * 1024;
    this.slowClientBytes = options.slowClientBytes ?? 512 * 1024;
    this.now = options.now ?? Date.now;
  }

  get seq(): number {
    return this.seqValue;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** The oldest seq still in the replay buffer (a resume from before it has a gap). */
  get oldestBufferedSeq(): number | undefined {
    return this.buffer[0]?.seq;
  }

  publish(body: Body): JobServerMessage {
    this.seqValue += 1;
    const message = { ...body, jobId: this.jobId, seq: this.seqValue, ts: this.now() } as JobServerMessage;
    const entry: Entry = { seq: message.seq, type: message.type, data: JSON.stringify(message) };
    this.buffer.push(entry);
    this.bufferBytes += entry.data.length;
    while (
      this.buffer.length > 1 &&
      (this.buffer.length > this.replayLimit || this.bufferBytes > this.replayBytes)
    ) {
      this.bufferBytes -= this.buffer.shift()!.data.length;
    }
    this.latest.set(entry.type, entry);
    for (const subscriber of this.subscribers) this.enqueue(subscriber, entry);
    return message;
  }

  /**
   * A new subscriber. With `afterSeq` it is a resume: every buffered message after it is replayed.
   * Without, it gets the current state (newest progress, preview and outcome) and then live messages.
   */
  subscribe(sink: StreamSink, afterSeq?: number): Subscriber {
    const subscriber = new Subscriber(sink);
    this.subscribers.add(subscriber);
    if (afterSeq !== undefined) this.resume(subscriber, afterSeq);
    else {
      const snapshot = [...this.latest.values()].sort((a, b) => a.seq - b.seq);
      for (const entry of snapshot) this.enqueue(subscriber, entry);
    }
    return subscriber;
  }

  /** Replays buffered messages after `afterSeq` in order; anything pending is part of that replay. */
  resume(subscriber: Subscriber, afterSeq: number): void {
    subscriber.pending = [];
    for (const entry of this.buffer) if (entry.seq > afterSeq) subscriber.sink.send(entry.data);
  }

  unsubscribe(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
  }

  /** Sends what slow subscribers hold back once their buffers have drained; call on a timer. */
  flush(): void {
    for (const subscriber of this.subscribers) this.drain(subscriber);
  }

  private enqueue(subscriber: Subscriber, entry: Entry): void {
    if (supersedable(entry.type))
      subscriber.pending = subscriber.pending.filter((p) => p.type !== entry.type);
    subscriber.pending.push(entry);
    this.drain(subscriber);
  }

  private drain(subscriber: Subscriber): void {
    while (subscriber.pending.length > 0 && subscriber.sink.bufferedAmount <= this.slowClientBytes) {
      subscriber.sink.send(subscriber.pending.shift()!.data);
    }
  }
}
