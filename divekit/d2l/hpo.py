"""The 1.0 edition's hyperparameter-optimisation chapter: ``HPOTrainer``, searchers, schedulers (basic and
successive halving), ``HPOTuner``, ``hpo_objective_lenet`` and ``rbfkernel``."""

from __future__ import annotations

import collections
import time

import numpy as np
import torch

from divekit.d2l.classify import FashionMNIST, LeNet
from divekit.d2l.framework import HyperParameters, Trainer
from divekit.d2l.training import init_cnn


def rbfkernel(x1, x2, ls: float = 4.0) -> np.ndarray:
    """RBF kernel matrix ``exp(-|x1_i - x2_j|² / (2 ls))`` of two 1-D point sets."""
    dist = np.abs(np.asarray(x1, dtype=float)[:, None] - np.asarray(x2, dtype=float)[None, :])
    return np.exp(-(1.0 / ls / 2) * (dist ** 2))


class HPOTrainer(Trainer):
    """A ``Trainer`` that also reports the validation error (1 − mean batch accuracy)."""

    def validation_error(self):
        self.model.eval()
        accuracy, val_batch_idx = 0, 0
        for batch in self.val_dataloader:
            with torch.no_grad():
                x, y = self.prepare_batch(batch)
                accuracy += self.model.accuracy(self.model(x), y)
            val_batch_idx += 1
        return 1 - accuracy / val_batch_idx


class HPOSearcher(HyperParameters):
    def sample_configuration(self) -> dict:
        raise NotImplementedError

    def update(self, config: dict, error: float, additional_info=None) -> None:
        pass


class RandomSearcher(HPOSearcher):
    """Draws each hyperparameter from its ``scipy.stats`` distribution (``rvs()``); ``initial_config`` first."""

    def __init__(self, config_space: dict, initial_config=None):
        self.save_hyperparameters()

    def sample_configuration(self) -> dict:
        if self.initial_config is not None:
            result, self.initial_config = self.initial_config, None
            return result
        return {name: domain.rvs() for name, domain in self.config_space.items()}


class HPOScheduler(HyperParameters):
    def suggest(self) -> dict:
        raise NotImplementedError

    def update(self, config: dict, error: float, info=None) -> None:
        raise NotImplementedError


class BasicScheduler(HPOScheduler):
    """Every trial runs a fresh configuration from the searcher."""

    def __init__(self, searcher: HPOSearcher):
        self.save_hyperparameters()

    def suggest(self) -> dict:
        return self.searcher.sample_configuration()

    def update(self, config: dict, error: float, info=None) -> None:
        self.searcher.update(config, error, additional_info=info)


class HPOTuner(HyperParameters):
    """Runs trials (``run(n)``), keeping the incumbent, its error trajectory and the cumulative runtime."""

    def __init__(self, scheduler: HPOScheduler, objective):
        self.save_hyperparameters()
        self.incumbent, self.incumbent_error = None, None
        self.incumbent_trajectory, self.cumulative_runtime, self.records = [], [], []
        self.current_runtime = 0

    def run(self, number_of_trials: int) -> None:
        for i in range(number_of_trials):
            start_time = time.time()
            config = self.scheduler.suggest()
            print(f"Trial {i}: config = {config}")
            error = float(torch.as_tensor(self.objective(**config)).detach().cpu())
            self.scheduler.update(config, error)
            runtime = time.time() - start_time
            self.bookkeeping(config, error, runtime)
            print(f"    error = {error}, runtime = {runtime}")

    def bookkeeping(self, config: dict, error: float, runtime: float) -> None:
        self.records.append({"config": config, "error": error, "runtime": runtime})
        if self.incumbent is None or self.incumbent_error > error:
            self.incumbent, self.incumbent_error = config, error
        self.incumbent_trajectory.append(self.incumbent_error)
        self.current_runtime += runtime
        self.cumulative_runtime.append(self.current_runtime)


def hpo_objective_lenet(learning_rate, batch_size, max_epochs=10):
    """Validation error of LeNet on Fashion-MNIST after ``max_epochs``."""
    model = LeNet(lr=learning_rate, num_classes=10)
    trainer = HPOTrainer(max_epochs=max_epochs, num_gpus=1)
    data = FashionMNIST(batch_size=batch_size)
    model.apply_init([next(iter(data.get_dataloader(True)))[0]], init_cnn)
    trainer.fit(model=model, data=data)
    return trainer.validation_error()


class SuccessiveHalvingScheduler(HPOScheduler):
    """Successive halving: rungs ``r_min · eta^k`` up to ``r_max`` epochs; the best ``1/eta`` move up."""

    def __init__(self, searcher, eta, r_min, r_max, prefact=1):
        self.save_hyperparameters()
        self.K = int(np.log(r_max / r_min) / np.log(eta))
        self.rung_levels = [r_min * eta ** k for k in range(self.K + 1)]
        if r_max not in self.rung_levels:
            self.rung_levels.append(r_max)
            self.K += 1
        self.observed_error_at_rungs = collections.defaultdict(list)
        self.all_observed_error_at_rungs = collections.defaultdict(list)
        self.queue = []

    def suggest(self) -> dict:
        if not self.queue:  # a new round: n0 configurations on the lowest rung
            for _ in range(int(self.prefact * self.eta ** self.K)):
                config = self.searcher.sample_configuration()
                config["max_epochs"] = self.r_min
                self.queue.append(config)
        return self.queue.pop()

    def update(self, config: dict, error: float, info=None) -> None:
        ri = int(config["max_epochs"])
        self.searcher.update(config, error, additional_info=info)
        self.all_observed_error_at_rungs[ri].append((config, error))
        if ri >= self.r_max:
            return
        self.observed_error_at_rungs[ri].append((config, error))
        ki = self.K - self.rung_levels.index(ri)
        if len(self.observed_error_at_rungs[ri]) >= int(self.prefact * self.eta ** ki):
            best = self.get_top_n_configurations(rung_level=ri, n=int(self.prefact * self.eta ** (ki - 1)))
            riplus1 = self.rung_levels[self.K - ki + 1]
            self.queue = [dict(c, max_epochs=riplus1) for c in best] + self.queue
            self.observed_error_at_rungs[ri] = []

    def get_top_n_configurations(self, rung_level, n):
        rung = self.observed_error_at_rungs[rung_level]
        return [x[0] for x in sorted(rung, key=lambda x: x[1])[:n]]
