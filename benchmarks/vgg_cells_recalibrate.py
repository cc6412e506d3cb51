"""Score trained VGG cells models with the engine's current calibration measured again.

A model keeps the gains it was saved with. When the calibration changes (the edge ring's gain,
``engine/edge_ring.py``), models trained before can be measured again: for each model folder
written by ``vgg_cells_accuracy.py`` (``<loss>_n<N>_d<draw>_*``), the best checkpoint
(``--checkpoint last``: the last) is calibrated with ``count_gain`` on the run's own training
images (the draw, less the images the run held out, as training calibrates) and scored, as
saved and recalibrated, with one view and with 8, on the images of 001-100 outside the draw
(held-out: what a choice may rest on) and on the test images 101-200:

    python benchmarks/vgg_cells_recalibrate.py runs/vgg_cells/gst_n50_d*_994161e4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.data.normalise import Normalisation
from napari_gst.engine import evaluate, load_checkpoint
from napari_gst.engine.calibration import count_gain, set_gains
from napari_gst.engine.split import hold_out

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import split, validation_split  # noqa: E402
from vgg_cells_views import model_folders_parser, run_draw  # noqa: E402

COLUMNS = ("held-out", "held-out, 8 views", "test", "test, 8 views")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = model_folders_parser(__doc__)
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which checkpoint to score"
    )
    return parser.parse_args(argv)


def training_images(items: list, folder: Path, config: dict) -> list:
    """Return the images a run trained (and so calibrated) on: its draw less its hold-out."""
    drawn, _ = split(items, *run_draw(folder))
    trained, _, _ = hold_out(
        drawn, config["val_fraction"], config["min_val_images"], config["seed"]
    )
    return trained


def scores(checkpoint, held_out: list, test: list) -> list[float]:
    """Return the MAE of ``checkpoint`` in the order of :data:`COLUMNS`."""
    return [
        evaluate(checkpoint, images, device="cpu", augment=augment)["mae"]
        for images in (held_out, test)
        for augment in (False, True)
    ]


def main(argv: list[str] | None = None) -> int:
    """Score every model as saved and recalibrated; print a Markdown table and the means."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data, "dots")
    print("| model | calibration | gains | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---|" + "---|" * len(COLUMNS))
    rows: dict[str, list[list[float]]] = {"as saved": [], "recalibrated": []}
    for folder in args.models:
        checkpoint = load_checkpoint(folder / args.checkpoint)
        _, held_out = validation_split(items, *run_draw(folder))
        _, test = split(items, *run_draw(folder))
        saved_gains = (
            f"{float(checkpoint.model.output_gain):.3f} / {float(checkpoint.model.edge_gain):.3f}"
        )
        rows["as saved"].append(scores(checkpoint, held_out, test))
        trained = training_images(items, folder, checkpoint.metadata["training"])
        normalisation = Normalisation.from_dict(checkpoint.normalisation)
        gains = count_gain(checkpoint.model, trained, torch.device("cpu"), normalisation)
        set_gains(checkpoint.model, gains)
        rows["recalibrated"].append(scores(checkpoint, held_out, test))
        for name, label in (
            ("as saved", saved_gains),
            ("recalibrated", f"{gains.count:.3f} / {gains.edge:.3f}"),
        ):
            cells = " | ".join(f"{value:.2f}" for value in rows[name][-1])
            print(f"| {folder.name} | {name} | {label} | {cells} |", flush=True)
    for name, table in rows.items():
        means = np.mean(table, axis=0)
        print(
            f"| mean of {len(table)} | {name} | | " + " | ".join(f"{m:.2f}" for m in means) + " |"
        )
    better = np.sum(np.array(rows["recalibrated"]) < np.array(rows["as saved"]), axis=0)
    print(
        "recalibrated better in: "
        + ", ".join(f"{c} {b} of {len(args.models)}" for c, b in zip(COLUMNS, better, strict=True))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
