"""Chapter 11 (optimisation) helpers: the book's printing wrappers around ``divekit.optlab``."""

from __future__ import annotations

from divekit.d2l.hub import download
from divekit.d2l.plotting import plot, plt, set_figsize
from divekit.optlab import airfoil, plots, traces


def train_2d(trainer, steps: int = 20, f_grad=None) -> list[tuple[float, float]]:
    """Run a 2-D ``trainer`` from (-5, -2); prints the final ``epoch N, x1: …, x2: …`` line."""
    results = traces.train_2d(trainer, steps, f_grad)
    x1, x2 = results[-1]
    print(f"epoch {steps}, x1: {float(x1):f}, x2: {float(x2):f}")
    return results


def show_trace_2d(f, results):
    """Contours of ``f(x1, x2)`` with the path ``results``."""
    set_figsize()
    return plots.show_trace_2d(f, results)


def get_data_ch11(batch_size: int = 10, n: int = 1500):
    """Standardised airfoil data: ``(data_iter, feature_dim)``."""
    return airfoil.get_data_ch11(batch_size, n, data=airfoil.load_airfoil(download("airfoil")))


def _report(curve, num_epochs: int):
    set_figsize()
    plot(curve.epochs, [curve.losses], xlabel="epoch", ylabel="loss", xlim=[0, num_epochs], ylim=[0.22, 0.35])
    per_epoch = curve.times[-1] / num_epochs if curve.times else 0.0
    print(f"loss: {curve.losses[-1]:.3f}, {per_epoch:.3f} sec/epoch")
    return curve.times, curve.losses


def train_ch11(trainer_fn, states, hyperparams, data_iter, feature_dim: int, num_epochs: int = 2):
    """Linear regression on the airfoil data with a from-scratch ``trainer_fn``; prints ``loss: …, … sec/epoch``.

    Returns ``(cumulative training times, losses)`` at every 200 examples.
    """
    return _report(airfoil.train_ch11(trainer_fn, states, hyperparams, data_iter, feature_dim, num_epochs),
                   num_epochs)


def train_concise_ch11(trainer_fn, hyperparams, data_iter, num_epochs: int = 4):
    """The same with ``nn.Linear`` and a ``torch.optim`` class ``trainer_fn``."""
    return _report(airfoil.train_concise_ch11(trainer_fn, hyperparams, data_iter, num_epochs), num_epochs)



def annotate(text, xy, xytext) -> None:
    """An arrow from ``xytext`` to ``xy`` labelled ``text`` on the current axes."""
    plt.gca().annotate(text, xy=xy, xytext=xytext, arrowprops=dict(arrowstyle="->"))
