"""A floor of reference for VGG cells counting: linear regression on image statistics.

No network: per image, each channel's summed intensity and the fraction of its pixels above
four brightness levels (10, 30, 60, 100 of 255), plus a constant, fitted by least squares to
the counts of the N training images of a draw. An MAE near this one means a network counts
by imaged area and brightness, not by separating cells. Same draws as
``vgg_cells_accuracy.py``; scores on the test images 101-200 and on the validation images
(001-100 outside the draw); runs in seconds:

    python benchmarks/vgg_cells_linear_baseline.py
    python benchmarks/vgg_cells_linear_baseline.py --n-train 50 --draws 5 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from napari_gst.data import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import DATA, split, validation_split  # noqa: E402

LEVELS = (10, 30, 60, 100)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="VGG cells folder")
    parser.add_argument("--n-train", type=int, nargs="+", default=[32, 50])
    parser.add_argument("--draws", type=int, default=5, help="random draws per N")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    return parser.parse_args(argv)


def features(image: np.ndarray) -> np.ndarray:
    """Return [1, then per channel: summed intensity / 1e5, fraction above each level]."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    values = [1.0]
    for channel in np.moveaxis(pixels, -1, 0):
        values.append(channel.sum() / 1e5)
        values.extend((channel > level).mean() for level in LEVELS)
    return np.asarray(values)


def fit_and_score(table: dict, train_items: list, scored_items: list) -> float:
    """Return the MAE on ``scored_items`` of the least-squares fit on ``train_items``.

    ``table`` maps an image name to its features (computed once, shared by every draw).
    """
    design = np.stack([table[item.name] for item in train_items])
    counts = np.array([len(item.points) for item in train_items], dtype=np.float64)
    weights, *_ = np.linalg.lstsq(design, counts, rcond=None)
    scored = np.stack([table[item.name] for item in scored_items])
    truth = np.array([len(item.points) for item in scored_items], dtype=np.float64)
    return float(np.abs(scored @ weights - truth).mean())


def main(argv: list[str] | None = None) -> int:
    """Fit and score every (N, draw); print a table (or JSON) of mean +- std MAEs."""
    args = parse_args(argv)
    items = load_dataset(args.data)
    table = {item.name: features(item.image) for item in items}
    rows = []
    for n_train in args.n_train:
        test, validation = [], []
        for draw in range(args.draws):
            train_items, test_items = split(items, n_train, draw)
            test.append(fit_and_score(table, train_items, test_items))
            validation.append(fit_and_score(table, *validation_split(items, n_train, draw)))
        rows.append(
            {
                "n_train": n_train,
                "draws": args.draws,
                "test_mae_mean": float(np.mean(test)),
                "test_mae_std": float(np.std(test)),
                "test_maes": [round(value, 2) for value in test],
                "validation_mae_mean": float(np.mean(validation)),
                "validation_maes": [round(value, 2) for value in validation],
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        "| N | draws | test MAE (101-200), per draw | validation MAE (001-100 outside the draw) |"
    )
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['n_train']} | {row['draws']} | {row['test_mae_mean']:.2f} +- "
            f"{row['test_mae_std']:.2f} ({', '.join(f'{v:.2f}' for v in row['test_maes'])}) | "
            f"{row['validation_mae_mean']:.2f} "
            f"({', '.join(f'{v:.2f}' for v in row['validation_maes'])}) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
