// The `train` namespace of the public API (tf.train in TF1).
export {
  adam,
  sgd,
  momentum,
  rmsprop,
  group,
  noOp,
  NoOp,
  controlDependencies,
  getOrCreateGlobalStep,
  getGlobalStep,
  exponentialDecay,
  Optimizer,
  AdamOptimizer,
  GradientDescentOptimizer,
  MomentumOptimizer,
  RMSPropOptimizer,
  TrainOp,
} from './train-ops';
export type { LearningRate, MinimizeOptions } from './train-ops';
export { GraphKeys, getCollection, UpdateOp } from '../framework/graph';
