// The three modes of a model function, as tf.estimator.ModeKeys. Declared here, at the bottom
// of the stack, so the graph context, hooks and the estimator share one type.
/** tf.estimator.ModeKeys: the mode modelFn is called in. */
export const ModeKeys = {
  /** Estimator.train: return loss and trainOp. */
  TRAIN: 'train',
  /** Estimator.evaluate: return loss and evalMetricOps. */
  EVAL: 'eval',
  /** Estimator.predict (and export): return predictions. */
  PREDICT: 'infer',
} as const;
/** One of the ModeKeys values: 'train', 'eval' or 'infer'. */
export type ModeKey = (typeof ModeKeys)[keyof typeof ModeKeys];
