// The Jupyter kernel: five sockets, one table from message type to handler. Every request is
// answered through `reply`, which always sets the parent header; busy/idle status is published
// once around each handler, never inside one. Malformed, badly signed, replayed or oversized
// messages are logged (never with the key) and dropped; the kernel keeps running. Heartbeat
// and control live in a thread of their own (control-client.ts), so they answer while a cell
// runs. Each message is handled in its own async context: output, displays and errors of the
// work it starts (timers, forgotten promises) go to that message, never to a later one.
import { AsyncLocalStorage } from 'async_hooks';
import * as crypto from 'crypto';
import * as zmq from 'zeromq';
import { ConnectionInfo, endpoint } from './connection';
import { Content, decode, encode, Header, Message, newHeader, Signer, WireError, PROTOCOL_VERSION } from './wire';
import { CellExecutor } from '../cells/cell-executor';
import { CompilerClient } from '../compiler/compiler-client';
import { History, HistoryQuery } from './history';
import { OutputCapture } from './output';
import * as util from 'util';
import { toMimeBundle } from '../../display/rich';
import { isAlreadyDisplayed } from '../../display/bundle';
import { setDisplaySink } from '../../host/sink';
import { requestInterrupt, clearInterrupt, isInterruptRequested, KeyboardInterrupt } from '../../host/interrupt';
import { kernelBanner } from '../cells/prelude';
import { setStdinProvider } from '../../host/stdin';
import { UpdateThrottle } from './update-throttle';
import { SendQueue } from './send-queue';
import { ControlThread } from './control-client';
import { DigestHistory } from './digest-history';
import { maxMessageBytes } from './limits';
import { initBackend } from '../../backend/select';
import { packageVersion } from '../../package-root';
import { typeScriptVersion } from '../compiler/tslab-adapter';

type Channel = 'shell' | 'control';
type Handler = (msg: Message, channel: Channel) => Promise<void>;

export interface KernelOptions {
  connection: ConnectionInfo;
  cwd: string;
  log?: (line: string) => void;
  /** The compiler thread, when the caller started it early (it warms up while modules load). */
  compiler?: CompilerClient;
  /** Frames larger than this are refused before they are read (default: TFJS_ESTIMATOR_MAX_MESSAGE_BYTES, else 32 MiB). */
  maxMessageBytes?: number;
}

/** The kernel's log line format (its real stderr, which Jupyter shows in its terminal). */
export function kernelLogger(): (line: string) => void {
  const realStderr = process.stderr.write.bind(process.stderr);
  return (l) => void realStderr(`[tfjs-estimator kernel] ${l}\n`);
}

export class Kernel {
  private readonly signer: Signer;
  private readonly session = crypto.randomUUID();
  private readonly maxMessageBytes: number;
  private readonly shell: zmq.Router;
  private readonly stdin: zmq.Router;
  private readonly iopub = new zmq.Publisher();
  private readonly control: ControlThread;
  /** Signatures already accepted: a replayed message is refused. */
  private readonly digests = new DigestHistory();
  /** The message whose handling started the code running now (a cell, its timers, its promises). */
  private readonly context = new AsyncLocalStorage<Message>();
  private readonly executor: CellExecutor;
  private readonly history: History;
  private readonly output: OutputCapture<Message>;
  private executionCount = 0;
  /** Kernel-clock time of the last failed cell: shell requests that arrived before it are aborted. */
  private abortQueueUntil?: number;
  private readonly receivedAt = new WeakMap<Message, number>();
  private shellQueue: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly log: (line: string) => void;
  private pendingInput?: { resolve: (v: string) => void; reject: (e: Error) => void };
  private readonly handlers: Map<string, Handler>;
  private preludeReady: Promise<void> = Promise.resolve();
  private readonly queues: Record<'shell' | 'control' | 'stdin' | 'iopub', { send(frames: Buffer[]): Promise<void> }>;

  constructor(private readonly opts: KernelOptions) {
    this.signer = new Signer(opts.connection.key);
    // The kernel's own log goes to its real stderr (Jupyter's terminal), never into a cell.
    this.log = opts.log ?? kernelLogger();
    this.executor = new CellExecutor(opts.cwd, opts.compiler ?? new CompilerClient(this.log));
    this.history = new History(this.session);
    this.maxMessageBytes = opts.maxMessageBytes ?? maxMessageBytes(process.env);
    // zeromq refuses a frame over the limit from its size prefix, before reading it, and
    // disconnects the peer: such a frame never reaches memory. The client reconnects under the
    // same identity; handover gives it the route at once (else the stale one may keep it).
    this.shell = new zmq.Router({ maxMessageSize: this.maxMessageBytes, handover: true });
    this.stdin = new zmq.Router({ maxMessageSize: this.maxMessageBytes, handover: true });
    const c = opts.connection;
    this.control = new ControlThread(
      {
        key: c.key,
        session: this.session,
        controlEndpoint: endpoint(c, c.control_port),
        hbEndpoint: endpoint(c, c.hb_port),
        maxMessageBytes: this.maxMessageBytes,
      },
      {
        message: (frames) => this.accept(frames, 'control'),
        interrupted: (header, signature) => {
          this.digests.add(signature);
          if (process.platform === 'win32') this.interrupt();
          // The reply went out from the control thread; busy/idle still frame the request.
          const parent = { header } as Message;
          this.publish('status', { execution_state: 'busy' }, parent);
          this.publish('status', { execution_state: 'idle' }, parent);
        },
        dropped: (why) => this.logDropped('control', why),
        log: (line) => this.log(line),
      },
    );
    const onError = (e: Error) => this.log(`send failed: ${e.message}`);
    this.queues = {
      shell: new SendQueue(this.shell, onError),
      control: this.control,
      stdin: new SendQueue(this.stdin, onError),
      iopub: new SendQueue(this.iopub, onError),
    };
    this.output = new OutputCapture(
      (name, text, parent) => {
        if (!isSilent(parent)) this.publish('stream', { name, text }, parent);
      },
      () => this.parentNow(),
    );
    // A Map, not an object: a msg_type such as 'constructor' or '__proto__' finds nothing.
    this.handlers = new Map<string, Handler>([
      ['kernel_info_request', (m) => this.kernelInfo(m)],
      ['execute_request', (m) => this.execute(m)],
      ['complete_request', (m) => this.complete(m)],
      ['inspect_request', (m) => this.inspect(m)],
      ['is_complete_request', (m) => this.isComplete(m)],
      ['history_request', (m) => this.historyRequest(m)],
      ['comm_info_request', (m) => this.reply(m, 'comm_info_reply', { status: 'ok', comms: {} })],
      ['comm_open', (m) => this.commOpen(m)],
      ['comm_msg', async () => undefined],
      ['comm_close', async () => undefined],
      ['interrupt_request', (m) => this.interruptRequest(m)],
      ['shutdown_request', (m, ch) => this.shutdown(m, ch)],
    ]);
  }

  /** The message whose work is running now; undefined for the kernel's own work. */
  private parentNow(): Message | undefined {
    return this.context.getStore();
  }

  async start(): Promise<void> {
    const c = this.opts.connection;
    await Promise.all([
      this.shell.bind(endpoint(c, c.shell_port)),
      this.stdin.bind(endpoint(c, c.stdin_port)),
      this.iopub.bind(endpoint(c, c.iopub_port)),
    ]);
    this.output.install();
    setStdinProvider((prompt, password) => this.requestInput(prompt, password));
    process.on('SIGINT', () => this.interrupt());
    // A throw from a timer or a forgotten rejection is the user's bug (or a library's): report
    // it in the cell whose code started that work, and keep the kernel alive, as ipykernel does.
    // The kernel's own failures (no cell started them) go to the kernel log only.
    const report = (kind: string) => (e: unknown) => {
      try {
        const err = e instanceof Error ? e : new Error(String(e));
        this.log(`${kind}: ${err.stack ?? err.message}`);
        const parent = this.parentNow();
        if (!parent || parent.header.msg_type !== 'execute_request') return;
        const frames = this.executor
          .mapCellPositions(err.stack ?? '')
          .split('\n')
          .slice(1, 8);
        this.publish(
          'error',
          { ename: err.name || 'Error', evalue: err.message, traceback: [`${kind}: ${err.name}: ${err.message}`, ...frames] },
          parent,
        );
      } catch (inner) {
        this.log(`could not report an error: ${String(inner)}`);
      }
    };
    process.on('uncaughtException', report('Uncaught exception'));
    process.on('unhandledRejection', report('Unhandled promise rejection'));
    this.publish('status', { execution_state: 'starting' });
    // The backend, then the prelude (library + display as typed globals), before the first cell.
    this.preludeReady = initBackend()
      .then((r) => this.log(r.summary))
      .then(() => this.executor.runPrelude())
      .then((r) => {
        if (!r.ok) this.log(`prelude failed: ${r.error.evalue}`);
      });
    void this.serveShell();
    void this.serveStdin();
    // The control thread started with the kernel and comes up beside the prelude, not before it.
    await this.control.ready;
  }

  private async serveShell(): Promise<void> {
    for await (const frames of this.shell) this.accept(frames as Buffer[], 'shell');
  }

  /** Decodes one request and queues its handler; whatever goes wrong stays with this message. */
  private accept(frames: Buffer[], channel: Channel): void {
    let msg: Message;
    try {
      msg = decode(frames, this.signer, this.digests);
    } catch (e) {
      this.logDropped(channel, e instanceof WireError ? e.message : String(e));
      return;
    }
    this.channelOf.set(msg, channel);
    this.receivedAt.set(msg, performance.now());
    const handler = this.handlers.get(msg.header.msg_type);
    if (!handler) {
      this.log(`${channel}: ignoring unknown message type '${String(msg.header.msg_type).slice(0, 80)}'`);
      return;
    }
    // An interrupt taken here must be refused as a replay by the control thread too.
    if (msg.header.msg_type === 'interrupt_request') this.control.noteSeen(signatureOf(frames));
    // Shell requests run one after another; control requests run at once. The handler runs
    // in the message's own async context, and nothing it throws leaves it.
    const run = (): Promise<void> =>
      this.context
        .run(msg, () => this.withStatus(msg, () => handler(msg, channel)))
        .catch((e: unknown) => this.log(`${msg.header.msg_type}: ${String(e)}`));
    if (channel === 'shell') this.shellQueue = this.shellQueue.then(run, run);
    else void run();
  }

  private dropped = 0;

  /** Malformed input is logged, but a flood of it must not flood the log. */
  private logDropped(channel: string, why: string): void {
    this.dropped += 1;
    if (this.dropped <= 10 || this.dropped % 1000 === 0) {
      this.log(
        `${channel}: dropped a message (${why}); ${this.dropped} dropped so far${this.dropped === 10 ? ', logging every 1000th from now on' : ''}`,
      );
    }
  }

  private async withStatus(msg: Message, fn: () => Promise<void>): Promise<void> {
    try {
      this.publish('status', { execution_state: 'busy' }, msg);
      await fn();
    } catch (e) {
      this.log(`handler for ${msg.header.msg_type} failed: ${(e as Error).stack ?? String(e)}`);
    } finally {
      this.publish('status', { execution_state: 'idle' }, msg);
    }
  }

  /** Sends a reply on the request's channel; the parent header is always the request's. */
  private async reply(parent: Message, msgType: string, content: Content, channel?: Channel): Promise<void> {
    const ch = channel ?? this.channelOf.get(parent) ?? 'shell';
    let frames: Buffer[];
    try {
      frames = encode(
        { identities: parent.identities, header: newHeader(msgType, this.session), parent_header: parent.header, metadata: {}, content },
        this.signer,
      );
    } catch (e) {
      this.log(`could not encode ${msgType}: ${String(e)}`);
      return;
    }
    await this.queues[ch].send(frames);
  }

  private readonly channelOf = new WeakMap<Message, Channel>();

  /** Publishes on iopub; a message that can't be encoded is logged, never thrown. */
  publish(msgType: string, content: Content, parent?: Message, extra: { metadata?: Record<string, unknown> } = {}): void {
    let frames: Buffer[];
    try {
      frames = encode(
        {
          identities: [Buffer.from(`kernel.${this.session}.${msgType}`)],
          header: newHeader(msgType, this.session),
          parent_header: (parent?.header ?? {}) as Header,
          metadata: extra.metadata ?? {},
          content,
        },
        this.signer,
      );
    } catch (e) {
      this.log(`could not encode ${msgType}: ${String(e)}`);
      return;
    }
    void this.queues.iopub.send(frames);
  }

  // ------------------------------------------------------------ handlers

  private async kernelInfo(m: Message): Promise<void> {
    await this.reply(m, 'kernel_info_reply', {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'tfjs-estimator',
      implementation_version: kernelVersion(),
      language_info: {
        name: 'typescript',
        version: tsVersion(),
        mimetype: 'text/typescript',
        file_extension: '.ts',
        codemirror_mode: { name: 'javascript', typescript: true },
        pygments_lexer: 'typescript',
      },
      banner: kernelBanner(),
      help_links: [{ text: 'tfjs-estimator README', url: 'https://www.npmjs.com/package/tfjs-estimator' }],
    });
  }

  private async execute(m: Message): Promise<void> {
    const c = m.content as {
      code?: unknown;
      silent?: boolean;
      store_history?: boolean;
      user_expressions?: Record<string, string>;
      allow_stdin?: boolean;
      stop_on_error?: boolean;
    };
    const code = typeof c.code === 'string' ? c.code : '';
    const silent = c.silent === true;
    const store = c.store_history !== false && !silent;
    // After an error with stop_on_error, requests queued before it are aborted.
    // Arrival is timed on our own monotonic clock: the client's header date can't be compared
    // to ours at millisecond resolution (a request sent right after the error reply may share its ms).
    if (this.abortQueueUntil !== undefined && (this.receivedAt.get(m) ?? Infinity) < this.abortQueueUntil) {
      await this.reply(m, 'execute_reply', { status: 'aborted', execution_count: this.executionCount });
      return;
    }
    if (typeof c.code !== 'string') {
      await this.reply(m, 'execute_reply', {
        status: 'error',
        ename: 'BadRequest',
        evalue: 'execute_request without a code string',
        traceback: [],
        execution_count: this.executionCount,
      });
      return;
    }
    // An interrupt from here on is this cell's, even one that comes while the prelude loads.
    clearInterrupt();
    await this.preludeReady;
    if (isInterruptRequested()) {
      const e = new KeyboardInterrupt('Interrupted before the cell started');
      await this.reply(m, 'execute_reply', {
        status: 'error',
        ename: e.name,
        evalue: e.message,
        traceback: [],
        execution_count: this.executionCount,
      });
      return;
    }
    if (store) this.executionCount += 1;
    const n = this.executionCount;
    if (!silent) this.publish('execute_input', { code, execution_count: n }, m);
    // A sink per execution: "already displayed" means displayed by this cell.
    this.installDisplaySink();

    const pager = /^\s*([\w.$]+)\?\s*$/.exec(code);
    if (pager) {
      const text = (await this.executor.inspect(pager[1], pager[1].length).catch(() => undefined)) ?? `No information for ${pager[1]}`;
      await this.reply(m, 'execute_reply', {
        status: 'ok',
        execution_count: n,
        payload: [{ source: 'page', data: { 'text/plain': text }, start: 0 }],
        user_expressions: {},
      });
      return;
    }
    const outcome = await this.executor.execute(code, `<cell ${n}>`);
    this.updates.flush();
    this.output.flush();
    if (store) this.history.add(n, code);
    if (outcome.ok) {
      // `display.image(x)` as a last line was already shown: don't repeat it as the result.
      if (outcome.hasValue && !silent && !isAlreadyDisplayed(outcome.value)) {
        const bundle = richBundle(outcome.value);
        this.publish('execute_result', { execution_count: n, data: bundle, metadata: {} }, m);
      }
      const userExpressions: Record<string, unknown> = {};
      for (const [k, expr] of Object.entries(c.user_expressions ?? {})) userExpressions[k] = await this.evalExpression(expr);
      await this.reply(m, 'execute_reply', { status: 'ok', execution_count: n, payload: [], user_expressions: userExpressions });
    } else {
      this.publish('error', { ...outcome.error }, m);
      if (c.stop_on_error !== false) this.abortQueueUntil = performance.now();
      await this.reply(m, 'execute_reply', { status: 'error', execution_count: n, ...outcome.error, user_expressions: {} });
    }
  }

  private async evalExpression(expr: string): Promise<Content> {
    const r = await this.executor.execute(expr, '<user_expression>');
    if (!r.ok) return { status: 'error', ...r.error };
    return { status: 'ok', data: richBundle(r.hasValue ? r.value : undefined), metadata: {} };
  }

  private async complete(m: Message): Promise<void> {
    const c = m.content as { code?: string; cursor_pos?: number };
    const code = String(c.code ?? '');
    const pos = Number.isInteger(c.cursor_pos) ? (c.cursor_pos as number) : code.length;
    await this.preludeReady;
    let r = { matches: [] as string[], cursorStart: pos, cursorEnd: pos };
    try {
      r = await this.executor.complete(code, pos);
    } catch (e) {
      this.log(`completion failed: ${(e as Error).message}`);
    }
    await this.reply(m, 'complete_reply', {
      status: 'ok',
      matches: r.matches,
      cursor_start: r.cursorStart,
      cursor_end: r.cursorEnd,
      metadata: {},
    });
  }

  private async inspect(m: Message): Promise<void> {
    const c = m.content as { code?: string; cursor_pos?: number };
    const code = String(c.code ?? '');
    const pos = Number.isInteger(c.cursor_pos) ? (c.cursor_pos as number) : code.length;
    await this.preludeReady;
    let text: string | undefined;
    try {
      // Hover info is keyed to the start of the identifier; look one back from the cursor.
      text = (await this.executor.inspect(code, Math.max(0, pos - 1))) ?? (await this.executor.inspect(code, pos));
    } catch (e) {
      this.log(`inspect failed: ${(e as Error).message}`);
    }
    await this.reply(m, 'inspect_reply', { status: 'ok', found: !!text, data: text ? { 'text/plain': text } : {}, metadata: {} });
  }

  private async isComplete(m: Message): Promise<void> {
    let content: Content = { status: 'unknown' };
    try {
      const r = await this.executor.isComplete(String((m.content as { code?: string }).code ?? ''));
      content = r.status === 'incomplete' ? { status: r.status, indent: r.indent } : { status: r.status };
    } catch (e) {
      this.log(`is_complete failed: ${(e as Error).message}`);
    }
    await this.reply(m, 'is_complete_reply', content);
  }

  private async historyRequest(m: Message): Promise<void> {
    const c = m.content as HistoryQuery;
    await this.reply(m, 'history_reply', { status: 'ok', history: this.history.query(c) });
  }

  private async commOpen(m: Message): Promise<void> {
    // No comm targets are registered: close it, as the protocol asks.
    const id = (m.content as { comm_id?: string }).comm_id;
    if (id) this.publish('comm_close', { comm_id: id, data: {} }, m);
  }

  private async interruptRequest(m: Message): Promise<void> {
    this.interrupt();
    await this.reply(m, 'interrupt_reply', { status: 'ok' });
  }

  private interrupt(): void {
    // Training loops stop at their next step boundary and save; other awaits are abandoned.
    requestInterrupt();
    this.pendingInput?.reject(new Error('Interrupted while waiting for input'));
    this.executor.interruptBeforeRun();
    // Give a training loop 2 s to stop cleanly, then abandon the cell's await; only that cell's.
    const cell = this.executor.runningCell;
    if (cell !== undefined) setTimeout(() => this.executor.interrupt(cell), 2000).unref();
  }

  private async shutdown(m: Message, channel: Channel): Promise<void> {
    const restart = (m.content as { restart?: boolean }).restart === true;
    await this.reply(m, 'shutdown_reply', { status: 'ok', restart }, channel);
    void this.history.save();
    this.publish('shutdown_reply', { status: 'ok', restart }, m);
    this.stopping = true;
    setTimeout(() => this.close(), 50);
  }

  // ------------------------------------------------------------ stdin and display

  private async serveStdin(): Promise<void> {
    for await (const frames of this.stdin) {
      let msg: Message;
      try {
        msg = decode(frames as Buffer[], this.signer, this.digests);
      } catch (e) {
        this.logDropped('stdin', (e as Error).message);
        continue;
      }
      if (msg.header.msg_type === 'input_reply' && this.pendingInput) {
        this.pendingInput.resolve(String((msg.content as { value?: unknown }).value ?? ''));
        this.pendingInput = undefined;
      }
    }
  }

  private requestInput(prompt: string, password: boolean): Promise<string> {
    const parent = this.parentNow();
    if (!parent || (parent.content as { allow_stdin?: unknown }).allow_stdin !== true) {
      return Promise.reject(new Error('input(): this frontend does not accept input (allow_stdin is false).'));
    }
    const frames = encode(
      {
        identities: parent.identities,
        header: newHeader('input_request', this.session),
        parent_header: parent.header,
        metadata: {},
        content: { prompt, password },
      },
      this.signer,
    );
    return new Promise<string>((resolve, reject) => {
      this.pendingInput = { resolve, reject };
      void this.queues.stdin.send(frames);
    });
  }

  /** At most 10 updates a second per display reach the frontend; the last one always does. */
  private readonly updates = new UpdateThrottle(100, (displayId, data, metadata) =>
    this.publish('update_display_data', { data, metadata: metadata ?? {}, transient: { display_id: displayId } }, this.parentNow()),
  );

  private installDisplaySink(): void {
    setDisplaySink({
      display: (data, opts) => {
        this.updates.flush();
        this.output.flush();
        this.publish(
          'display_data',
          { data, metadata: opts?.metadata ?? {}, transient: opts?.displayId ? { display_id: opts.displayId } : {} },
          this.parentNow(),
        );
      },
      update: (data, displayId, metadata) => this.updates.push(displayId, data, metadata),
      clearOutput: (wait) => {
        this.updates.flush();
        this.output.flush();
        this.publish('clear_output', { wait }, this.parentNow());
      },
    });
  }

  async close(): Promise<void> {
    this.output.uninstall();
    for (const s of [this.shell, this.stdin, this.iopub]) s.close();
    this.control.closeSync();
    this.executor.close();
    process.exit(0);
  }

  get isStopping(): boolean {
    return this.stopping;
  }
}

/** A silent execute_request shows nothing: no stream, no display. */
function isSilent(parent: Message | undefined): boolean {
  return parent?.header.msg_type === 'execute_request' && (parent.content as { silent?: unknown }).silent === true;
}

/** The signature frame of a message that decoded (it has the delimiter). */
function signatureOf(frames: Buffer[]): string {
  const i = frames.findIndex((f) => f.length === 9 && f.toString('utf8') === '<IDS|MSG>');
  return frames[i + 1].toString('utf8');
}

/** The value's own rich bundle (tensors, display results), else util.inspect text. */
function richBundle(value: unknown): Record<string, unknown> {
  return toMimeBundle(value) ?? { 'text/plain': util.inspect(value, { depth: 4, maxArrayLength: 100 }) };
}

function kernelVersion(): string {
  try {
    return packageVersion();
  } catch {
    return '0.0.0';
  }
}

function tsVersion(): string {
  // The package's metadata, not the compiler: TypeScript itself lives in the compiler thread.
  return typeScriptVersion() ?? '5';
}
