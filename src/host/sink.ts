// The one seam between the library and whatever shows output. The Jupyter kernel installs a
// sink for the running cell; scripts and tests run with none (helpers then return bundles or
// print plain text).

/** A Jupyter MIME bundle: MIME type -> data (string, or JSON for +json types). */
export type MimeBundle = Record<string, unknown>;

export interface DisplayOptions {
  /** Stable id; a later `update` with the same id replaces this output in place. */
  displayId?: string;
  metadata?: Record<string, unknown>;
}

export interface DisplaySink {
  display(data: MimeBundle, opts?: DisplayOptions): void;
  update(data: MimeBundle, displayId: string, metadata?: Record<string, unknown>): void;
  clearOutput(wait: boolean): void;
}

let current: DisplaySink | undefined;

/** Installed by the kernel around each execution; `undefined` outside a kernel. */
export function setDisplaySink(sink: DisplaySink | undefined): void {
  current = sink;
}

export function getDisplaySink(): DisplaySink | undefined {
  return current;
}
