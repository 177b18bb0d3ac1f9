"""divekit tune in one process: the budget, validation rows only, resuming, lost trials, grid, k-fold, pruning,
the report, and train --from-study."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

import divekit
from divekit.cli import main
from divekit.errors import ConfigError
from divekit.runs import read_metrics_csv
from divekit.tuning import worker
from divekit.tuning.objective import Reporter
from divekit.tuning.storage import open_storage
from tests.helpers.synthetic import regression_csvs

MINI = {"data": "fashion-mnist-mini", "model": "softmax", "epochs": 1}


def study(folder: Path) -> optuna.Study:
    return optuna.load_study(study_name=folder.name, storage=open_storage(folder, None))


def tune(tmp_path: Path, lines: list | None = None, **kw):
    options = {**MINI, "params": ["lr=log:0.01..0.5"], "studies_dir": tmp_path / "studies", "study": "s",
               "trials": 3, "pruner": "none", "say": (lines if lines is not None else []).append, **kw}
    return divekit.tune(**options)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A study of three trials, its progress lines and its result."""
    tmp = tmp_path_factory.mktemp("tune")
    lines: list[str] = []
    return tune(tmp, lines), lines


def test_a_study_spends_its_budget_on_validation_rows_only(finished):
    result, lines = finished
    assert result.counts["complete"] == 3 and result.complete
    assert [line.split()[:3] for line in lines] == [["trial", str(i), "complete"] for i in range(3)]
    assert all("best" in line and "elapsed" in line and "/3" in line for line in lines)
    for trial in study(result.folder).trials:
        run = Path(trial.user_attrs["run"])
        config = json.loads((run / "config.json").read_text())
        assert config["config"]["valid_fraction"] == 0.1 and config["meta"]["test_set"] == "not used"
        rows = read_metrics_csv(run / "metrics.csv")
        assert rows and all(not k.startswith("test_") for row in rows for k in row)
        assert trial.value == rows[-1]["valid_acc"]
    best = max(study(result.folder).trials, key=lambda t: t.value)
    assert (result.best_number, result.best_value) == (best.number, best.value)


def test_the_report_shows_the_trials_and_the_best(finished):
    result, _ = finished
    page = result.report.read_text()
    assert "Study s" in page and "Optimisation history" in page and "Trials" in page
    assert page.count("<img") >= 2 and "--from-study" in page and "the test set was not used" in page


def test_from_study_retrains_the_best_on_all_rows_and_tests_once(finished, tmp_path, capsys):
    result, _ = finished
    assert main(["train", "--from-study", str(result.folder), "--runs-dir", str(tmp_path), "--name", "best"]) == 0
    assert f"trial {result.best_number}" in capsys.readouterr().out
    run = divekit.load_run(tmp_path / "best")
    assert run.config.valid_fraction == 0 and run.config.test_every == 0
    assert run.config.lr == pytest.approx(result.best_params["lr"])
    assert "test_acc" in run.final and all("test_acc" not in row for row in run.history[:-1])


@pytest.mark.parametrize("argv, words", [
    (["train", "--from-study", "nowhere"], "no study folder there"),
    (["train", "--storage", "postgresql://localhost/x"], "give --from-study NAME too"),
    (["tune", "--data", "fashion-mnist-mini"], "nothing to search"),
    (["tune", "--param", "lr=log:1e-3..1", "--storage", "sqlite:///x.db"], "expected a postgresql:// URL"),
    (["tune", "--param", "lr=log:1e-3..1", "--name", "x"], "use --study"),
    (["tune", "--param", "lr=log:1e-3..1", "--metric", "test_acc"], "chooses on validation metrics"),
    (["tune", "--param", "lr=log:1e-3..1", "--sampler", "grid"], "continuous range"),
])
def test_bad_study_options_are_one_line(argv, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_the_same_command_resumes_and_another_search_is_refused(tmp_path):
    first = tune(tmp_path, trials=2)
    runs = {t.number: Path(t.user_attrs["run"]) for t in study(first.folder).trials}
    stamps = {n: (r / "model.safetensors").stat().st_mtime_ns for n, r in runs.items()}
    lines: list[str] = []
    again = tune(tmp_path, lines, trials=4)
    assert again.counts["complete"] == 4 and lines[0] == "rejoining study s: 2 trials finished so far"
    assert {n: (r / "model.safetensors").stat().st_mtime_ns for n, r in runs.items()} == stamps
    assert sorted(p.name for p in (first.folder / "runs").iterdir()) == [f"trial-{i:04d}" for i in range(4)]
    with pytest.raises(ConfigError, match=r"differs in the searched settings \(--param, --space\); give"):
        tune(tmp_path, params=["lr=log:0.01..1"])
    with pytest.raises(ConfigError, match=r"differs in epochs: 2 here, 1 in the study; sampler: \"random\" here, "
                                          r"\"tpe\" in the study; give another --study name"):
        tune(tmp_path, epochs=2, sampler="random")


def test_an_interrupted_trial_is_failed_and_its_values_run_again(tmp_path, monkeypatch):
    real, calls = worker.run_trial, []

    def interrupted_second(trial, *args):
        calls.append(trial.number)
        if len(calls) == 2:  # Ctrl-C while its run trains: its values are drawn
            trial.suggest_float("lr", 0.01, 0.5, log=True)
            raise KeyboardInterrupt
        return real(trial, *args)

    monkeypatch.setattr(worker, "run_trial", interrupted_second)
    with pytest.raises(KeyboardInterrupt) as e:
        tune(tmp_path)
    assert "run the same command again to resume" in "".join(e.value.__notes__)
    states = [(t.state.name, t.user_attrs.get("retry_of")) for t in study(tmp_path / "studies" / "s").trials]
    assert states == [("COMPLETE", None), ("FAIL", None), ("WAITING", 1)]
    result = tune(tmp_path)
    trials = study(result.folder).trials
    assert result.counts == {"complete": 3, "pruned": 0, "error": 0, "lost": 1, "running": 0}
    assert trials[2].params == trials[1].params and trials[2].state.name == "COMPLETE"
    assert calls == [0, 1, 2, 3]  # the retry (2) and one more (3); trial 0 was not run again


def test_a_grid_study_runs_every_combination_once(tmp_path):
    result = tune(tmp_path, params=["lr=0.05,0.2", "batch_size=64,128"], sampler="grid", trials=None)
    combos = [(t.params["lr"], t.params["batch_size"]) for t in study(result.folder).trials]
    assert sorted(combos) == [(0.05, 64), (0.05, 128), (0.2, 64), (0.2, 128)]
    assert result.counts["complete"] == 4


def test_a_table_is_searched_by_the_k_fold_mean(tmp_path):
    train_csv, _ = regression_csvs(tmp_path, n=120)
    result = divekit.tune(data=str(train_csv), epochs=3, lr=0.5, params=["weight_decay=float:0..0.1"], trials=2,
                          k=3, pruner="none", studies_dir=tmp_path / "studies", study="t", say=lambda _: None)
    for trial in study(result.folder).trials:
        summary = json.loads((Path(trial.user_attrs["run"]) / "summary.json").read_text())
        assert summary["k"] == 3 and trial.value == pytest.approx(summary["mean"]["valid_log_rmse"])
        assert sorted(trial.intermediate_values) == [1, 2, 3]  # the running mean, fold by fold


class PruneAtOnce:
    """A trial whose pruner stops it at its first report."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return True


def test_a_pruned_run_ends_after_the_epoch_it_was_pruned_at(tmp_path):
    trial = PruneAtOnce()
    reporter = Reporter(trial, "valid_acc")
    run = divekit.train(**{**MINI, "epochs": 3}, valid_fraction=0.1, runs_dir=tmp_path, callbacks=[reporter],
                        test_set=False)
    assert reporter.pruned_at == 1 and len(run.history) == 1 and trial.reports[0][1] == 1
    assert (run.path / "model.safetensors").is_file()
    with pytest.raises(ConfigError, match="no such metric"):
        divekit.train(**MINI, runs_dir=tmp_path, callbacks=[Reporter(trial, "valid_f1")], valid_fraction=0.1)


def test_a_search_whose_every_trial_fails_stops_with_the_error(tmp_path):
    with pytest.raises(ConfigError, match="the first 3 trials all failed, the last with ConfigError: model mlp takes"):
        tune(tmp_path, model="mlp", params=["width=0.5,1"], trials=10)
    trials = study(tmp_path / "studies" / "s").trials
    assert len(trials) == 3 and all(t.state.name == "FAIL" and "error" in t.user_attrs for t in trials)


def test_without_optuna_the_command_says_how_to_get_it(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # as if the extra were not installed
    assert main(["tune", "--param", "lr=log:1e-3..1"]) == 2
    assert "pip install 'divekit[tune]'" in capsys.readouterr().err


def test_no_trial_starts_after_the_timeout(tmp_path):
    result = tune(tmp_path, timeout=0.001)  # already over when the first trial would start
    assert result.finished == 0 and not result.spent
    assert "run the same command again to go on" in "\n".join(result.lines())
