"""Do 8 averaged views count better? Scores trained VGG cells models with and without them.

For each model folder written by ``vgg_cells_accuracy.py`` (named ``<loss>_n<N>_d<draw>_*``),
scores its best epoch on the images of 001-100 outside the draw (never the test images
101-200) as ``napari-gst evaluate`` does, once on the image and once averaged over the 8
flipped and rotated views (``augment=True``), and prints a Markdown table:

    python benchmarks/vgg_cells_views.py runs/vgg_cells/gst_n50_d*_2d6c866a
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.engine import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import DATA, validation_split  # noqa: E402

FOLDER_NAME = re.compile(r"(?P<loss>[a-z0-9]+)_n(?P<n>\d+)_d(?P<draw>\d+)_")


def run_draw(folder: Path) -> tuple[int, int]:
    """Return (N, draw) of a benchmark model folder; exit naming the folder if it is not one."""
    found = FOLDER_NAME.match(folder.name)
    if found is None:
        raise SystemExit(f"{folder}: not a benchmark model folder (<loss>_n<N>_d<draw>_...)")
    return int(found["n"]), int(found["draw"])


def model_folders_parser(
    doc: str, *, threads: int = 2, models_help: str = "model folders of the benchmark"
) -> argparse.ArgumentParser:
    """Return the options every script over benchmark model folders takes (models, data,
    threads), described by the first line of ``doc``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help=models_help)
    parser.add_argument("--data", type=Path, default=DATA, help="VGG cells folder")
    parser.add_argument("--threads", type=int, default=threads, help="torch CPU threads")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    return model_folders_parser(__doc__, threads=1).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Score every model both ways; print one row per model and the means."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data, "dots")
    print("| model | held-out images | MAE | MAE, 8 views | change |")
    print("|---|---|---|---|---|")
    plain_all, views_all = [], []
    for folder in args.models:
        found = FOLDER_NAME.match(folder.name)
        if found is None:
            print(f"{folder}: not a benchmark model folder (<loss>_n<N>_d<draw>_...)")
            return 2
        _, held_out = validation_split(items, int(found["n"]), int(found["draw"]))
        plain = evaluate(folder, held_out, device="cpu")["mae"]
        views = evaluate(folder, held_out, device="cpu", augment=True)["mae"]
        plain_all.append(plain)
        views_all.append(views)
        change = views - plain
        print(f"| {folder.name} | {len(held_out)} | {plain:.2f} | {views:.2f} | {change:+.2f} |")
    plain_mean, views_mean = float(np.mean(plain_all)), float(np.mean(views_all))
    better = sum(v < p for p, v in zip(plain_all, views_all, strict=True))
    print(
        f"| mean of {len(plain_all)} | | {plain_mean:.2f} | {views_mean:.2f} | "
        f"{views_mean - plain_mean:+.2f} ({better} of {len(plain_all)} better) |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
