// A convolution -> batch norm -> relu -> max pooling in inference, a chunk of images at a time:
// each chunk's convolution output goes into one scratch buffer that stays in cache and is
// pooled from there. At evaluate's batch of 500 the article's second convolution writes 12.8 MB,
// and reading that back for the pooling cost as much as the convolution's own last quarter
// (per batch: conv 4.3-4.9 ms + pooling 0.8-0.9 ms, chunked 4.2-4.5 ms together). A first layer
// (at most 4 input channels) goes image by image in one call instead (conv-pool-chain.cc).
// TFJS_ESTIMATOR_CONV_POOL_CHUNKS=0 computes the whole convolution first, as before.
import type { NativeAddon } from '../addon';
import type { PendingConv } from '../index';

/** The convolution output a chunk holds at most: about half the two cores' L2 here. */
const CHUNK_BYTES = 1 << 20;

let chunking = process.env.TFJS_ESTIMATOR_CONV_POOL_CHUNKS !== '0';

/** Whether an inference convolution is left pending for chunks (sets it when `on` is given). */
export function convPoolChunking(on?: boolean): boolean {
  if (on !== undefined) chunking = on;
  return chunking;
}

/**
 * y = maxPool(relu(conv(x) * scale + shift)) for `conv` (pending, not computed), in chunks of
 * images; poolShape is the pooling's shape array (field 0 the batch). scratch: any buffer of at
 * least chunkElements(conv) floats.
 */
export function convPoolInChunks(
  addon: NativeAddon,
  conv: PendingConv,
  poolShape: Int32Array,
  scale: Float32Array,
  shift: Float32Array,
  scratch: Float32Array,
  y: Float32Array,
): void {
  const cs = conv.shape;
  const n = cs[0];
  const inSize = cs[1] * cs[2] * cs[3];
  const midSize = cs[4] * cs[5] * cs[6];
  const outSize = poolShape[4] * poolShape[5] * poolShape[3];
  const per = imagesPerChunk(conv);
  for (let b0 = 0; b0 < n; b0 += per) {
    const k = Math.min(per, n - b0);
    const convK = cs.slice();
    convK[0] = k;
    const poolK = poolShape.slice();
    poolK[0] = k;
    const mid = scratch.subarray(0, k * midSize);
    addon.conv2dForward(convK, conv.x.subarray(b0 * inSize, (b0 + k) * inSize), conv.w, conv.bias, conv.activation, conv.alpha, mid);
    addon.maxPoolArgmax(poolK, mid, scale, shift, y.subarray(b0 * outSize, (b0 + k) * outSize), null);
  }
}

/** Floats of scratch convPoolInChunks needs for conv. */
export function chunkElements(conv: PendingConv): number {
  const cs = conv.shape;
  return Math.min(cs[0], imagesPerChunk(conv)) * cs[4] * cs[5] * cs[6];
}

function imagesPerChunk(conv: PendingConv): number {
  const cs = conv.shape;
  return Math.max(1, Math.floor(CHUNK_BYTES / (4 * cs[4] * cs[5] * cs[6])));
}
