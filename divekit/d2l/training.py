"""The book's training loops for chapters 3 and 6 (softmax regression, MLPs, CNNs)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import data

from divekit.d2l.plotting import Animator, show_images
from divekit.d2l.utils import Accumulator, Timer, try_gpu
from divekit.d2l.vision import get_fashion_mnist_labels
from divekit.scratch import linear
from divekit.speed.sgd import SGD as FastSGD


def load_array(data_arrays, batch_size: int, is_train: bool = True) -> data.DataLoader:
    """A ``DataLoader`` over in-memory tensors (shuffled when ``is_train``)."""
    return data.DataLoader(data.TensorDataset(*data_arrays), batch_size, shuffle=is_train)


def synthetic_data(w: torch.Tensor, b: float, num_examples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``y = X w + b + N(0, 0.01²)`` with ``X ~ N(0, 1)`` of shape (n, len(w)); y is (n, 1)."""
    return linear.synthetic_data(torch.as_tensor(w).reshape(-1), b, num_examples)


linreg, squared_loss, sgd = linear.linreg, linear.squared_loss, linear.sgd


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Number of correct predictions (argmax over classes when ``y_hat`` holds scores)."""
    if y_hat.dim() > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return float((y_hat.type(y.dtype) == y).sum())


def evaluate_accuracy(net, data_iter) -> float:
    """Accuracy of ``net`` over ``data_iter`` (eval mode, no gradients)."""
    return evaluate_accuracy_gpu(net, data_iter, device=torch.device("cpu") if not isinstance(net, nn.Module)
                                 else None)


def evaluate_accuracy_gpu(net, data_iter, device=None) -> float:
    """Accuracy of ``net`` over ``data_iter``, moving batches to ``device`` (default: the net's)."""
    if isinstance(net, nn.Module):
        net.eval()
        if device is None:
            device = next(iter(net.parameters())).device
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            X = [x.to(device) for x in X] if isinstance(X, list) else X.to(device)
            y = y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def evaluate_loss(net, data_iter, loss) -> float:
    """Mean of ``loss(net(X), y)`` over every element, with ``y`` reshaped like the output (as the book does,
    so ``nn.MSELoss`` on ``[B, 1]`` outputs and ``[B]`` labels does not broadcast)."""
    metric = Accumulator(2)  # loss sum, number of loss elements
    with torch.no_grad():
        for X, y in data_iter:
            out = net(X)
            l = loss(out, y.reshape(out.shape))
            metric.add(l.sum(), l.numel())
    return metric[0] / metric[1]


def train_epoch_ch3(net, train_iter, loss, updater) -> tuple[float, float]:
    """One epoch; ``updater`` is a ``torch.optim`` optimizer or ``updater(batch_size)``.

    Returns ``(mean loss, accuracy)`` over the epoch's examples.
    """
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.detach().sum()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def train_ch3(net, train_iter, test_iter, loss, num_epochs: int, updater) -> None:
    """Train for ``num_epochs``, animating train loss/acc and test acc; the book's sanity asserts follow."""
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])
    for epoch in range(num_epochs):
        train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        animator.add(epoch + 1, train_metrics + (test_acc,))
    animator.close()
    train_loss, train_acc = train_metrics
    assert train_loss < 0.5, train_loss
    assert 0.7 < train_acc <= 1, train_acc
    assert 0.7 < test_acc <= 1, test_acc


def predict_ch3(net, test_iter, n: int = 6):
    """Show the first ``n`` test images titled ``true\\npredicted``."""
    X, y = next(iter(test_iter))
    trues = get_fashion_mnist_labels(y)
    preds = get_fashion_mnist_labels(net(X).argmax(dim=1))
    titles = [t + "\n" + p for t, p in zip(trues, preds, strict=False)]
    return show_images(X[0:n].reshape(n, 28, 28), 1, n, titles=titles[0:n])


def init_cnn(module: nn.Module) -> None:
    """Xavier-uniform weights for ``nn.Linear`` and ``nn.Conv2d`` (``train_ch6``'s initialisation; the 1.0 edition
    names it ``init_cnn`` and applies it with ``Module.apply_init``)."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


def train_ch6(net, train_iter, test_iter, num_epochs: int, lr: float, device=None) -> None:
    """SGD with cross-entropy on ``device`` (default ``try_gpu()``) after Xavier re-initialisation (the book's
    chapter-6 loop).

    Prints ``training on <device>``, then ``loss …, train acc …, test acc …`` and ``… examples/sec on …``. The
    running sums stay on the device and are read only at the five plotted points per epoch, so the step
    never waits for the host (the book reads them after every batch), and the SGD step is divekit's
    (``divekit.speed.sgd``); the numbers are the same.
    """
    device = try_gpu() if device is None else device
    net.apply(init_cnn)
    print("training on", device)
    net.to(device)
    # the book's torch.optim.SGD, bit for bit, without its first use's 0.8 s import of torch._dynamo
    optimizer = FastSGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], legend=["train loss", "train acc", "test acc"])
    timer, num_batches = Timer(), len(train_iter)
    for epoch in range(num_epochs):
        sums, seen = torch.zeros(2, device=device), 0  # loss sum, correct; examples
        net.train()
        for i, (X, y) in enumerate(train_iter):
            timer.start()
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                sums += torch.stack([l * X.shape[0], (y_hat.argmax(dim=1) == y).sum()])
            seen += X.shape[0]
            timer.stop()
            if (i + 1) % (num_batches // 5 or 1) == 0 or i == num_batches - 1:
                train_l, train_acc = (sums / seen).tolist()
                animator.add(epoch + (i + 1) / num_batches, (train_l, train_acc, None))
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        animator.add(epoch + 1, (None, None, test_acc))
    animator.close()  # the final figure above the summary lines, as in the book
    print(f"loss {train_l:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    print(f"{seen * num_epochs / timer.sum():.1f} examples/sec on {str(device)}")
