"""Baseline: the book's LeNet recipe written the book's way (torchvision-style per-image Dataset,
DataLoader with worker processes, sigmoid LeNet, Xavier init, SGD lr 0.9, batch 256).

Prints one JSON line: {"accuracy": ..., "seconds": ...} (seconds from process start).
Usage: python bench/baselines/book_lenet.py DATA_DIR [EPOCHS] [WORKERS]
"""

import gzip
import json
import sys
import time

T0 = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils import data  # noqa: E402


class FashionMNIST(data.Dataset):
    """Per-image access with a ToTensor-like conversion, as torchvision's dataset + transforms do."""

    def __init__(self, root, train):
        prefix = "train" if train else "t10k"
        self.x = np.frombuffer(gzip.open(f"{root}/{prefix}-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
        self.x = self.x.reshape(-1, 28, 28)
        self.y = np.frombuffer(gzip.open(f"{root}/{prefix}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i].astype(np.float32) / 255).unsqueeze(0), int(self.y[i])


def main():
    root = sys.argv[1] + "/fashion-mnist"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    torch.manual_seed(0)
    train_iter = data.DataLoader(FashionMNIST(root, True), 256, shuffle=True, num_workers=workers)
    test_iter = data.DataLoader(FashionMNIST(root, False), 256, shuffle=False, num_workers=workers)
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    opt = torch.optim.SGD(net.parameters(), lr=0.9)
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        net.train()
        for X, y in train_iter:
            opt.zero_grad()
            l_ = loss(net(X), y)
            l_.backward()
            opt.step()
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for X, y in test_iter:
            correct += (net(X).argmax(1) == y).sum().item()
            total += len(y)
    print(json.dumps({"accuracy": correct / total, "seconds": round(time.time() - T0, 2)}))


if __name__ == "__main__":
    main()
