"""The 1.0 edition's data and models for regression and image classification: ``SyntheticRegressionData``,
``LinearRegressionScratch``, ``LinearRegression``, ``KaggleHouse``, ``FashionMNIST``, ``Classifier``,
``SoftmaxRegression``, ``LeNet``, ``Residual`` (both editions' signatures) and ``ResNeXtBlock``.

``FashionMNIST`` reads divekit's tensor-resident Fashion-MNIST (no torchvision, offline lookup) and yields
channels-last float batches; ``DIVEKIT_BOOK_SUBSET=N`` caps each split at N examples, stratified by class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from divekit.d2l.files import download
from divekit.d2l.framework import SGD, DataModule, Module
from divekit.d2l.plotting import show_images
from divekit.d2l.vision import as_size, fashion_mnist_splits, image_loader, new_seed
from divekit.models import blocks


class SyntheticRegressionData(DataModule):
    """``y = X w + b + noise`` with ``X ~ N(0, 1)``: ``num_train`` training then ``num_val`` validation rows."""

    def __init__(self, w, b, noise=0.01, num_train=1000, num_val=1000, batch_size=32):
        super().__init__()
        self.save_hyperparameters()
        n = num_train + num_val
        self.X = torch.randn(n, len(w))
        noise = torch.randn(n, 1) * noise
        self.y = torch.matmul(self.X, w.reshape((-1, 1))) + b + noise

    def get_dataloader(self, train):
        i = slice(0, self.num_train) if train else slice(self.num_train, None)
        return self.get_tensorloader((self.X, self.y), train, i)


class LinearRegressionScratch(Module):
    """``X w + b`` with tensors ``w ~ N(0, sigma²)``, ``b = 0``, half squared loss and the scratch ``SGD``."""

    def __init__(self, num_inputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.w = torch.normal(0, sigma, (num_inputs, 1), requires_grad=True)
        self.b = torch.zeros(1, requires_grad=True)

    def forward(self, X):
        return torch.matmul(X, self.w) + self.b

    def loss(self, y_hat, y):
        return ((y_hat - y) ** 2 / 2).mean()

    def configure_optimizers(self):
        return SGD([self.w, self.b], self.lr)


class LinearRegression(Module):
    """``nn.LazyLinear(1)`` (weights ~ N(0, 0.01²)) with ``MSELoss`` and ``torch.optim.SGD``."""

    def __init__(self, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.LazyLinear(1)
        self.net.weight.data.normal_(0, 0.01)
        self.net.bias.data.fill_(0)

    def forward(self, X):
        return self.net(X)

    def loss(self, y_hat, y):
        return nn.MSELoss()(y_hat, y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), self.lr)

    def get_w_b(self):
        return (self.net.weight.data, self.net.bias.data)


class KaggleHouse(DataModule):
    """The Kaggle house-price data as the book's chapter builds it: ``raw_train``/``raw_val`` frames,
    ``preprocess()`` (standardised numbers, one-hot text columns) and log-price loaders (needs pandas)."""

    def __init__(self, batch_size, train=None, val=None):
        import pandas as pd  # the chapter's own dependency, not divekit's

        super().__init__()
        self.save_hyperparameters()
        if self.train is None:
            self.raw_train = pd.read_csv(download("kaggle_house_train"))
            self.raw_val = pd.read_csv(download("kaggle_house_test"))

    def preprocess(self) -> None:
        import pandas as pd

        label = "SalePrice"
        features = pd.concat((self.raw_train.drop(columns=["Id", label]), self.raw_val.drop(columns=["Id"])))
        numeric = features.dtypes[features.dtypes != "object"].index
        features[numeric] = features[numeric].apply(lambda x: (x - x.mean()) / (x.std()))
        features[numeric] = features[numeric].fillna(0)
        features = pd.get_dummies(features, dummy_na=True)
        self.train = features[:self.raw_train.shape[0]].copy()
        self.train[label] = self.raw_train[label]
        self.val = features[self.raw_train.shape[0]:].copy()

    def get_dataloader(self, train):
        label = "SalePrice"
        data = self.train if train else self.val
        if label not in data:
            return None

        def get_tensor(x):
            return torch.tensor(x.values.astype(float), dtype=torch.float32)

        tensors = (get_tensor(data.drop(columns=[label])), torch.log(get_tensor(data[label])).reshape((-1, 1)))
        return self.get_tensorloader(tensors, train)


FASHION_TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                       "ankle boot")


class ImageSplit(torch.utils.data.Dataset):
    """One split as a dataset: ``split[i]`` is ``(X float32 [1, H, W] in [0, 1], label)``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, size: tuple[int, int] | None) -> None:
        self.images, self.labels, self.size = images, labels, size

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        x = self.images[i].float() / 255
        if self.size is not None and tuple(x.shape[-2:]) != tuple(self.size):
            x = F.interpolate(x[None], size=self.size, mode="bilinear", align_corners=False)[0]
        return x, int(self.labels[i])


class FashionMNIST(DataModule):
    """Fashion-MNIST with ``train``/``val`` datasets and loaders of ``(X [B, 1, H, W], y)``, resized to
    ``resize``; the training loader reshuffles on every pass."""

    def __init__(self, batch_size=64, resize=(28, 28)):
        super().__init__()
        self.save_hyperparameters()
        self.seed, size, splits = new_seed(), as_size(resize), fashion_mnist_splits()
        self.train = ImageSplit(*splits["train"], size)
        self.val = ImageSplit(*splits["test"], size)

    def text_labels(self, indices):
        return [FASHION_TEXT_LABELS[int(i)] for i in indices]

    def get_dataloader(self, train):
        data = self.train if train else self.val
        return image_loader(data.images, data.labels, self.batch_size, train, self.seed, data.size)

    def visualize(self, batch, nrows=1, ncols=8, labels=()):
        X, y = batch
        if not labels:
            labels = self.text_labels(y)
        show_images(X.squeeze(1), nrows, ncols, titles=labels)


class Classifier(Module):
    """Base class of classifiers: cross-entropy ``loss``, ``accuracy``, and validation that plots both."""

    def validation_step(self, batch):
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged=True):
        """Share (or, ``averaged=False``, the 0/1 vector) of correct argmax predictions."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        compare = (Y_hat.argmax(axis=1).type(Y.dtype) == Y.reshape(-1)).type(torch.float32)
        return compare.mean() if averaged else compare

    def loss(self, Y_hat, Y, averaged=True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        return F.cross_entropy(Y_hat, Y.reshape((-1,)), reduction="mean" if averaged else "none")

    def layer_summary(self, X_shape):
        X = torch.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)


class SoftmaxRegression(Classifier):
    """``Flatten → LazyLinear(num_outputs)``."""

    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, X):
        return self.net(X)


class LeNet(Classifier):
    """LeNet-5 with sigmoid activations and average pooling (lazy layers)."""

    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(),
            nn.LazyLinear(num_classes))


def _zh_residual_call(args, kwargs) -> bool:
    """``Residual(input_channels, num_channels, …)`` (0.17) rather than ``Residual(num_channels, …)`` (1.0): a
    second positional integer that is not a bool (1.0's second parameter is ``use_1x1conv``), or keywords."""
    if "input_channels" in kwargs:
        return True
    return len(args) >= 2 and isinstance(args[1], int) and not isinstance(args[1], bool)


class Residual(blocks.Residual):
    """ResNet's residual block in either edition's signature.

    ``Residual(input_channels, num_channels, use_1x1conv=False, strides=1)`` (0.17) or
    ``Residual(num_channels, use_1x1conv=False, strides=1)`` (1.0), where the input's channels are found at the
    first call, as the 1.0 edition's lazy layers do. The computation is the same in both.
    """

    def __init__(self, *args, **kwargs) -> None:
        if _zh_residual_call(args, kwargs):
            super().__init__(*args, **kwargs)
            return
        names = ("num_channels", "use_1x1conv", "strides")
        bound = {**dict(zip(names, args, strict=False)), **kwargs}
        c, use_1x1conv, strides = bound["num_channels"], bound.get("use_1x1conv", False), bound.get("strides", 1)
        super().__init__(c, c, use_1x1conv, strides)
        if use_1x1conv:  # the input may have other channels than the output: lazy, as in the book
            self.conv1 = nn.LazyConv2d(c, kernel_size=3, padding=1, stride=strides)
            self.conv3 = nn.LazyConv2d(c, kernel_size=1, stride=strides)


class ResNeXtBlock(nn.Module):
    """ResNeXt block: 1×1 → grouped 3×3 → 1×1 convolutions with batch norm, plus a (projected) shortcut."""

    def __init__(self, num_channels, groups, bot_mul, use_1x1conv=False, strides=1):
        super().__init__()
        bot_channels = int(round(num_channels * bot_mul))
        self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, stride=1)
        self.conv2 = nn.LazyConv2d(bot_channels, kernel_size=3, stride=strides, padding=1,
                                   groups=bot_channels // groups)
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=1)
        self.bn1, self.bn2, self.bn3 = nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d()
        if use_1x1conv:
            self.conv4 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
            self.bn4 = nn.LazyBatchNorm2d()
        else:
            self.conv4 = None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4:
            X = self.bn4(self.conv4(X))
        return F.relu(Y + X)
