// A process-wide stop request. The kernel sets it on interrupt_request / SIGINT; the training,
// evaluation and prediction loops check it at every step boundary, save what they must and
// throw KeyboardInterrupt so the cell ends with an interrupt error.

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

/** Throws KeyboardInterrupt (and clears the request) if a stop was requested. */
export function throwIfInterrupted(message?: string): void {
  if (requested) {
    requested = false;
    throw new KeyboardInterrupt(message);
  }
}
