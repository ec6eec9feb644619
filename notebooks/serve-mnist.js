#!/usr/bin/env node
// A small prediction server for an export of the MNIST tutorials, with plain @tensorflow/tfjs
// (no tfjs-estimator) and Node's http module.
//
//   node notebooks/serve-mnist.js <export dir> [port] [host]
//
// POST /predict with JSON {"image": [784 numbers in [0, 1]]} (or 28 rows of 28), or
// {"images": [...several...]}; the answer is {"predictions": [{"class", "probabilities"}]}.
// GET /health answers {"ok": true}. It listens on 127.0.0.1 unless a host is given, and
// refuses bodies over 1 MB (413), a content-type other than application/json (415), anything
// that is not such JSON or has a pixel beyond float32's range (400), other paths (404) and
// other methods (405), so a bad request never reaches the model; an answer that is not finite
// is a 400 too, never a 200 with nulls. A client gets 5 s to send its headers and 10 s for the
// whole request; a slower connection is closed.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const tf = require('@tensorflow/tfjs');

const MAX_BODY = 1 << 20;
const MAX_IMAGES = 256;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

function loadExport(dir) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const buffers = json.weightsManifest.flatMap((group) => group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
  const weights = Buffer.concat(buffers);
  return tf.loadGraphModelSync([json, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length)]);
}

class BadRequest extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The request's images as one [n, 28, 28] array of numbers, or a BadRequest naming the problem. */
function parseImages(body) {
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    throw new BadRequest(400, 'the body is not JSON; send {"image": [784 numbers]}');
  }
  const images = value && Array.isArray(value.images) ? value.images : value && value.image !== undefined ? [value.image] : undefined;
  if (!images) throw new BadRequest(400, 'send {"image": [784 numbers]} or {"images": [[784 numbers], ...]}');
  if (images.length === 0 || images.length > MAX_IMAGES) throw new BadRequest(400, `send 1 to ${MAX_IMAGES} images, got ${images.length}`);
  return images.map((img, i) => {
    const flat = Array.isArray(img) && img.length === 28 && img.every(Array.isArray) ? img.flat() : img;
    if (!Array.isArray(flat) || flat.length !== 784) throw new BadRequest(400, `image ${i} must have 784 pixels (28 x 28), got ${Array.isArray(flat) ? flat.length : typeof flat}`);
    // The model computes in float32: 1e300 is a finite double but Infinity there.
    if (!flat.every((v) => typeof v === 'number' && Number.isFinite(Math.fround(v)))) throw new BadRequest(400, `image ${i} has a pixel that is not a finite 32-bit number; send pixels in [0, 1]`);
    return flat;
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    // Past the limit the rest is read and dropped (memory stays bounded), so the client gets
    // its 413 instead of a reset connection; requestTimeout bounds how long that can go on.
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => (size > MAX_BODY ? reject(new BadRequest(413, `the body is over ${MAX_BODY} bytes`)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function send(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** application/json, with or without parameters (charset). */
function isJson(req) {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

function createServer(model) {
  // Node checks these timeouts every connectionsCheckingInterval (30 s by default): checked
  // each second, a slow client is cut at 5 s (headers) and 10 s (request), not 30.
  const options = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 };
  const server = http.createServer(options, async (req, res) => {
    try {
      if (req.url === '/health' && req.method === 'GET') return send(res, 200, { ok: true });
      if (req.url !== '/predict') throw new BadRequest(404, 'POST images to /predict');
      if (req.method !== 'POST') throw new BadRequest(405, 'use POST');
      if (!isJson(req)) throw new BadRequest(415, `send the body as content-type application/json, not ${req.headers['content-type'] ?? 'none'}`);
      const images = parseImages(await readBody(req));
      const out = tf.tidy(() => {
        const result = model.predict({ input: tf.tensor3d(images.flat(), [images.length, 28, 28]) });
        return { classes: result.classes.arraySync(), probabilities: result.probabilities.arraySync() };
      });
      const bad = out.probabilities.findIndex((p) => !p.every(Number.isFinite));
      if (bad >= 0) throw new BadRequest(400, `the model's output for image ${bad} is not finite; send pixels in [0, 1]`);
      send(res, 200, { predictions: out.classes.map((c, i) => ({ class: c, probabilities: out.probabilities[i] })) });
    } catch (e) {
      if (e instanceof BadRequest) return send(res, e.status, { error: e.message });
      // A connection cut mid-request (a timeout, the client gone) has no one to answer.
      if (req.destroyed || res.destroyed) return;
      console.error(e);
      send(res, 500, { error: 'prediction failed' });
    }
  });
  return server;
}

if (require.main === module) {
  const [dir, port = '8501', host = '127.0.0.1'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node serve-mnist.js <export dir> [port] [host]');
    process.exit(2);
  }
  const server = createServer(loadExport(dir));
  server.listen(Number(port), host, () => {
    const a = server.address();
    console.log(`serving ${dir} on http://${a.address}:${a.port}/predict`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

module.exports = { loadExport, createServer, parseImages };
