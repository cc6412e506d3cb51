"""Where do a trained model's count errors come from? Variance, selection or the model itself.

For each model folder written by ``vgg_cells_accuracy.py`` (``<loss>_n<N>_d<draw>_*``), counts
every image with the best and the last checkpoint: the draw's own 50 images (what it trained
and chose its epoch on), the images of 001-100 outside the draw (held-out) and the test images
101-200. Prints:

- MAE and bias on each split: a model that fits its own images no better than unseen ones is
  limited by what it can represent, not by over-fitting;
- how alike the per-image errors are: best against last checkpoint of a run (held-out), and
  between runs of different draws (test images, which every draw shares): errors that repeat
  leave little for weight averaging, ensembling or a better epoch choice to remove;
- count corrections fitted on the draw's own images and scored on the held-out ones (one gain,
  as the engine does; affine; power law): whether the error depends on the count;
- predicted against annotated count in a band along the image's edge and inside it (best
  checkpoint, held-out images): cells cut by the image's edge are counted as the training crops
  taught the network to count cells cut by a crop's edge.

    python benchmarks/vgg_cells_error_structure.py runs/vgg_cells/gst_n50_d*_a3cb435e
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.engine import evaluate, load_checkpoint, predict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import split, validation_split  # noqa: E402
from vgg_cells_views import model_folders_parser, run_draw  # noqa: E402

SPLITS = ("own", "held-out", "test")
CHECKPOINTS = ("best", "last")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = model_folders_parser(__doc__)
    parser.add_argument("--augment", action="store_true", help="count with 8 averaged views")
    parser.add_argument(
        "--band", type=int, default=8, help="width in pixels of the edge band (a stride multiple)"
    )
    return parser.parse_args(argv)


def counts_of(folder: Path, items: list, augment: bool) -> dict[tuple[str, str], np.ndarray]:
    """Return {(checkpoint, split): (n, 2) array of true and predicted counts} of one run."""
    n_train, draw = run_draw(folder)
    own, test = split(items, n_train, draw)
    _, held_out = validation_split(items, n_train, draw)
    images = dict(zip(SPLITS, (own, held_out, test), strict=True))
    result = {}
    for checkpoint in CHECKPOINTS:
        for name, split_items in images.items():
            scores = evaluate(folder / checkpoint, split_items, device="cpu", augment=augment)
            result[checkpoint, name] = np.array(
                [(entry["true"], entry["predicted"]) for entry in scores["images"]]
            )
    return result


def edge_band_counts(checkpoint_folder: Path, items: list, band: int) -> np.ndarray:
    """Return per image (annotated, predicted) counts in the edge band, then (the same) inside.

    The density is summed over whole stride cells, so ``band`` should be a stride multiple.
    """
    checkpoint = load_checkpoint(checkpoint_folder)
    rows = []
    for item in items:
        prediction = predict(checkpoint, item.image, device="cpu")
        cells = band // prediction.stride
        inner_density = prediction.density[cells:-cells, cells:-cells].sum()
        points = np.asarray(item.points, dtype=np.float64).reshape(-1, 2)
        height, width = item.image.shape[:2]
        to_edge = np.minimum(
            np.minimum(points[:, 0], height - 1 - points[:, 0]),
            np.minimum(points[:, 1], width - 1 - points[:, 1]),
        )
        in_band = int((to_edge < band - 0.5).sum())
        band_density = float(prediction.density.sum() - inner_density)
        rows.append((in_band, band_density, len(points) - in_band, float(inner_density)))
    return np.asarray(rows)


def fitted_correction(own: np.ndarray, kind: str):
    """Return a function predicted -> corrected count, fitted on (true, predicted) rows."""
    true, predicted = own[:, 0], own[:, 1]
    if kind == "gain":
        gain = true.sum() / predicted.sum()
        return lambda counts: gain * counts
    if kind == "affine":
        slope, offset = np.polyfit(predicted, true, 1)
        return lambda counts: slope * counts + offset
    if kind == "power":
        exponent, log_gain = np.polyfit(np.log(predicted), np.log(true), 1)
        return lambda counts: np.exp(log_gain) * counts**exponent
    raise ValueError(kind)


def mae(rows: np.ndarray) -> float:
    """Return the mean absolute count error of (true, predicted) rows."""
    return float(np.abs(rows[:, 1] - rows[:, 0]).mean())


def main(argv: list[str] | None = None) -> int:
    """Count every image with every checkpoint; print the three tables."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data, "dots")
    runs = {folder.name: counts_of(folder, items, args.augment) for folder in args.models}

    print("| model | checkpoint | " + " | ".join(f"MAE {s} (bias)" for s in SPLITS) + " |")
    print("|---|---|" + "---|" * len(SPLITS))
    for name, run in runs.items():
        for checkpoint in CHECKPOINTS:
            cells = []
            for split_name in SPLITS:
                rows = run[checkpoint, split_name]
                cells.append(f"{mae(rows):.2f} ({(rows[:, 1] - rows[:, 0]).mean():+.2f})")
            print(f"| {name} | {checkpoint} | " + " | ".join(cells) + " |")

    print("\nPer-image errors alike? (correlation of predicted - true)")
    for name, run in runs.items():
        best, last = run["best", "held-out"], run["last", "held-out"]
        alike = np.corrcoef(best[:, 1] - best[:, 0], last[:, 1] - last[:, 0])[0, 1]
        print(f"  {name}: best vs last checkpoint, held-out images: r = {alike:.2f}")
    tests = [run["best", "test"] for run in runs.values()]
    if len(tests) > 1:
        errors = np.array([rows[:, 1] - rows[:, 0] for rows in tests])
        between = np.corrcoef(errors)[np.triu_indices(len(tests), 1)]
        mean_rows = np.c_[tests[0][:, 0], np.mean([rows[:, 1] for rows in tests], axis=0)]
        print(
            f"  between runs, best checkpoints, test images: r = {between.mean():.2f} "
            f"(range {between.min():.2f} .. {between.max():.2f}); MAE of the runs' mean "
            f"count {mae(mean_rows):.2f} against {np.mean([mae(r) for r in tests]):.2f} "
            "for one run"
        )

    print("\nCorrections fitted on each draw's own images, best checkpoint, held-out MAE")
    kinds = ("gain", "affine", "power")
    print("| model | as trained | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    columns: dict[str, list[float]] = {kind: [] for kind in ("as trained", *kinds)}
    for name, run in runs.items():
        own, held_out = run["best", "own"], run["best", "held-out"]
        columns["as trained"].append(mae(held_out))
        for kind in kinds:
            corrected = fitted_correction(own, kind)(held_out[:, 1])
            columns[kind].append(mae(np.c_[held_out[:, 0], corrected]))
        print(f"| {name} | " + " | ".join(f"{c[-1]:.2f}" for c in columns.values()) + " |")
    print("| mean | " + " | ".join(f"{np.mean(c):.2f}" for c in columns.values()) + " |")

    print(f"\nCells cut by the image's edge: counts in the {args.band} px band along it, held-out")
    print("| model | band: annotated | predicted | ratio | inside: annotated | predicted | ratio |")
    print("|---|---|---|---|---|---|---|")
    for folder in args.models:
        _, held_out = validation_split(items, *run_draw(folder))
        rows = edge_band_counts(folder / "best", held_out, args.band).mean(axis=0)
        print(
            f"| {folder.name} | {rows[0]:.2f} | {rows[1]:.2f} | {rows[1] / rows[0]:.3f} | "
            f"{rows[2]:.1f} | {rows[3]:.1f} | {rows[3] / rows[2]:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
