import { describe, expect, it } from 'vitest';
import { JobServerMessage } from '../../../src/api/jobs.ts';
import { PreviewStream, type StreamSink } from '../../../src/jobs/stream.ts';

class Sink implements StreamSink {
  bufferedAmount = 0;
  readonly frames: JobServerMessage[] = [];
  send(data: string): void {
    this.frames.push(JobServerMessage.parse(JSON.parse(data)));
  }
  get seqs(): number[] {
    return this.frames.map((f) => f.seq);
  }
}

const progress = (processed: number) => ({
  type: 'progress' as const,
  processed,
  total: 100,
  percent: processed,
});
const preview = (label: number) => ({
  type: 'preview' as const,
  scale: 255,
  shape: [28, 28] as [number, number],
  dtype: 'uint8' as const,
  payload: Buffer.alloc(784).toString('base64'),
  grid: { rows: 1, cols: 1, cell: 28 },
  labels: [label],
  indices: [0],
});

describe('PreviewStream', () => {
  it('stamps jobId, increasing seq and ts on every message', () => {
    let now = 1000;
    const stream = new PreviewStream('job-a', { now: () => now++ });
    const sink = new Sink();
    stream.subscribe(sink);
    stream.publish(progress(1));
    stream.publish(preview(3));
    stream.publish({ type: 'error', code: 'internal', message: 'boom' });
    expect(sink.frames.map((f) => [f.jobId, f.seq, f.ts])).toEqual([
      ['job-a', 1, 1000],
      ['job-a', 2, 1001],
      ['job-a', 3, 1002],
    ]);
  });

  it('replays everything after afterSeq on resume, so a reconnecting client misses no seq', () => {
    const stream = new PreviewStream('j');
    const first = new Sink();
    const subscription = stream.subscribe(first);
    for (let i = 1; i <= 5; i++) stream.publish(progress(i));
    stream.unsubscribe(subscription);
    for (let i = 6; i <= 9; i++) stream.publish(progress(i));
    const second = new Sink();
    stream.subscribe(second, first.seqs.at(-1));
    stream.publish(progress(10));
    expect([...first.seqs, ...second.seqs]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('resume as a message replays in order (the client drops seqs it has seen)', () => {
    const stream = new PreviewStream('j');
    for (let i = 1; i <= 4; i++) stream.publish(progress(i));
    const sink = new Sink();
    const subscription = stream.subscribe(sink);
    expect(sink.seqs).toEqual([4]);
    stream.resume(subscription, 1);
    expect(sink.seqs).toEqual([4, 2, 3, 4]);
  });

  it('gives a new subscriber the newest progress, preview and outcome in seq order', () => {
    const stream = new PreviewStream('j');
    stream.publish(progress(1));
    stream.publish(preview(1));
    stream.publish(progress(2));
    stream.publish(preview(2));
    stream.publish({
      type: 'completed',
      summary: {
        progress: { processed: 2, total: 2, percent: 100 },
        result: {
          classCounts: new Array(10).fill(0),
          labelled: 0,
          imagesPerSecond: 1,
          latencyMs: { p50: 1, p99: 1 },
          retries: 0,
          durationMs: 1,
        },
      },
    });
    const sink = new Sink();
    stream.subscribe(sink);
    expect(sink.frames.map((f) => [f.type, f.seq])).toEqual([
      ['progress', 3],
      ['preview', 4],
      ['completed', 5],
    ]);
  });

  it('holds only the newest progress and preview for a slow client, never a growing queue', () => {
    const stream = new PreviewStream('j', { slowClientBytes: 1000 });
    const sink = new Sink();
    stream.subscribe(sink);
    stream.publish(progress(1));
    sink.bufferedAmount = 5000;
    for (let i = 0; i < 50; i++) {
      stream.publish(progress(i + 2));
      stream.publish(preview(i % 10));
    }
    stream.publish({ type: 'error', code: 'internal', message: 'x' });
    expect(sink.frames).toHaveLength(1);
    sink.bufferedAmount = 0;
    stream.flush();
    expect(sink.frames.map((f) => f.type)).toEqual(['progress', 'progress', 'preview', 'error']);
    const last = sink.frames.slice(1);
    expect(last.map((f) => f.seq)).toEqual([100, 101, 102]);
    expect(sink.seqs).toEqual([...sink.seqs].sort((a, b) => a - b));
  });

  it('bounds the replay buffer by count', () => {
    const stream = new PreviewStream('j', { replayLimit: 10 });
    for (let i = 1; i <= 25; i++) stream.publish(progress(i));
    expect(stream.oldestBufferedSeq).toBe(16);
    const sink = new Sink();
    stream.subscribe(sink, 0);
    expect(sink.seqs).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  });
});
