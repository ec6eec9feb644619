// Type errors in the user's terms. The library's types reach TypeScript as one bundled file
// whose modules are namespaces named __mN (type-bundle.ts), so a message would say
// "does not exist on type 'typeof __m1'"; it names what the user typed instead. And where a
// TensorFlow (Python) habit meets a tfjs namespace of the same name, a hint points at the
// preloaded global that does what the user meant.

/** The TF1 names that are not on tfjs's `tf` but are preloaded globals here. */
const MISSING_ON_TF: Record<string, string> = {
  summary:
    "summaries are the preloaded global `summary`: summary.scalar('loss', loss), summary.image(name, images), summary.histogram(name, values).",
  estimator:
    'the Estimator API is preloaded as globals: new Estimator(modelFn, modelDir), EstimatorSpec, ModeKeys, RunConfig, trainAndEvaluate.',
  logging: 'logging is the preloaded global `logging`: logging.setVerbosity(logging.WARN), logging.info(...).',
  hooks: 'session hooks are the preloaded global `hooks`: new hooks.LoggingTensorHook({...}), hooks.StopAtStepHook, ...',
  contrib:
    'tf.contrib does not exist here; the Estimator API is preloaded as globals (Estimator, layers, losses, metrics, train, summary, hooks).',
  nn: "tf.nn's functions are on tf itself in TensorFlow.js: tf.relu, tf.softmax, tf.sigmoid, tf.conv2d, tf.maxPool; losses are the global `losses`.",
};

/** tfjs namespaces that share a TF1 name but not its meaning, and the global that has it. */
const TFJS_NAMESPACES: Record<string, string> = {
  layers:
    "tf.layers is TensorFlow.js's Keras layers (tf.layers.conv2d({filters, kernelSize}) makes a layer object); " +
    'the TF1-style functional layers are the preloaded global `layers`: layers.conv2d(x, 32, 3), layers.dense(x, 10).',
  metrics:
    "tf.metrics is TensorFlow.js's Keras metrics; the streaming metrics of tf.metrics (TF1), for evalMetricOps, are the preloaded global `metrics`: metrics.accuracy(labels, predictions).",
  train:
    "tf.train is TensorFlow.js's optimizers; TF1's tf.train is the preloaded global `train`: train.adam(lr).minimize(loss, {globalStep: train.getOrCreateGlobalStep()}); hooks are `hooks.LoggingTensorHook` and friends.",
  losses:
    "tf.losses is TensorFlow.js's losses; TF1's tf.losses is the preloaded global `losses`: losses.sparseSoftmaxCrossEntropy(labels, logits).",
};

export interface ExplainedDiagnostic {
  messageText: string;
  hint?: string;
}

/** The dotted expression that ends just before `offset` (e.g. `tf` or `tf.layers` before `.x`). */
function expressionBefore(src: string, offset: number): string | undefined {
  let i = offset;
  while (i > 0 && /\s/.test(src[i - 1])) i--;
  if (src[i - 1] !== '.') return undefined;
  const end = i - 1;
  let start = end;
  while (start > 0 && /[\w$.]/.test(src[start - 1])) start--;
  const expr = src.slice(start, end).replace(/^\.+/, '');
  return expr || undefined;
}

/** The tfjs namespace (layers, metrics, ...) used as `tf.<ns>.` in the statement around the error. */
function tfNamespaceNear(src: string, offset: number, endOffset: number): string | undefined {
  const lineStart = src.lastIndexOf('\n', offset - 1) + 1;
  const nl = src.indexOf('\n', endOffset);
  const text = src.slice(lineStart, nl < 0 ? src.length : nl);
  const errorAt = offset - lineStart;
  let best: string | undefined;
  for (const m of text.matchAll(/\btf\s*\.\s*(layers|metrics|train|losses)\s*\.\s*\w+/g)) {
    // The one whose call the error is in or after: the last mention starting before the error.
    if ((m.index ?? 0) <= errorAt) best = m[1];
  }
  return best;
}

/** The diagnostic's message with bundle-internal names replaced, and a hint where one helps. */
export function explainDiagnostic(
  d: { start: { offset: number }; end: { offset: number }; messageText: string; code: number },
  src: string,
): ExplainedDiagnostic {
  const expr = expressionBefore(src, d.start.offset);
  let messageText = d.messageText.replace(/typeof __m\d+/g, () => `typeof ${expr ?? 'module'}`).replace(/\b__m\d+\./g, '');
  let hint: string | undefined;
  const prop = /^Property '([\w$]+)' does not exist on type/.exec(d.messageText)?.[1];
  if (prop && expr === 'tf' && MISSING_ON_TF[prop]) {
    hint = MISSING_ON_TF[prop];
  } else if (prop && expr && /^tf\.(layers|metrics|train|losses)$/.test(expr)) {
    hint = TFJS_NAMESPACES[expr.slice(3)];
  } else {
    const ns = tfNamespaceNear(src, d.start.offset, d.end.offset);
    if (ns) hint = TFJS_NAMESPACES[ns];
  }
  if (/__m\d+/.test(messageText)) messageText = messageText.replace(/__m\d+/g, 'module');
  return { messageText, hint };
}
