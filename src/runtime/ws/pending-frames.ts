/**
 * The replica's budget for WebSocket frames that have begun to arrive and are not complete yet:
 * `ws` holds each unfinished message in memory (up to maxPayloadBytes a connection), so a thousand
 * clients each sending most of a large frame, slowly, would hold a gigabyte. Bytes received on a
 * connection count from its last complete message (or control frame); over `max`, the connection
 * holding the most is the one to close. Approximate to one socket read (~64 KB) per connection.
 */
export class PendingFrameBudget<Owner> {
  #total = 0;
  readonly #pending = new Map<Owner, number>();

  constructor(readonly max: number) {}

  /** Unfinished bytes held across every connection. */
  get total(): number {
    return this.#total;
  }

  /** Counts `bytes` received by `owner`; over the budget, returns the owner holding the most. */
  received(owner: Owner, bytes: number): Owner | undefined {
    this.#pending.set(owner, (this.#pending.get(owner) ?? 0) + bytes);
    this.#total += bytes;
    if (this.#total <= this.max) return undefined;
    let largest = owner;
    for (const [candidate, held] of this.#pending)
      if (held > this.#pending.get(largest)!) largest = candidate;
    return largest;
  }

  /** `owner` completed a message: what it sent so far is no longer pending. */
  settled(owner: Owner): void {
    this.#total -= this.#pending.get(owner) ?? 0;
    this.#pending.set(owner, 0);
  }

  /** `owner` is gone (or being closed): nothing of it counts any more. */
  remove(owner: Owner): void {
    this.settled(owner);
    this.#pending.delete(owner);
  }
}
