// The three modes of a model function, as tf.estimator.ModeKeys. Declared here, at the bottom
// of the stack, so the graph context, hooks and the estimator share one type.
export const ModeKeys = {
  TRAIN: 'train',
  EVAL: 'eval',
  PREDICT: 'infer',
} as const;
export type ModeKey = (typeof ModeKeys)[keyof typeof ModeKeys];
