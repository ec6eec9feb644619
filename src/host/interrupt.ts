// How an interrupt reaches running code, whatever hosts the library. The host (the kernel on
// interrupt_request / SIGINT) sets a process-wide stop request; the training, evaluation and
// prediction loops check it at every step boundary, save what they must and throw
// KeyboardInterrupt. Whatever else stops a cell (SIGINT inside synchronous code, an abandoned
// await) ends as the same KeyboardInterrupt, made by asKeyboardInterrupt / new KeyboardInterrupt.

/** Python's KeyboardInterrupt: what train / evaluate / predict throw when the kernel's Interrupt stops them. */
export class KeyboardInterrupt extends Error {
  constructor(message = 'Interrupted by the user') {
    super(message);
    this.name = 'KeyboardInterrupt';
  }
}

let requested = false;

export function requestInterrupt(): void {
  requested = true;
}

export function clearInterrupt(): void {
  requested = false;
}

export function isInterruptRequested(): boolean {
  return requested;
}

/**
 * `e` as a KeyboardInterrupt when it is one of the ways code gets interrupted: already a
 * KeyboardInterrupt, or Node's error for SIGINT during vm code run with breakOnSigint (told by
 * its error code, not its message); anything else is returned unchanged.
 */
export function asKeyboardInterrupt(e: unknown): unknown {
  if (e instanceof KeyboardInterrupt) return e;
  if (e instanceof Error && (e as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') {
    const k = new KeyboardInterrupt(e.message);
    // Where the code was stopped, as the stack of the error it replaces says.
    k.stack = `${k.name}: ${k.message}${(e.stack ?? '').replace(/^[^\n]*/, '')}`;
    return k;
  }
  return e;
}
