import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { display } from '../src/display';
import { carriesPlotlyLibrary, PLOTLY_MIME, PlotlyTrace, plotlyTierOf, resetPlotlyLibrary } from '../src/display/plotly';
import { DisplayOptions, DisplaySink, MimeBundle, setDisplaySink } from '../src/host/sink';

interface Figure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
}

function figure(b: MimeBundle): Figure {
  const f = b[PLOTLY_MIME] as Figure;
  assert.ok(f && Array.isArray(f.data), 'bundle has application/vnd.plotly.v1+json with data');
  return f;
}

/** The figure as the browser will receive it: the JSON literal inside the chart's script. */
function specInHtml(b: MimeBundle): Figure {
  const m = /var spec=(\{.*?\});g\.whenReady/.exec(b['text/html'] as string);
  assert.ok(m, 'chart script holds its spec');
  return JSON.parse(m[1]) as Figure;
}

/** A sink as the kernel installs one: it records what a cell would output. */
class RecordingSink implements DisplaySink {
  outputs: { data: MimeBundle; opts?: DisplayOptions }[] = [];
  display(data: MimeBundle, opts?: DisplayOptions): void {
    this.outputs.push({ data, opts });
  }
  update(): void {}
  clearOutput(): void {}
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

afterEach(() => {
  setDisplaySink(undefined);
  resetPlotlyLibrary();
});

describe('display.histogram', () => {
  test('bins values equally between min and max, last bin closed, NaN skipped', () => {
    const values = [0, 0.1, 0.2, 0.5, 0.5, 0.9, 1, NaN];
    const b = display.histogram(values, { bins: 4, title: 'weights' });
    const f = figure(b);
    assert.equal(f.data.length, 1);
    assert.equal(f.data[0].type, 'bar');
    assert.deepEqual(f.data[0].y, [3, 0, 2, 2]);
    assert.deepEqual(f.data[0].x, [0.125, 0.375, 0.625, 0.875]);
    assert.deepEqual(f.data[0].width, [0.25, 0.25, 0.25, 0.25]);
    assert.deepEqual((f.layout.title as { text: string }).text, 'weights');
    assert.match(b['text/plain'] as string, /weights \(8 values, 4 bins, min 0, max 1, mean 0\.4571, 1 NaN\/Inf skipped\)/);
    assert.deepEqual(specInHtml(b).data[0].y, [3, 0, 2, 2], 'the HTML draws the same data');
  });

  test('reads a tensor without leaving tensors behind; 30 bins by default', () => {
    const t = tf.randomNormal([1000], 0, 1, 'float32', 7);
    const before = tf.memory().numTensors;
    const f = figure(display.histogram(t));
    assert.equal(tf.memory().numTensors, before);
    assert.equal((f.data[0].y as number[]).length, 30);
    assert.equal(
      (f.data[0].y as number[]).reduce((a, b) => a + b, 0),
      1000,
    );
    t.dispose();
  });
});

describe('display.plot', () => {
  test('raw traces pass through with typed arrays turned into JSON arrays', () => {
    const b = display.plot(
      [
        { type: 'scatter', name: 'train', x: [1, 2, 3], y: new Float32Array([0.5, 0.25, 0.125]) },
        { type: 'bar', name: 'counts', x: ['a', 'b'], y: Int32Array.from([4, 5]) },
      ],
      { title: { text: 'two traces' } },
    );
    const f = figure(b);
    assert.deepEqual(
      f.data.map((t) => [t.type, t.name]),
      [
        ['scatter', 'train'],
        ['bar', 'counts'],
      ],
    );
    assert.deepEqual(f.data[0].y, [0.5, 0.25, 0.125]);
    assert.deepEqual(JSON.parse(JSON.stringify(f)).data[1].y, [4, 5]);
    assert.equal(b['text/plain'], 'Plotly chart: two traces\n2 traces:\n  train (scatter, 3 points)\n  counts (bar, 2 points)');
    assert.deepEqual(specInHtml(b).data, f.data);
  });

  test('data cannot break out of the chart script', () => {
    const b = display.plot({ type: 'scatter', name: '</script><script>alert(1)</script>', y: [1] });
    const html = b['text/html'] as string;
    assert.equal(html.match(/<\/script>/g)?.length, 1, 'only the chart script closes');
    assert.equal(specInHtml(b).data[0].name, '</script><script>alert(1)</script>');
  });
});

describe('display.confusionMatrix', () => {
  test('counts true class by row and predicted class by column, with class names', () => {
    const labels = tf.tensor1d([0, 1, 2, 2, 1, 0], 'int32');
    const preds = [0, 2, 2, 2, 1, 1];
    const b = display.confusionMatrix(labels, preds, { classNames: ['cat', 'dog', 'owl'] });
    const f = figure(b);
    assert.equal(f.data[0].type, 'heatmap');
    assert.deepEqual(f.data[0].z, [
      [1, 1, 0],
      [0, 1, 1],
      [0, 0, 2],
    ]);
    assert.deepEqual(f.data[0].x, ['cat', 'dog', 'owl']);
    assert.deepEqual(f.data[0].y, ['cat', 'dog', 'owl']);
    assert.match(b['text/plain'] as string, /accuracy 66\.67%, 6 examples/);
    assert.match(b['text/plain'] as string, /owl +0 +0 +2/);
    labels.dispose();
  });

  test('mismatched lengths and out-of-range classes are explained', () => {
    assert.throws(() => display.confusionMatrix([0, 1], [0]), /2 labels but 1 predictions/);
    assert.throws(() => display.confusionMatrix([0, 3], [0, 1], { classNames: ['a', 'b'] }), /example 1 has label 3 .* outside 0\.\.1/);
  });
});

describe('plotly library embedding', () => {
  test('outside the kernel charts never carry the 4.5 MB library', () => {
    const b = display.plot({ y: [1, 2, 3] });
    assert.equal(carriesPlotlyLibrary(b), false);
    assert.ok((b['text/html'] as string).length < 8 * 1024, `chart html is small: ${kb((b['text/html'] as string).length)}`);
  });

  test('in the kernel only the first chart of a cell run carries the library: the cartesian build, packed to under 700 KB', () => {
    const sink = new RecordingSink();
    setDisplaySink(sink);
    const charts = Array.from({ length: 20 }, (_, i) =>
      display.plot({ type: 'scatter', y: [i, i + 1, i + 2] }, { title: { text: `chart ${i}` } }),
    );
    assert.equal(sink.outputs.length, 20, 'every chart was displayed through the sink');
    assert.deepEqual(
      charts.map(carriesPlotlyLibrary),
      charts.map((_, i) => i === 0),
    );
    const sizes = charts.map((b) => Buffer.byteLength(JSON.stringify(b)));
    const library = fs.statSync(require.resolve('plotly.js-dist-min/plotly.min.js')).size;
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(
      `plotly.min.js ${kb(library)}; first chart (with the cartesian library) ${kb(sizes[0])}; later chart ${kb(sizes[1])}; ` +
        `20 charts in the notebook JSON ${kb(total)} (vs ${kb(20 * library)} if each embedded it)`,
    );
    assert.match(charts[0]['text/html'] as string, /data-tier="cartesian"/);
    assert.ok(sizes[0] < 700 * 1024, `carrier ${kb(sizes[0])} < 700 KiB`);
    assert.ok(sizes[1] < 8 * 1024, `a later chart ${kb(sizes[1])} < 8 KiB`);
    assert.ok(total < sizes[0] + 20 * 8 * 1024);
  });

  test('every chart this library draws is cartesian; a raw 3-D chart carries the full build, once per cell run', () => {
    const sink = new RecordingSink();
    setDisplaySink(sink);
    resetPlotlyLibrary();
    const values = tf.tensor1d([0.1, 0.5, 0.9]);
    const own = [display.histogram(values), display.confusionMatrix([0, 1, 1], [0, 1, 0]), display.plot({ type: 'bar', y: [1, 2] })];
    values.dispose();
    assert.deepEqual(
      own.map((b) => plotlyTierOf(b)),
      [1, 1, 1],
    );
    assert.deepEqual(own.map(carriesPlotlyLibrary), [true, false, false]);
    const surface = display.plot({
      type: 'surface',
      z: [
        [1, 2],
        [3, 4],
      ],
    });
    assert.equal(plotlyTierOf(surface), 2);
    assert.match(surface['text/html'] as string, /data-tier="full"/, 'the first chart needing the full build carries it');
    assert.equal(carriesPlotlyLibrary(display.plot({ type: 'scatter3d', x: [1], y: [1], z: [1] })), false, 'a second one does not');
    assert.equal(carriesPlotlyLibrary(display.plot({ y: [1] })), false, 'nor a cartesian chart after it');
  });

  test('the packed cartesian build unpacks to exactly plotly-cartesian.min.js', () => {
    setDisplaySink(new RecordingSink());
    resetPlotlyLibrary();
    const m = /atob\("([A-Za-z0-9+/=]+)"\)/.exec(display.plot({ y: [1] })['text/html'] as string);
    assert.ok(m, 'carrier holds a base64 literal');
    const unpacked = zlib.gunzipSync(Buffer.from(m[1], 'base64'));
    assert.ok(unpacked.equals(fs.readFileSync(require.resolve('plotly.js-cartesian-dist-min/plotly-cartesian.min.js'))));
  });

  test('the packed library unpacks to exactly plotly.min.js, run with require.js hidden', () => {
    const b = display.plotlyLibrary();
    const html = b['text/html'] as string;
    const m = /atob\("([A-Za-z0-9+/=]+)"\)/.exec(html);
    assert.ok(m, 'carrier holds a base64 literal');
    const unpacked = zlib.gunzipSync(Buffer.from(m[1], 'base64'));
    assert.ok(unpacked.equals(fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'))));
    assert.match(html, /\(function\(define,module,exports\)\{/);
  });

  test('display.plotlyLibrary() restores the library and the next chart does not repeat it', () => {
    setDisplaySink(new RecordingSink());
    assert.equal(carriesPlotlyLibrary(display.plotlyLibrary()), true);
    assert.equal(carriesPlotlyLibrary(display.plot({ y: [1] })), false);
    resetPlotlyLibrary();
    assert.equal(carriesPlotlyLibrary(display.plot({ y: [1] })), true, 'after a reset the next chart carries it again');
  });
});
