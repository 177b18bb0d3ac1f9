"""Baseline: the book's LeNet recipe written the book's way, without the d2l and torchvision packages.

What d2l 0.17.6 runs for ``d2l.load_data_fashion_mnist(256)`` and ``train_ch6(net, …, 10, 0.9, cpu)``:

- torchvision's ``FashionMNIST`` with ``transforms.ToTensor()``: the images are one uint8 tensor, and each
  ``__getitem__`` makes a PIL image of one image and converts it back (``to_tensor``: ``np.array`` copy,
  HWC → CHW, ``float().div(255)``), the label an ``int``; a ``DataLoader`` of batch 256 with 4 worker
  processes (``d2l.get_dataloader_workers()``), shuffled for training;
- ``train_ch6``: Xavier-uniform init, ``torch.optim.SGD(lr=0.9)``, cross-entropy; after every step the
  batch's loss and accuracy are added to an ``Accumulator`` as Python floats; after every epoch
  ``evaluate_accuracy_gpu`` on the test set. The ``Animator`` is left out: outside a notebook it draws
  nothing (``display.display`` prints the figure's repr).

Prints one JSON line: {"accuracy": ..., "seconds": ...} (seconds from process start).
On a GPU (DEVICE cuda), as ``train_ch6`` does: the net on the device, each batch moved there.
Usage: python bench/baselines/book_lenet.py DATA_DIR [EPOCHS] [WORKERS] [DEVICE]
"""

import gzip
import json
import sys
import time

T0 = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils import data  # noqa: E402


def to_tensor(pic: Image.Image) -> torch.Tensor:
    """torchvision's ``transforms.functional.to_tensor`` for an 8-bit grayscale PIL image."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], 1).permute((2, 0, 1)).contiguous()
    return img.to(dtype=torch.get_default_dtype()).div(255)


class FashionMNIST(data.Dataset):
    """torchvision's ``datasets.FashionMNIST(root, train, transform=ToTensor())``, read from the IDX files."""

    def __init__(self, root, train):
        prefix = "train" if train else "t10k"
        x = np.frombuffer(gzip.open(f"{root}/{prefix}-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
        self.data = torch.from_numpy(x.reshape(-1, 28, 28).copy())
        y = np.frombuffer(gzip.open(f"{root}/{prefix}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
        self.targets = torch.from_numpy(y.astype(np.int64))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        return to_tensor(Image.fromarray(img.numpy(), mode="L")), target


def accuracy(y_hat, y):
    """d2l.accuracy: the number of right predictions, as a Python float."""
    cmp = y_hat.argmax(axis=1).type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy(net, data_iter, device):
    """d2l.evaluate_accuracy_gpu."""
    net.eval()
    right = total = 0.0
    with torch.no_grad():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            right, total = right + accuracy(net(X), y), total + float(y.numel())
    return right / total


def main():
    root = sys.argv[1] + "/fashion-mnist"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cpu")
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
    net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.9)
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        metric = [0.0, 0.0, 0.0]  # the epoch's loss sum, right predictions, examples
        net.train()
        for X, y in train_iter:
            X, y = X.to(device), y.to(device)
            opt.zero_grad()
            y_hat = net(X)
            l_ = loss(y_hat, y)
            l_.backward()
            opt.step()
            with torch.no_grad():
                batch = (l_ * X.shape[0], accuracy(y_hat, y), X.shape[0])  # Accumulator.add: as Python floats
                metric = [a + float(b) for a, b in zip(metric, batch, strict=True)]
        test_acc = evaluate_accuracy(net, test_iter, device)
    print(json.dumps({"accuracy": test_acc, "train_loss": metric[0] / metric[2], "train_acc": metric[1] / metric[2],
                      "seconds": round(time.time() - T0, 2)}))


if __name__ == "__main__":
    main()
