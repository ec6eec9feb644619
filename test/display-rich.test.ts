import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { display, displaySymbol, isAlreadyDisplayed, toMimeBundle } from '../src/display';
import { DisplayOptions, DisplaySink, MimeBundle, setDisplaySink } from '../src/host/sink';

type Event =
  | { kind: 'display'; data: MimeBundle; opts?: DisplayOptions }
  | { kind: 'update'; data: MimeBundle; id: string }
  | { kind: 'clear'; wait: boolean };

/** A sink as the kernel installs one per execution: it records the cell's outputs. */
class RecordingSink implements DisplaySink {
  events: Event[] = [];
  display(data: MimeBundle, opts?: DisplayOptions): void {
    this.events.push({ kind: 'display', data, opts });
  }
  update(data: MimeBundle, id: string): void {
    this.events.push({ kind: 'update', data, id });
  }
  clearOutput(wait: boolean): void {
    this.events.push({ kind: 'clear', wait });
  }
}

afterEach(() => setDisplaySink(undefined));

function cells(html: string): string[] {
  return [...html.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
}

describe('toMimeBundle: tensors as cell results', () => {
  test('a small 2-D tensor: tf-style text with stats, and an HTML table of every value', () => {
    const t = tf.tensor2d([
      [1, 2.5, -3],
      [4, 5, 6],
    ]);
    const b = toMimeBundle(t);
    assert.ok(b);
    const text = b['text/plain'] as string;
    assert.match(text, /dtype: float32/);
    assert.match(text, /shape: \[2,3\]/);
    assert.match(text, /\[\[1, 2\.5, -3\],/);
    assert.match(text, /6 values, min -3, max 6, mean 2\.583/);
    const html = b['text/html'] as string;
    assert.match(html, /Tensor float32 \[2, 3\]/);
    assert.deepEqual(cells(html), ['1', '2.5', '-3', '4', '5', '6']);
    t.dispose();
  });

  test('a large tensor is truncated at both ends in HTML, not dumped', () => {
    const t = tf.range(0, 1000, 1, 'int32');
    const b = toMimeBundle(t) as MimeBundle;
    const shown = cells(b['text/html'] as string);
    assert.equal(shown.length, 17);
    assert.deepEqual(shown.slice(0, 3), ['0', '1', '2']);
    assert.equal(shown[8], '…');
    assert.deepEqual(shown.slice(-2), ['998', '999']);
    assert.ok((b['text/plain'] as string).length < 1000, 'text/plain is tf-truncated');
    const m = tf.zeros([300, 300]);
    const big = toMimeBundle(m) as MimeBundle;
    assert.equal(cells(big['text/html'] as string).length, 17 * 17);
    assert.ok((big['text/html'] as string).length < 40_000);
    tf.dispose([t, m]);
  });

  test('scalars, bools, strings, rank-3 and disposed tensors all render readably', () => {
    const s = tf.scalar(3.25);
    assert.match(toMimeBundle(s)?.['text/html'] as string, />3\.25</);
    const bools = tf.tensor1d([1, 0, 1], 'bool');
    assert.deepEqual(cells(toMimeBundle(bools)?.['text/html'] as string), ['true', 'false', 'true']);
    assert.match(toMimeBundle(bools)?.['text/plain'] as string, /3 values, 2 true/);
    const str = tf.tensor1d(['a', 'b<c'], 'string');
    assert.deepEqual(cells(toMimeBundle(str)?.['text/html'] as string), ['a', 'b&lt;c']);
    const cube = tf.ones([2, 2, 2]);
    assert.match(toMimeBundle(cube)?.['text/html'] as string, /<pre[^>]*>\s*\[\[\[1, 1\],/);
    const gone = tf.zeros([4]);
    gone.dispose();
    assert.equal(toMimeBundle(gone)?.['text/plain'], 'Tensor float32 [4] (disposed)');
    tf.dispose([s, bools, str, cube]);
  });

  test('rendering a tensor creates no tensors', () => {
    const t = tf.randomUniform([50, 50]);
    const before = tf.memory().numTensors;
    toMimeBundle(t);
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });
});

describe('toMimeBundle: other values', () => {
  test('objects with _toMimeBundle() or [displaySymbol] give their own bundle', () => {
    const a = { _toMimeBundle: (): MimeBundle => ({ 'text/html': '<b>a</b>', 'text/plain': 'a' }) };
    assert.deepEqual(toMimeBundle(a), { 'text/html': '<b>a</b>', 'text/plain': 'a' });
    class Model {
      [displaySymbol](): MimeBundle {
        return { 'text/plain': 'a model' };
      }
    }
    assert.deepEqual(toMimeBundle(new Model()), { 'text/plain': 'a model' });
    assert.throws(() => toMimeBundle({ _toMimeBundle: () => 'oops' }), /_toMimeBundle\(\) must return a MIME bundle such as/);
  });

  test('plain values have no rich form; bundles from the helpers pass through', () => {
    assert.equal(toMimeBundle(42), undefined);
    assert.equal(toMimeBundle('text'), undefined);
    assert.equal(toMimeBundle({ a: 1 }), undefined);
    const b = display.html('<i>x</i>');
    assert.equal(toMimeBundle(b), b);
  });
});

describe('display()', () => {
  test('outside the kernel it returns the bundle and shows nothing', () => {
    assert.deepEqual(display({ 'text/plain': 'hi' }), { 'text/plain': 'hi' });
    assert.deepEqual(display('plain string'), { 'text/plain': 'plain string' });
    assert.deepEqual(display({ a: [1, 2] }), { 'text/plain': '{ a: [ 1, 2 ] }' });
    const t = tf.tensor1d([1, 2]);
    assert.match(display(t)['text/html'] as string, /Tensor float32 \[2\]/);
    t.dispose();
  });

  test('in the kernel it displays through the sink with the display id, and update/clear reach the sink', () => {
    const sink = new RecordingSink();
    setDisplaySink(sink);
    const b = display({ 'text/plain': 'v1' }, { displayId: 'status' });
    display.update({ 'text/plain': 'v2' }, 'status');
    display.clearOutput({ wait: true });
    display.clearOutput();
    assert.deepEqual(sink.events, [
      { kind: 'display', data: { 'text/plain': 'v1' }, opts: { displayId: 'status' } },
      { kind: 'update', data: { 'text/plain': 'v2' }, id: 'status' },
      { kind: 'clear', wait: true },
      { kind: 'clear', wait: false },
    ]);
    assert.equal(isAlreadyDisplayed(b), true, 'the kernel should not repeat it as execute_result');
    setDisplaySink(new RecordingSink());
    assert.equal(isAlreadyDisplayed(b), false, 'shown again when it is the result of a later cell');
  });

  test('helpers take a displayId so a chart can be redrawn in place', () => {
    const sink = new RecordingSink();
    setDisplaySink(sink);
    display.image(new Uint8Array(4), { shape: [2, 2], displayId: 'img' });
    display.histogram([1, 2, 3], { displayId: 'h' });
    assert.deepEqual(
      sink.events.map((e) => (e.kind === 'display' ? e.opts?.displayId : e.kind)),
      ['img', 'h'],
    );
  });

  test('html and markdown carry a text fallback; bundles print briefly in a console', () => {
    const h = display.html('<h3>Title</h3><p>a &amp; b</p>');
    assert.equal(h['text/plain'], 'Title\na & b');
    assert.deepEqual(display.markdown('# hi'), { 'text/markdown': '# hi', 'text/plain': '# hi' });
    const img = display.image(new Uint8Array(16), { shape: [4, 4] });
    assert.equal(inspect(img), 'MimeBundle { image/png, text/plain }');
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(img))), ['image/png', 'text/plain'], 'markers never reach JSON');
  });
});

describe('display.progress', () => {
  test('in the kernel: one display, then updates of the same display id', () => {
    const sink = new RecordingSink();
    setDisplaySink(sink);
    const bar = display.progress({ title: 'train', total: 100, minIntervalMs: 0 });
    bar.update({ step: 10, loss: 0.5, stepsPerSec: 20 });
    bar.update({ step: 50, loss: 0.25, stepsPerSec: 20 });
    bar.close('done', { step: 100, loss: 0.1 });
    assert.equal(sink.events[0].kind, 'display');
    const id = sink.events[0].kind === 'display' ? sink.events[0].opts?.displayId : undefined;
    assert.ok(id);
    assert.deepEqual(
      sink.events.slice(1).map((e) => (e.kind === 'update' ? e.id : e.kind)),
      [id, id],
    );
    const lastEvent = sink.events[sink.events.length - 1];
    assert.equal(lastEvent.kind, 'update');
    const last = lastEvent.kind === 'update' ? lastEvent.data : {};
    assert.match(last['text/plain'] as string, /^train \(done\): \[#{24}\] 100\/100 \| loss 0\.1000/);
    assert.match(last['text/html'] as string, /width:100\.0%/);
  });

  test('outside the kernel: plain text lines on stderr', () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string): boolean => {
      lines.push(s);
      return true;
    }) as typeof process.stderr.write;
    try {
      const bar = display.progress({ title: 'eval', total: 4 });
      bar.update({ step: 1 });
      bar.close('done', { step: 4 });
    } finally {
      process.stderr.write = write;
    }
    assert.ok(lines.length >= 2);
    assert.match(lines[lines.length - 1], /eval \(done\): \[#+\] 4\/4/);
    assert.ok(
      lines.every((l) => !l.includes('<')),
      'no HTML outside the kernel',
    );
  });
});
