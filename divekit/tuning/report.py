"""The study report, ``STUDY/report.html``: one self-contained file (images inlined), read from the study's
storage, so that it shows every worker's and every machine's trials.

Sections: the best trial and its configuration; the search (space, sampler, pruner, budget); the optimisation
history (each trial's value and the best so far); the validation curves of every trial, pruned ones marked;
parameter importances (PED-ANOVA, numpy only); the table of all trials.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from divekit.report.figures import integer_epochs
from divekit.report.html import cards, fmt, img, key_values, page, para, section, table
from divekit.report.plots import figure_png, pyplot
from divekit.runs import write_text
from divekit.tuning.spec import StudySpec
from divekit.tuning.storage import redacted

COLOURS = {"COMPLETE": "#1f77b4", "PRUNED": "#ff7f0e", "FAIL": "#c62828"}
MIN_FOR_IMPORTANCE = 4  # complete trials before importances say anything


def state_text(trial: Any, unit: str) -> str:
    if trial.state.name == "PRUNED":
        return f"pruned at {unit} {trial.last_step}"
    if trial.state.name == "FAIL":
        return f"failed: {trial.user_attrs['error']}" if "error" in trial.user_attrs else "lost (worker gone)"
    return trial.state.name.lower()


def best_trial(spec: StudySpec, trials: list[Any]) -> Any:
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if not complete:
        return None
    return (max if spec.direction == "maximize" else min)(complete, key=lambda t: t.value)


def history_png(spec: StudySpec, trials: list[Any]) -> bytes | None:
    """Each finished trial's value by trial number (pruned ones at their last report) and the best so far."""
    shown = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    if not shown:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for state, colour in COLOURS.items():
        points = [t for t in shown if t.state.name == state]
        if points:
            ax.scatter([t.number for t in points], [t.value for t in points], s=22, color=colour,
                       label=state.lower())
    best, xs, ys = None, [], []
    for t in sorted(shown, key=lambda t: t.number):
        if t.state.name == "COMPLETE" and (best is None or (t.value > best if spec.direction == "maximize"
                                                            else t.value < best)):
            best = t.value
        if best is not None:
            xs.append(t.number)
            ys.append(best)
    ax.step(xs, ys, where="post", color="#2e7d32", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.25)
    return figure_png(fig)


def curves_png(spec: StudySpec, trials: list[Any], best: Any) -> bytes | None:
    """The reported validation metric of every trial by epoch (or fold); pruned trials in orange."""
    shown = [t for t in trials if t.intermediate_values]
    if not shown:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for t in shown:
        steps = sorted(t.intermediate_values)
        is_best = best is not None and t.number == best.number
        ax.plot(steps, [t.intermediate_values[s] for s in steps], marker="o", ms=3,
                color="#2e7d32" if is_best else COLOURS.get(t.state.name, "#888"), lw=2.2 if is_best else 0.9,
                alpha=1 if is_best else 0.6)
    integer_epochs(ax)
    ax.set_xlabel("fold" if spec.k else "epoch")
    ax.set_ylabel(spec.metric + (" (mean so far)" if spec.k else ""))
    ax.set_title("blue: complete, orange: pruned, green: best", fontsize=9)
    ax.grid(alpha=0.25)
    return figure_png(fig)


def importances(spec: StudySpec, trials: list[Any]) -> str:
    """PED-ANOVA importances of the parameters, as bars (the evaluator needs numpy only)."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if len(complete) < MIN_FOR_IMPORTANCE or len(spec.params) < 2:
        return para(f"Importances need at least {MIN_FOR_IMPORTANCE} complete trials and two parameters "
                    f"({len(complete)} complete, {len(spec.params)} parameter(s)).")
    study = optuna.create_study(direction=spec.direction)
    study.add_trials(complete)
    try:
        scores = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    except (ValueError, RuntimeError) as e:
        return para(f"Importances could not be computed: {e}")
    top = max(scores.values(), default=0) or 1
    rows = "".join(f'<tr><td>{name}</td><td class="num">{fmt(score, 3)}</td><td><span class="bar" '
                   f'style="width:{int(200 * score / top)}px"></span></td></tr>' for name, score in scores.items())
    return ("<table><thead><tr><th>parameter</th><th>importance</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            + para("PED-ANOVA: how much each parameter's values differ between the best trials and the rest "
                   "(higher: the choice mattered more)."))


def trials_table(spec: StudySpec, trials: list[Any], best: Any) -> str:
    names = [p["name"] for p in spec.params]
    unit = "fold" if spec.k else "epoch"
    rows, classes = [], []
    for t in trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        retry = f"retry of {t.user_attrs['retry_of']}" if "retry_of" in t.user_attrs else ""
        rows.append([t.number, state_text(t, unit), t.value if t.value is not None else "",
                     *[t.params.get(n, "") for n in names], len(t.intermediate_values),
                     round(seconds, 1) if seconds is not None else "", retry, t.user_attrs.get("host", ""),
                     t.user_attrs.get("run", "")])
        classes.append("diff" if best is not None and t.number == best.number else "")
    header = ["trial", "state", spec.metric, *names, f"{unit}s reported", "seconds", "", "host", "run"]
    return table(header, rows, classes)


def build_study_report(spec: StudySpec, trials: list[Any]) -> str:
    best = best_trial(spec, trials)
    states = {s: sum(1 for t in trials if t.state.name == s) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    head = {f"best {spec.metric}": fmt(best.value) if best else "–", "complete": str(states["COMPLETE"]),
            "pruned": str(states["PRUNED"]), "failed or lost": str(states["FAIL"]),
            "budget": str(spec.trials)}
    best_part = para("No trial has completed yet.") if best is None else (
        para(f"Trial {best.number}; retrain it on all training rows and test it once with: divekit train "
             f"--from-study {spec.folder}") + key_values(dict(best.params)))
    search = {"parameters": "  ".join(p["name"] + "=" + _spec_text(p) for p in spec.params),
              "metric": f"{spec.metric} ({spec.direction})",
              "objective": f"mean over {spec.k} folds" if spec.k else "last epoch on the validation rows",
              "sampler": spec.sampler, "pruner": spec.pruner, "storage": redacted(spec.storage) if spec.storage
              else f"{spec.folder}/journal.log", "model": spec.base.get("model"), "data": spec.base.get("data")}
    sections = [cards(head), section("Best configuration", best_part), section("Search", key_values(search))]
    for title, png in (("Optimisation history", history_png(spec, trials)),
                       ("Validation curves", curves_png(spec, trials, best))):
        if png:
            sections.append(section(title, img(png, title)))
    sections += [section("Parameter importances", importances(spec, trials)),
                 section("Trials", trials_table(spec, trials, best))]
    return page(f"Study {spec.name}", f"{len(trials)} trials; the test set was not used", sections,
                "divekit tune: every trial is a run directory of its own (column run)")


def _spec_text(p: dict[str, Any]) -> str:
    from divekit.tuning.space import Param

    return Param.from_dict(p).describe().split("=", 1)[1]


def write_study_report(spec: StudySpec, trials: list[Any], out: str | Path | None = None) -> Path:
    return write_text(Path(out) if out else spec.path / "report.html", build_study_report(spec, trials))
