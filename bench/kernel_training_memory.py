"""10,000 training steps of the article's CNN in one kernel, in cells of 1,000 steps, as a user
would run them: the kernel's RSS and tf.memory().numTensors after every cell must stay bounded.

    /usr/bin/python3 bench/kernel_training_memory.py [kernel name] [steps per cell] [cells]

Needs the kernel registered with Jupyter (scripts/quickstart.sh does it)."""
import json
import sys
import tempfile
import time

from jupyter_client.manager import start_new_kernel

name = sys.argv[1] if len(sys.argv) > 1 else "tfjs-estimator"
per_cell = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
cells = int(sys.argv[3]) if len(sys.argv) > 3 else 10

SETUP = r"""
const modelDir = %s;
function getLogits(images: tf.Tensor, training: boolean): tf.Tensor {
  let x: tf.Tensor = tf.expandDims(images, -1);
  for (const filters of [32, 64]) {
    x = layers.conv2d(x, filters, 3, { padding: 'same', useBias: false });
    x = layers.batchNormalization(x, { training });
    x = tf.relu(x);
    x = layers.maxPooling2d(x, 3, 2, { padding: 'same' });
  }
  return layers.dense(tf.mean(x, [1, 2]), 10);
}
const modelFn = (images: tf.Tensor, labels: tf.Tensor | undefined, mode: string) => {
  const logits = getLogits(images, mode === ModeKeys.TRAIN);
  const loss = losses.sparseSoftmaxCrossEntropy(labels!, logits);
  const trainOp = train.adam(1e-3).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
  return new EstimatorSpec({ mode: mode as any, loss, trainOp });
};
const est = new Estimator(modelFn, modelDir, { config: { logStepCountSteps: 0 } });
const input = () => datasets.mnist.trainBatches(64, { shuffle: true, repeat: true }).map((b: any) => ({ xs: b.image, ys: b.label }));
"""

STATS = "console.log(JSON.stringify({ tensors: tf.memory().numTensors, rss: process.memoryUsage().rss / 1048576 }))"


def execute(kc, code, timeout=1800):
    msg_id = kc.execute(code)
    value = ""
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            raise RuntimeError("cell failed: %s: %s" % (msg["content"]["ename"], msg["content"]["evalue"]))
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            value += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return value


km, kc = start_new_kernel(kernel_name=name, startup_timeout=120)
try:
    execute(kc, SETUP % json.dumps(tempfile.mkdtemp(prefix="tfe-kernel-memory-")))
    rows = []
    t0 = time.time()
    for i in range(cells):
        execute(kc, "await est.train(input, { steps: %d });" % per_cell)
        stats = json.loads(execute(kc, STATS).strip().splitlines()[-1])
        rows.append({"step": (i + 1) * per_cell, "seconds": round(time.time() - t0, 1), "tensors": stats["tensors"], "rss_mb": round(stats["rss"])})
        print(json.dumps(rows[-1]), flush=True)
    rss = [r["rss_mb"] for r in rows]
    after_warmup = rss[1:] or rss
    print(json.dumps({
        "steps": cells * per_cell,
        "seconds": rows[-1]["seconds"],
        "images_per_sec": round(cells * per_cell * 64 / rows[-1]["seconds"]),
        "tensors_first_last": [rows[0]["tensors"], rows[-1]["tensors"]],
        "rss_mb_after_first_cell": rss[0],
        "rss_mb_max_after_warmup": max(after_warmup),
        "rss_mb_last": rss[-1],
    }))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
