// Showing bundles through the current sink, and marking the bundles our helpers return so the
// kernel can tell them apart from ordinary objects (and skip a duplicate execute_result).
import { inspect } from 'node:util';
import { DisplayOptions, getDisplaySink, MimeBundle, DisplaySink } from '../host/sink';

/**
 * Objects carrying this symbol (a method returning a MimeBundle, or a MimeBundle) are shown
 * with that bundle: the hook for user classes, beside a `_toMimeBundle()` method.
 */
export const displaySymbol: unique symbol = Symbol.for('tfjs-estimator.display');

const producedBy = Symbol.for('tfjs-estimator.bundle');
const shownThrough = Symbol.for('tfjs-estimator.shownThrough');

interface MarkedBundle {
  [producedBy]?: true;
  [shownThrough]?: DisplaySink;
}

/** Marks a bundle as one of ours: non-enumerable, so JSON and the wire never see it. */
export function markBundle<T extends MimeBundle>(bundle: T): T {
  Object.defineProperty(bundle, producedBy, { value: true, enumerable: false, configurable: true });
  // A short console/inspect form instead of a wall of base64.
  Object.defineProperty(bundle, inspect.custom, {
    value: (): string => `MimeBundle { ${Object.keys(bundle).join(', ')} }`,
    enumerable: false,
    configurable: true,
  });
  return bundle;
}

export function isOurBundle(value: unknown): value is MimeBundle {
  return typeof value === 'object' && value !== null && (value as MarkedBundle)[producedBy] === true;
}

/**
 * True when `value` is a bundle already shown through the sink of the running execution: the
 * kernel should not repeat it as the cell's execute_result (`display.image(x)` as a last line).
 */
export function isAlreadyDisplayed(value: unknown): boolean {
  const sink = getDisplaySink();
  return sink !== undefined && typeof value === 'object' && value !== null && (value as MarkedBundle)[shownThrough] === sink;
}

/** Displays through the current sink if there is one; returns the bundle either way. */
export function show<T extends MimeBundle>(bundle: T, opts?: DisplayOptions): T {
  markBundle(bundle);
  const sink = getDisplaySink();
  if (sink) {
    sink.display(bundle, opts);
    Object.defineProperty(bundle, shownThrough, { value: sink, enumerable: false, configurable: true, writable: true });
  }
  return bundle;
}

/** True for objects whose keys all look like MIME types ("text/plain", "image/png", ...). */
export function looksLikeMimeBundle(value: unknown): value is MimeBundle {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => /^[a-z]+\/[-+.\w]+$/i.test(k));
}
