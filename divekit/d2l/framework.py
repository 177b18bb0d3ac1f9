"""The 1.0 edition's object-oriented training framework: ``HyperParameters``, ``ProgressBoard``, ``Module``,
``DataModule``, ``Trainer`` and the from-scratch ``SGD``, with the book's attributes and call order.

Where divekit differs, it is for speed with the same maths: batches come from tensors in memory (no per-example
``DataLoader`` collation), a plotted value stays on its device until a point of the board is complete (one read
per plotted point, not one per batch), and ``Trainer`` gives CPU models divekit's fused LeNet-style kernels
(``divekit.speed.speed_up``: channels-last convolutions, fused sigmoid + average pooling) and, for a model that keeps
the book's ``configure_optimizers``, divekit's SGD (``divekit.speed.sgd``: the same updates bit for bit, without
the ``torch._dynamo`` import a ``torch.optim`` optimizer costs on first use, 0.8 s on 2 cores).
"""

from __future__ import annotations

import collections
import inspect

import torch
from torch import nn

from divekit.d2l.live import LiveFigure, new_figure
from divekit.d2l.plotting import print_point, usable_limits, use_svg_display
from divekit.d2l.text import grad_clipping
from divekit.d2l.utils import gpu
from divekit.d2l.utils import num_gpus as gpu_count
from divekit.d2l.vision import subset_limit
from divekit.speed.lenet import speed_up
from divekit.speed.sgd import SGD as FastSGD

Point = collections.namedtuple("Point", ["x", "y"])


def add_to_class(Class):
    """Decorator: ``@add_to_class(C)`` on a function makes it the method ``C.<name>`` (also for classes that
    already have instances)."""
    def wrapper(obj):
        setattr(Class, obj.__name__, obj)
        return obj
    return wrapper


class HyperParameters:
    """Base class whose ``save_hyperparameters()`` stores the caller's arguments as attributes."""

    def save_hyperparameters(self, ignore=()) -> None:
        """Store every argument of the calling ``__init__`` (except ``self``, names in ``ignore`` and names
        starting with ``_``) in ``self.hparams`` and as attributes."""
        frame = inspect.currentframe().f_back
        _, _, _, local_vars = inspect.getargvalues(frame)
        self.hparams = {k: v for k, v in local_vars.items()
                        if k not in set(list(ignore) + ["self"]) and not k.startswith("_")}
        for k, v in self.hparams.items():
            setattr(self, k, v)


def _mean(values) -> float:
    """Mean of numbers or of (device) tensors, read back once."""
    if any(isinstance(v, torch.Tensor) for v in values):
        return float(torch.stack([torch.as_tensor(v).detach().float().reshape(()) for v in values]).mean())
    return float(sum(float(v) for v in values) / len(values))


class ProgressBoard(HyperParameters):
    """Named curves drawn point by point: ``draw(x, y, label, every_n)`` averages every ``every_n`` raw points
    into one point of ``data[label]`` (a list of ``Point(x, y)``) and shows the figure (see ``divekit.d2l.live``;
    in a terminal also one line per point)."""

    def __init__(self, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear", yscale="linear",
                 ls=("-", "--", "-.", ":"), colors=("C0", "C1", "C2", "C3"), fig=None, axes=None,
                 figsize=(3.5, 2.5), display=True):
        self.save_hyperparameters()
        self.raw_points: collections.OrderedDict = collections.OrderedDict()
        self.data: collections.OrderedDict = collections.OrderedDict()
        self.live: LiveFigure | None = None

    def draw(self, x, y, label: str, every_n: int = 1) -> None:
        points = self.raw_points.setdefault(label, [])
        line = self.data.setdefault(label, [])
        points.append(Point(x, y.detach() if isinstance(y, torch.Tensor) else y))
        if len(points) < max(1, int(every_n)):
            return
        line.append(Point(_mean([p.x for p in points]), _mean([p.y for p in points])))
        points.clear()
        if not self.display:
            return
        if self.live is None:
            use_svg_display()
            if self.fig is None:
                self.fig, axes = new_figure(self.figsize)
                self.axes = self.axes or axes[0]
            self.live = LiveFigure(self.fig, "board")
        if not self.live.notebook:
            print_point(self.xlabel or "x", line[-1].x, [label], [line[-1].y])
        self.live.changed(self._redraw)

    def _redraw(self) -> None:
        axes = self.axes if self.axes is not None else self.fig.gca()
        axes.cla()
        lines = [axes.plot([p.x for p in v], [p.y for p in v], linestyle=ls, color=color)[0]
                 for v, ls, color in zip(self.data.values(), self.ls, self.colors, strict=False)]
        if usable_limits(self.xlim):
            axes.set_xlim(self.xlim)
        if usable_limits(self.ylim):
            axes.set_ylim(self.ylim)
        axes.set_xlabel(self.xlabel or "x")
        axes.set_ylabel(self.ylabel)
        axes.set_xscale(self.xscale)
        axes.set_yscale(self.yscale)
        axes.legend(lines, list(self.data)[:len(lines)])

    def flush(self) -> None:
        """Draw points that arrived inside the redraw gap."""
        if self.live is not None:
            self.live.flush()


class Module(nn.Module, HyperParameters):
    """Base class of models: ``loss``, ``forward`` (``self.net``), ``training_step``/``validation_step`` that
    plot on ``self.board``, ``configure_optimizers`` and ``apply_init``."""

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X)

    def plot(self, key: str, value, train: bool) -> None:
        """Add ``value`` to the curve ``train_<key>`` or ``val_<key>`` (averaged per plotted point)."""
        assert hasattr(self, "trainer"), "Trainer is not inited"
        self.board.xlabel = "epoch"
        trainer = self.trainer
        if train:
            x = trainer.train_batch_idx / trainer.num_train_batches
            n = trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = trainer.epoch + 1
            n = trainer.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, value, ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=True)
        return l

    def validation_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=False)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs, init=None) -> None:
        """One forward pass (materialising lazy layers), then ``self.net.apply(init)``."""
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


# the book's method itself: one a reader puts on Module with add_to_class is theirs, and is called
_BOOK_CONFIGURE_OPTIMIZERS = Module.configure_optimizers


class TensorBatches:
    """Minibatches ``[t[idx] for t in tensors]`` of in-memory tensors, reshuffled on every pass when ``shuffle``
    (the order follows ``torch.manual_seed``, as a ``DataLoader``'s does)."""

    def __init__(self, tensors, batch_size: int, shuffle: bool) -> None:
        self.tensors, self.batch_size, self.shuffle = tuple(tensors), batch_size, shuffle
        self.dataset = torch.utils.data.TensorDataset(*self.tensors)

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for idx in order.split(self.batch_size):
            yield [t[idx] for t in self.tensors]


class DataModule(HyperParameters):
    """Base class of data: ``train_dataloader()``/``val_dataloader()`` call ``get_dataloader(train)``."""

    def __init__(self, root: str = "../data", num_workers: int = 4) -> None:
        self.save_hyperparameters()

    def get_dataloader(self, train: bool):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors, train: bool, indices=slice(0, None)) -> TensorBatches:
        """Batches of ``tensors[indices]``; quick mode (``DIVEKIT_BOOK_SUBSET=N``) keeps the first N examples."""
        tensors = tuple(a[indices] for a in tensors)
        n = subset_limit()
        if n is not None:
            tensors = tuple(a[:n] for a in tensors)
        return TensorBatches(tensors, self.batch_size, shuffle=train)


class SGD(HyperParameters):
    """Minibatch SGD on a list of tensors: ``param -= lr * param.grad``."""

    def __init__(self, params, lr: float) -> None:
        self.save_hyperparameters()

    def step(self) -> None:
        for param in self.params:
            param -= self.lr * param.grad

    def zero_grad(self) -> None:
        for param in self.params:
            if param.grad is not None:
                param.grad.zero_()


def _has_lazy(model: nn.Module) -> bool:
    return any(nn.parameter.is_lazy(p) for p in model.parameters())


class Trainer(HyperParameters):
    """Fits a ``Module`` to a ``DataModule`` for ``max_epochs`` on the first of ``num_gpus`` GPUs (when there
    are any), clipping gradients to norm ``gradient_clip_val`` when it is positive."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        self.gpus = [gpu(i) for i in range(min(num_gpus, gpu_count()))]

    def prepare_data(self, data) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model) -> None:
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.to(self.gpus[0])
        elif not _has_lazy(model):
            speed_up(model)
        self.model = model

    @staticmethod
    def _optimizer_for(model):
        """``model.configure_optimizers()``; when ``model`` keeps the book's (``torch.optim.SGD`` over all its
        parameters at ``model.lr``), the same SGD as divekit's ``speed.sgd.SGD``: equal updates, faster start."""
        if type(model).configure_optimizers is _BOOK_CONFIGURE_OPTIMIZERS:
            return FastSGD(model.parameters(), lr=model.lr)
        return model.configure_optimizers()

    def prepare_batch(self, batch):
        if self.gpus:
            batch = [a.to(self.gpus[0]) for a in batch]
        return batch

    def fit(self, model, data) -> None:
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = self._optimizer_for(model)
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        for epoch in range(self.max_epochs):
            self.epoch = epoch
            self.fit_epoch()
        model.board.flush()

    def fit_epoch(self) -> None:
        self.model.train()
        for batch in self.train_dataloader:
            loss = self.model.training_step(self.prepare_batch(batch))
            self.optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, self.model)
                self.optim.step()
            if self.train_batch_idx == 0 and not self.gpus and isinstance(self.model, nn.Module):
                speed_up(self.model)  # lazy layers are materialised now
            self.train_batch_idx += 1
        if self.val_dataloader is None:
            return
        self.model.eval()
        for batch in self.val_dataloader:
            with torch.no_grad():
                self.model.validation_step(self.prepare_batch(batch))
            self.val_batch_idx += 1

    def clip_gradients(self, grad_clip_val: float, model) -> None:
        grad_clipping(model, grad_clip_val)
