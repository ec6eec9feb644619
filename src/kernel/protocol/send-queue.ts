// zeromq.js allows one send in flight per socket; messages are queued and sent in order.
import type * as zmq from 'zeromq';

export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(
    private readonly socket: zmq.Writable,
    private readonly onError: (e: Error) => void,
  ) {}

  send(frames: Buffer[]): Promise<void> {
    const next = this.tail.then(() => this.socket.send(frames));
    this.tail = next.catch((e: Error) => this.onError(e));
    return this.tail;
  }
}
