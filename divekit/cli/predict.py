"""``divekit predict RUN``: a finished run's predictions as CSV (``divekit.api.Run.write_predictions``)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.set_defaults(_trailing="images")  # more images after the options join the list (cli.parse)
    p.add_argument("run", help="run directory (or its name under --runs-dir)")
    p.add_argument("images", nargs="*", help="image files, or folders of them (searched recursively), to predict "
                                             "on with an image run: preprocessed exactly as the run's images")
    p.add_argument("--skip-bad", action="store_true", help="leave out files among the images that are not usable "
                                                            "images (named on stderr) instead of stopping")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--out", default=None, help="CSV file to write (default: RUN/predictions.csv)")
    p.add_argument("--data-dir", help="where the dataset is looked for first (also when the run's data folder "
                                      "has moved)")
    p.add_argument("--device", default="auto")
    p.add_argument("--text", action="append", help="text to classify with a text run (repeatable); printed, "
                                                   "one line each, unless --out is given")
    p.add_argument("--text-file", help="texts to classify with a text run: one per line, or a CSV's --text-column; "
                                       "written to --out (default: RUN/predictions.csv)")
    p.add_argument("--text-column", help="the column of a --text-file CSV that holds the texts (default: the "
                                         "run's own text column, if it was trained on a CSV)")
    p.add_argument("--test-csv", help="CSV to predict on with a tabular run (default: the test file it was trained "
                                      "with, if any)")


def run(args: argparse.Namespace) -> int:
    from divekit import api
    from divekit.errors import ConfigError

    run = api.load_run(args.run, args.runs_dir)
    for flag, value, fits in (("--text", args.text, "text"), ("--text-file", args.text_file, "text"),
                              ("--test-csv", args.test_csv, "tabular")):
        if value and run.kind != fits:
            raise ConfigError(f"{flag} is for {fits} runs; {args.run} is {run.kind_phrase}")
    if args.images and run.kind not in ("image", "image-folder"):
        raise ConfigError(f"{args.images[0]}: image files are predicted on by image runs; {args.run} is "
                          f"{run.kind_phrase}")
    if args.text_column and not args.text_file:
        raise ConfigError("--text-column names the column of a --text-file CSV; give --text-file too")
    texts = args.text
    if args.text_file:
        from divekit.data.textfiles import read_texts

        column = args.text_column or run.config.data_options.get("text_column")
        texts = [*(texts or []), *read_texts(args.text_file, column)]
    inputs = args.images or texts or args.test_csv
    if args.text and not args.text_file and not args.out:  # a few texts: answered on the terminal
        for text, name, probability, *_ in run.predict(args.text, args.data_dir, args.device).rows:
            print(f"{name}\t{probability}\t{text}")
        return 0
    out, table = run.write_predictions(args.out, inputs, args.data_dir, args.device, args.skip_bad)
    print(f"wrote {len(table.rows)} predictions to {out}" + (f" ({table.note})" if table.note else ""))
    return 0
