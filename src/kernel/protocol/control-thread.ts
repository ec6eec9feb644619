// Worker thread entry: owns the heartbeat and control sockets, so both answer while a cell
// keeps the main thread busy (a synchronous loop included). Heartbeats are echoed here.
// interrupt_request is answered here and turned into SIGINT, which stops a synchronous loop
// (vm's breakOnSigint) or, when the cell awaits, reaches the kernel's SIGINT handler. Other
// control messages, already verified, go to the main thread; its replies come back to be sent.
import * as zmq from 'zeromq';
import { parentPort, workerData } from 'worker_threads';
import { decode, encode, newHeader, Signer, WireError } from './wire';
import { DigestHistory } from './digest-history';
import type { ControlData, ToControl, FromControl } from './control-client';

const port = parentPort!;
const data = workerData as ControlData;
const post = (e: FromControl): void => port.postMessage(e);
const signer = new Signer(data.key);
const history = new DigestHistory();
// Oversized frames are refused unread; handover: see the shell socket in server.ts.
const control = new zmq.Router({ maxMessageSize: data.maxMessageBytes, handover: true });
const hb = new zmq.Reply({ maxMessageSize: data.maxMessageBytes });

// zeromq.js allows one send in flight per socket.
let sending: Promise<void> = Promise.resolve();
function send(frames: Buffer[]): void {
  sending = sending.then(() => control.send(frames)).catch((e: Error) => post({ type: 'log', line: `control: send failed: ${e.message}` }));
}

async function heartbeat(): Promise<void> {
  for await (const frames of hb) await hb.send(frames);
}

// shutdown_request is answered by the main thread (it saves the history and closes the kernel).
// A cell in a synchronous loop would keep it waiting until Jupyter kills the process (5 s):
// when the main thread has not closed a second after the request, SIGINT stops the loop (as an
// interrupt does) and the shutdown goes on normally.
let shutdownWatchdog: NodeJS.Timeout | undefined;
function armShutdownWatchdog(): void {
  if (shutdownWatchdog || process.platform === 'win32') return;
  shutdownWatchdog = setTimeout(() => process.kill(process.pid, 'SIGINT'), 1000);
  shutdownWatchdog.unref();
}

async function serveControl(): Promise<void> {
  for await (const frames of control) {
    try {
      const i = frames.findIndex((f) => f.length === 9 && f.toString() === '<IDS|MSG>');
      const sig = i >= 0 && frames[i + 1] ? frames[i + 1].toString() : '';
      const msg = decode(frames, signer, history);
      if (msg.header.msg_type === 'shutdown_request') armShutdownWatchdog();
      if (msg.header.msg_type !== 'interrupt_request') {
        post({ type: 'message', frames });
        continue;
      }
      // The signal first: the reply says the interrupt was delivered. (Windows has no SIGINT to
      // send, process.kill would end the kernel: there the main thread interrupts when it can.)
      if (process.platform !== 'win32') process.kill(process.pid, 'SIGINT');
      send(
        encode(
          {
            identities: msg.identities,
            header: newHeader('interrupt_reply', data.session),
            parent_header: msg.header,
            metadata: {},
            content: { status: 'ok' },
          },
          signer,
        ),
      );
      post({ type: 'interrupted', header: msg.header, signature: sig });
    } catch (e) {
      post({ type: 'dropped', why: e instanceof WireError ? e.message : String(e) });
    }
  }
}

port.on('message', (m: ToControl) => {
  if (m.type === 'send') send(m.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
  else if (m.type === 'seen') history.add(m.signature);
  else if (m.type === 'close') {
    clearTimeout(shutdownWatchdog);
    // Pending replies (shutdown_reply) go out first, for at most half a second. Sockets left
    // open when the process exits abort it (zeromq.js issue 411), so they close here.
    const done = (): void => {
      control.close();
      hb.close();
      Atomics.store(m.closed, 0, 1);
      Atomics.notify(m.closed, 0);
    };
    void Promise.race([sending, new Promise((r) => setTimeout(r, 500))]).then(done, done);
  }
});

Promise.all([control.bind(data.controlEndpoint), hb.bind(data.hbEndpoint)]).then(
  () => {
    post({ type: 'ready' });
    heartbeat().catch(() => undefined);
    serveControl().catch(() => undefined);
  },
  (e: Error) => post({ type: 'failed', error: e.message }),
);
