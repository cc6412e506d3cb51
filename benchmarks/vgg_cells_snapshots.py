"""Would averaging a run's late weights, or its late models' counts, count better than its end?

Reads the weight snapshots that ``vgg_cells_accuracy.py --snapshots-from F`` kept (one per
validation in the last part of each run) and, for windows covering the last share of the
steps, scores two averages against the run's own best and last checkpoints:

- **weights**: the uniform average of the snapshots' weights (stochastic weight averaging:
  one network, the cost of one), calibrated as the engine calibrates (one count gain over the
  run's training images, the draw without the images the engine held out);
- **counts**: the mean of the snapshots' calibrated counts (a snapshot ensemble: as many
  networks as snapshots at prediction time);
- **weights, best on validation**: what ``TrainConfig.average_from`` keeps as ``best``: the
  averages from the longest window's start up to each snapshot, the one with the lowest MAE
  on the images the engine held out of the draw.

Whole-image counts (density sums, one view), MAE on the images of 001-100 outside the draw
(held-out: where a window is chosen) and on the test images 101-200 (reported, never chosen
on). Errors between runs of one seed are about +-0.3 a draw; each run's averages are compared
with its own end, so the comparison is paired.

    python benchmarks/vgg_cells_snapshots.py runs/vgg_cells/gst_n50_d*_TAG
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import Normalisation, load_dataset
from napari_gst.engine import TrainConfig, load_checkpoint
from napari_gst.engine.calibration import count_gain, image_counts, set_gains
from napari_gst.engine.split import hold_out

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import split, validation_split  # noqa: E402
from vgg_cells_views import model_folders_parser, run_draw  # noqa: E402

SPLITS = ("held-out", "test")
WINDOWS = (0.1, 0.2, 0.3, 0.45, 0.6)  # shares of the run's steps, counted from its end


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = model_folders_parser(__doc__, models_help="model folders with snapshots/")
    parser.add_argument(
        "--windows", type=float, nargs="+", default=list(WINDOWS),
        help="shares of the steps, from the run's end, whose snapshots are averaged",
    )  # fmt: skip
    return parser.parse_args(argv)


def snapshot_folders(model_folder: Path) -> list[tuple[int, Path]]:
    """Return (step, folder) of a run's snapshots, in step order."""
    folders = sorted((model_folder / "snapshots").glob("step_*"))
    if not folders:
        raise SystemExit(f"{model_folder}: no snapshots/ (run the benchmark with --snapshots-from)")
    return [(int(folder.name.split("_")[1]), folder) for folder in folders]


def counts(model: torch.nn.Module, items: list, normalisation: Normalisation) -> np.ndarray:
    """Return the whole-image counts of ``items`` with the model's own gain."""
    predicted, _ = image_counts(model, items, torch.device("cpu"), normalisation)
    return predicted


def average_weights(folders: list[Path]) -> torch.nn.Module:
    """Return the network of ``folders[0]`` with the uniform average of every folder's weights."""
    loaded = [load_checkpoint(folder).model for folder in folders]
    model = loaded[0]
    states = [network.state_dict() for network in loaded]
    averaged = {
        name: torch.stack([state[name] for state in states]).mean(0)
        if value.is_floating_point() else value
        for name, value in states[0].items()
    }  # fmt: skip
    model.load_state_dict(averaged)
    return model


def score_run(folder: Path, items: list, windows: list[float]) -> dict[str, dict[str, float]]:
    """Return {variant: {split: MAE}} of one run's checkpoints and snapshot averages."""
    n_train, draw = run_draw(folder)
    own, test = split(items, n_train, draw)
    _, held_out = validation_split(items, n_train, draw)
    defaults = TrainConfig()
    # The images the engine calibrated on: the draw without those it held out (its seed is
    # the draw, as the benchmark sets it).
    calibrate_on, validate_on, _ = hold_out(
        own, defaults.val_fraction, defaults.min_val_images, draw
    )
    images = {"held-out": held_out, "test": test}
    truth = {name: np.array([len(item.points) for item in split_items])
             for name, split_items in images.items()}  # fmt: skip

    def mae(predicted: dict[str, np.ndarray]) -> dict[str, float]:
        return {name: float(np.abs(predicted[name] - truth[name]).mean()) for name in SPLITS}

    snapshots = snapshot_folders(folder)
    end = snapshots[-1][0]
    normalisation = Normalisation.from_dict(load_checkpoint(snapshots[-1][1]).normalisation)
    per_snapshot = {}
    for step, snapshot in snapshots:
        model = load_checkpoint(snapshot).model
        per_snapshot[step] = {name: counts(model, split_items, normalisation)
                              for name, split_items in images.items()}  # fmt: skip
    result = {"last": mae(per_snapshot[end])}
    best = load_checkpoint(folder / "best").model
    result["best"] = mae({name: counts(best, split_items, normalisation)
                          for name, split_items in images.items()})  # fmt: skip
    for window in windows:
        chosen = [(step, path) for step, path in snapshots if step >= (1 - window) * end]
        ensemble = {name: np.mean([per_snapshot[step][name] for step, _ in chosen], axis=0)
                    for name in SPLITS}  # fmt: skip
        result[f"counts {window:.0%} ({len(chosen)})"] = mae(ensemble)
        model = average_weights([path for _, path in chosen])
        calibrated(model, calibrate_on, normalisation)
        result[f"weights {window:.0%} ({len(chosen)})"] = mae(
            {name: counts(model, split_items, normalisation)
             for name, split_items in images.items()}
        )  # fmt: skip
    result[f"weights {max(windows):.0%}, best on validation"] = mae(
        best_running_average(snapshots, (1 - max(windows)) * end, calibrate_on, validate_on,
                             images, normalisation)
    )  # fmt: skip
    return result


def calibrated(model: torch.nn.Module, items: list, normalisation: Normalisation) -> None:
    """Set ``model``'s gains as the engine does (``count_gain`` on ``items``)."""
    set_gains(model, count_gain(model, items, torch.device("cpu"), normalisation))


def best_running_average(
    snapshots: list[tuple[int, Path]],
    start_step: float,
    calibrate_on: list,
    validate_on: list,
    images: dict[str, list],
    normalisation: Normalisation,
) -> dict[str, np.ndarray]:
    """Return the counts of the running average (from ``start_step``) best on ``validate_on``."""
    chosen = [path for step, path in snapshots if step >= start_step]
    truth = np.array([len(item.points) for item in validate_on])
    total, best_mae, best_counts = None, np.inf, None
    for index, path in enumerate(chosen, start=1):
        model = load_checkpoint(path).model
        state = model.state_dict()
        if total is None:
            total = {name: value.double().clone() for name, value in state.items()}
        else:
            for name, value in state.items():
                total[name] += value.double()
        model.load_state_dict({name: (value / index).to(state[name].dtype)
                               for name, value in total.items()})  # fmt: skip
        calibrated(model, calibrate_on, normalisation)
        score = float(np.abs(counts(model, validate_on, normalisation) - truth).mean())
        if score < best_mae:
            best_mae = score
            best_counts = {name: counts(model, split_items, normalisation)
                           for name, split_items in images.items()}  # fmt: skip
    return best_counts


def main(argv: list[str] | None = None) -> int:
    """Score every run's checkpoints and snapshot averages; print one table per split."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data, "dots")
    runs = {folder.name: score_run(folder, items, args.windows) for folder in args.models}
    for split_name in SPLITS:
        print(f"\nMAE on the {split_name} images (one view, whole-image counts)")
        names = list(runs)
        print("| variant | " + " | ".join(names) + " | mean | better than last |")
        print("|---|" + "---|" * (len(names) + 2))
        for variant in next(iter(runs.values())):
            # Window labels carry each run's snapshot count; match by the label's start.
            stem = variant.split(" (")[0]
            values = [next(v for k, v in run.items() if k.split(" (")[0] == stem)[split_name]
                      for run in runs.values()]  # fmt: skip
            lasts = [run["last"][split_name] for run in runs.values()]
            wins = sum(value < last for value, last in zip(values, lasts, strict=True))
            print(
                f"| {stem} | " + " | ".join(f"{value:.2f}" for value in values)
                + f" | {np.mean(values):.2f} | {wins} of {len(values)} |"
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
