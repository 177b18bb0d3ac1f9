"""Baseline: a plain PyTorch script for Fashion-MNIST (tensor-resident data, 3-block BN-CNN, one-cycle SGD).

The kind of 50-line script a careful engineer writes by hand; divekit's default recipe is measured against it.
On a GPU (DEVICE cuda) the data lives on the GPU and the steps run under bf16 autocast, as divekit's do there.
Prints one JSON line: {"accuracy": ..., "seconds": ...} (seconds from process start).
Usage: python bench/baselines/plain_cnn.py DATA_DIR [EPOCHS] [DEVICE]
"""

import gzip
import json
import sys
import time

T0 = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def idx(path, offset):
    return torch.from_numpy(np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset).copy())


root = sys.argv[1] + "/fashion-mnist/"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
dev = torch.device(sys.argv[3] if len(sys.argv) > 3 else "cpu")
amp = torch.autocast("cuda", torch.bfloat16, enabled=dev.type == "cuda")
torch.manual_seed(0)
X = idx(root + "train-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28).to(dev)
Y = idx(root + "train-labels-idx1-ubyte.gz", 8).long().to(dev)
Xt = idx(root + "t10k-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28).to(dev)
Yt = idx(root + "t10k-labels-idx1-ubyte.gz", 8).long().to(dev)


def block(i, o):
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]


model = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128), nn.Flatten(), nn.Linear(128 * 9, 10))
model = model.to(dev, memory_format=torch.channels_last)
B = 256
steps = epochs * (60000 // B)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)


def prep(x):
    return ((x.float() / 255 - 0.286) / 0.353).contiguous(memory_format=torch.channels_last)


for _ in range(epochs):
    model.train()
    perm = torch.randperm(60000, device=dev)
    for i in range(60000 // B):
        ix = perm[i * B:(i + 1) * B]
        x = prep(X[ix])
        flip = torch.rand(B, device=dev) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        with amp:
            loss = F.cross_entropy(model(x), Y[ix])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
model.eval()
with torch.no_grad(), amp:
    correct = sum((model(prep(Xt[i:i + 1000])).argmax(1) == Yt[i:i + 1000]).sum().item() for i in range(0, 10000, 1000))
print(json.dumps({"accuracy": correct / 10000, "seconds": round(time.time() - T0, 2)}))
