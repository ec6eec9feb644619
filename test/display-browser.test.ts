// Renders display bundles in a real browser (Debian's chromium, driven by playwright-core):
// images must be visible, plotly charts must draw their SVG, and nothing may log an error.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { chromium, Browser, Page } from 'playwright-core';
import { display } from '../src/display';
import { mnist } from '../src/data/mnist';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { EventFileWriter } from '../src/events/writer';
import { histogramOf } from '../src/estimator/summary/collect';
import { carriesPlotlyLibrary, plotlyLibraryHtml, resetPlotlyLibrary } from '../src/display/plotly';
import { DisplayOptions, MimeBundle, setDisplaySink } from '../src/host/sink';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS as ARGS, NBCONVERT } from './helpers/browser';

const missing = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
const noNbconvert = missing || (fs.existsSync(NBCONVERT) ? false : `${NBCONVERT} is not installed (apt-get install jupyter-nbconvert)`);

interface PlotInfo {
  traces: number;
  svgs: number;
  scatterPoints: number;
  bars: number;
  heatmaps: number;
}

interface Opened {
  page: Page;
  errors: string[];
}

let browser: Browser | undefined;

async function open(file: string): Promise<Opened> {
  assert.ok(browser);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`file://${file}`);
  return { page, errors };
}

/** Waits until every chart on the page is drawn, then reports what plotly put in each. */
async function drawnPlots(page: Page, count: number): Promise<PlotInfo[]> {
  // Browser-side code is passed as text: the project compiles without the DOM typings.
  await page.waitForFunction(
    `(() => { const els = document.querySelectorAll('.tfjs-estimator-plot');
      return els.length === ${count} && Array.from(els).every((e) => e.querySelector('.main-svg')); })()`,
    undefined,
    { timeout: 30_000 },
  );
  return page.evaluate<PlotInfo[]>(`Array.from(document.querySelectorAll('.tfjs-estimator-plot')).map((el) => ({
      traces: el.data ? el.data.length : 0,
      svgs: el.querySelectorAll('svg.main-svg').length,
      scatterPoints: el.querySelectorAll('.scatterlayer .point').length,
      bars: el.querySelectorAll('.barlayer .point').length,
      heatmaps: el.querySelectorAll('.heatmaplayer image, .hm image').length,
    }))`);
}

function write(name: string, html: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  fs.writeFileSync(file, html);
  return file;
}

describe('display bundles in headless Chromium', { skip: missing }, () => {
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  after(async () => {
    await browser?.close();
  });

  test('a standalone page from toHtmlFile: images visible, charts drawn with their traces, no errors', async () => {
    const raw = mnist.raw('test');
    const digits = { data: raw.images.data.subarray(0, 12 * 784), shape: [12, 28, 28] };
    const labels = Array.from(raw.labels.data.subarray(0, 12));
    const rgb = tf.tidy(() => tf.stack([tf.linspace(0, 1, 32 * 32).reshape([32, 32]), tf.zeros([32, 32]), tf.ones([32, 32])], 2));
    const bundles: MimeBundle[] = [
      display.image(rgb, { title: 'an RGB gradient' }),
      display.images(digits, { titles: labels.map((l) => `label ${l}`), cols: 6 }),
      display.images(digits, { cols: 12, scale: 1 }),
      display.histogram(tf.randomNormal([2000], 0, 1, 'float32', 3).dataSync(), { bins: 25, title: 'normal' }),
      display.plot(
        [
          { type: 'scatter', mode: 'lines+markers', name: 'train', x: [1, 2, 3, 4], y: [1, 0.6, 0.4, 0.3] },
          { type: 'scatter', mode: 'lines+markers', name: 'eval', x: [2, 4], y: [0.7, 0.45] },
        ],
        { title: { text: 'loss' } },
      ),
      display.confusionMatrix(
        labels,
        labels.map((l, i) => (i % 5 === 0 ? (l + 1) % 10 : l)),
        { numClasses: 10 },
      ),
      await display.predictions(
        labels.map((l, i) => ({
          classes: i % 4 === 0 ? (l + 3) % 10 : l,
          probabilities: Float32Array.from({ length: 10 }, (_, k) => (k === l ? 0.8 : 0.02)),
        })),
        { images: digits, labels, limit: 8 },
      ),
    ];
    rgb.dispose();
    const file = display.toHtmlFile(bundles, path.join(ARTIFACTS, 'display-browser.html'), { title: 'display helpers' });
    const size = fs.statSync(file).size;
    console.log(`standalone page: ${(size / 1024 / 1024).toFixed(2)} MiB with ${bundles.length} outputs, 3 charts`);

    const { page, errors } = await open(file);
    const plots = await drawnPlots(page, 3);
    assert.deepEqual(
      plots.map((p) => p.traces),
      [1, 2, 1],
      'histogram, loss curves, confusion matrix',
    );
    assert.ok(plots.every((p) => p.svgs >= 1));
    assert.equal(plots[0].bars, 25, 'one bar per bin');
    assert.equal(plots[1].scatterPoints, 6, 'four train points and two eval points');
    assert.ok(plots[2].heatmaps >= 1, 'the heatmap drew its image');

    const images = await page.evaluate<{ natural: number; w: number; h: number; done: boolean }[]>(
      `Array.from(document.images).map((img) => ({ natural: img.naturalWidth, w: img.getBoundingClientRect().width, h: img.getBoundingClientRect().height, done: img.complete }))`,
    );
    // 1 figure + 12 titled digits + 1 grid + 8 gallery cards.
    assert.equal(images.length, 22);
    for (const [i, img] of images.entries()) {
      assert.ok(img.done && img.natural > 0 && img.w > 0 && img.h > 0, `image ${i} is visible: ${JSON.stringify(img)}`);
    }
    const mistakes = await page.locator('.tfjs-estimator-prediction.mistake').count();
    assert.equal(mistakes, 2, 'examples 0 and 4 of the gallery are marked as mistakes');
    await page.screenshot({ path: path.join(ARTIFACTS, 'display-browser.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the inline TensorBoard draws a subplot per tag with train and eval curves, and histogram heatmaps', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'display-tb-browser-'));
    const w = new EventFileWriter(dir);
    for (let s = 0; s <= 200; s += 20) w.addScalars(s, { loss: 1 / (1 + s / 50), accuracy: s / 250 });
    for (let s = 0; s <= 200; s += 100)
      w.addSummary(s, [{ tag: 'dense/kernel', histo: histogramOf(Array.from({ length: 500 }, (_, i) => Math.sin(i) + s / 100)) }]);
    w.close();
    const e = new EventFileWriter(path.join(dir, 'eval'));
    e.addScalars(100, { loss: 0.4, accuracy: 0.35 });
    e.addScalars(200, { loss: 0.3, accuracy: 0.7 });
    e.close();
    const file = display.toHtmlFile(
      [await display.scalars(dir), await display.histograms(dir, 'dense/kernel')],
      path.join(ARTIFACTS, 'display-tensorboard.html'),
    );
    const { page, errors } = await open(file);
    const plots = await drawnPlots(page, 2);
    assert.equal(plots[0].traces, 4, 'loss and accuracy, each train + eval');
    assert.equal(plots[0].scatterPoints, 2 * (11 + 2));
    assert.equal((await page.locator('.tfjs-estimator-plot').first().locator('.xtick').count()) > 0, true);
    const subplots = await page.evaluate<number>(
      `document.querySelector('.tfjs-estimator-plot').querySelectorAll('.cartesianlayer .subplot').length`,
    );
    assert.equal(subplots, 2, 'one subplot per tag');
    assert.ok(plots[1].heatmaps >= 1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'display-tensorboard.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('charts wait for the library wherever it sits on the page, even with require.js present', async () => {
    // Like a saved notebook whose library-carrying output is below other charts (an earlier cell
    // re-run), in a page that loaded an AMD loader (classic notebook / nbconvert templates).
    const amd = `<script>window.define=function(){throw new Error('plotly was captured by AMD define()')};window.define.amd={};</script>`;
    const a = display.plot({ type: 'bar', y: [3, 1, 2] }, { title: { text: 'before the library' } });
    const b = display.plot({ type: 'scatter', y: [1, 2] }, { title: { text: 'also before' } });
    const html = `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${amd}${a['text/html']}${b['text/html']}<p>text between</p>${plotlyLibraryHtml()}</body></html>`;
    const { page, errors } = await open(write('display-order.html', html));
    const plots = await drawnPlots(page, 2);
    assert.deepEqual(
      plots.map((p) => p.traces),
      [1, 1],
    );
    assert.equal(plots[0].bars, 3);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a page with the cartesian and the full build draws 2-D charts at once and a 3-D chart on the full build, whichever unpacks first', async () => {
    // As in a notebook whose first chart cell carried the cartesian build and a later cell's raw
    // 3-D chart the full one; the 3-D chart sits above both carriers.
    const surface = display.plot(
      {
        type: 'surface',
        z: [
          [1, 2, 3],
          [2, 3, 4],
          [3, 4, 5],
        ],
      },
      { title: { text: '3-D' } },
    );
    const line = display.plot({ type: 'scatter', y: [1, 3, 2] }, { title: { text: '2-D' } });
    const html = `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${surface['text/html']}${line['text/html']}${plotlyLibraryHtml(1)}${plotlyLibraryHtml(2)}${plotlyLibraryHtml(1)}</body></html>`;
    const { page, errors } = await open(write('display-tiers.html', html));
    await page.waitForFunction(
      `document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 && !!document.querySelector('.js-plotly-plot .gl-container, .js-plotly-plot canvas')`,
      undefined,
      { timeout: 60_000 },
    );
    const tier = await page.evaluate<number>(`window.__tfjsEstimatorPlotly.tier`);
    assert.equal(tier, 2, 'the full build is the one left on the page');
    const traces = await page.evaluate<string[]>(`Array.from(document.querySelectorAll('.js-plotly-plot')).map((el) => el.data[0].type)`);
    assert.deepEqual(traces.sort(), ['scatter', 'surface']);
    assert.deepEqual(
      errors.filter((e) => !/WebGL|GPU stall|GroupMarkerNotSet/i.test(e)),
      [],
    );
    await page.close();
  });

  test('outputs whose scripts run before they are attached (JupyterLab-style rendering) still draw', async () => {
    const chart = display.plot({ type: 'scatter', mode: 'markers', y: [5, 6, 7, 8] });
    // The host is filled, its scripts executed, and only then attached to the document.
    const page = `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${plotlyLibraryHtml()}
<script>
var host = document.createElement('div');
host.innerHTML = ${JSON.stringify(chart['text/html']).replace(/</g, '\\u003c')};
host.querySelectorAll('script').forEach(function (old) {
  var s = document.createElement('script'); s.textContent = old.textContent; document.head.appendChild(s);
});
setTimeout(function () { document.body.appendChild(host); }, 300);
</script></body></html>`;
    const { page: p, errors } = await open(write('display-late-attach.html', page));
    const plots = await drawnPlots(p, 1);
    assert.equal(plots[0].scatterPoints, 4);
    assert.deepEqual(errors, []);
    await p.close();
  });

  test('without the library anywhere a chart explains how to get it back instead of staying blank', async () => {
    const chart = display.plot({ y: [1, 2] });
    const { page, errors } = await open(write('display-no-library.html', `<!DOCTYPE html><html><body>${chart['text/html']}</body></html>`));
    await page.waitForSelector('.tfjs-plot-missing', { timeout: 10_000 });
    const notice = await page.locator('.tfjs-plot-missing').textContent();
    assert.match(notice ?? '', /Run display\.plotlyLibrary\(\) in a cell, or re-run this cell/);
    assert.match((await page.locator('.tfjs-estimator-plot pre').textContent()) ?? '', /1 trace/, 'the text summary stays visible');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a notebook of display outputs exported by jupyter nbconvert draws every chart offline', { skip: noNbconvert }, async () => {
    // Outputs as the kernel records them: display_data from the helpers under a sink. The chart
    // that carries plotly.js is put in the LAST cell, as after re-running an earlier cell.
    const outputs: MimeBundle[][] = [];
    setDisplaySink({
      display: (data: MimeBundle, _opts?: DisplayOptions): void => void outputs[outputs.length - 1].push(data),
      update: (): void => {},
      clearOutput: (): void => {},
    });
    resetPlotlyLibrary();
    try {
      for (let i = 0; i < 3; i++) {
        outputs.push([]);
        display.plot(
          { type: 'scatter', mode: 'markers', y: Array.from({ length: i + 2 }, (_, k) => k) },
          { title: { text: `chart ${i}` } },
        );
        display.image(
          new Uint8Array(28 * 28).map((_, k) => (k * 7) % 256),
          { shape: [28, 28] },
        );
      }
    } finally {
      setDisplaySink(undefined);
      resetPlotlyLibrary();
    }
    assert.deepEqual(
      outputs.map((o) => carriesPlotlyLibrary(o[0])),
      [true, false, false],
    );
    const order = [1, 2, 0];
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {
        kernelspec: { name: 'tfjs-estimator', display_name: 'TypeScript (tfjs-estimator)', language: 'typescript' },
        language_info: { name: 'typescript' },
      },
      cells: order.map((k, i) => ({
        id: `cell${i}`,
        cell_type: 'code',
        execution_count: i + 1,
        metadata: {},
        source: [`display.plot(... chart ${k} ...)`],
        outputs: outputs[k].map((data) => ({ output_type: 'display_data', data: JSON.parse(JSON.stringify(data)), metadata: {} })),
      })),
    };
    const ipynb = write('display-nbconvert.ipynb', JSON.stringify(nb, null, 1));
    console.log(`notebook with 3 charts and 3 images: ${(fs.statSync(ipynb).size / 1024 / 1024).toFixed(2)} MiB`);
    const r = spawnSync(NBCONVERT, ['--to', 'html', ipynb], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { page, errors } = await open(ipynb.replace(/\.ipynb$/, '.html'));
    const plots = await drawnPlots(page, 3);
    assert.deepEqual(
      plots.map((p) => p.scatterPoints),
      [3, 4, 2],
      'charts 1, 2, 0 in page order',
    );
    const sizes = await page.evaluate<number[]>(
      `Array.from(document.images).map((i) => i.complete ? i.getBoundingClientRect().width * i.naturalHeight : 0)`,
    );
    assert.equal(sizes.length, 3);
    assert.ok(
      sizes.every((v) => v > 0),
      `images visible: ${sizes}`,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'display-nbconvert.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
