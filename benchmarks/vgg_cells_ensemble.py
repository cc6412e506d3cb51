"""Score ensembles of VGG cells models: each member alone, and the mean of their counts.

Model folders written by ``vgg_cells_accuracy.py`` with the same N and draw (e.g. runs of
``--seed-offset 0`` and ``--seed-offset 1``, trained side by side on the two cores) are one
ensemble. Each member's calibrated count is predicted per image; the ensemble counts the mean.
Scored on the images of 001-100 outside the draw (held-out: what a choice may rest on) and,
with ``--test``, on the test images 101-200:

    python benchmarks/vgg_cells_ensemble.py runs/vgg_cells/gst_n50_d*_e6900440 \
        runs/vgg_cells/gst_n50_d*_ea4caf95 --threads 2

(folders are grouped by N and draw, so name only the runs that form the ensembles).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.engine import evaluate, load_checkpoint, mean_absolute_error

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import split, validation_split  # noqa: E402
from vgg_cells_views import model_folders_parser, run_draw  # noqa: E402


def parse_args(argv: list[str] | None = None):
    """Return the command-line options."""
    parser = model_folders_parser(
        __doc__, models_help="model folders; same N and draw: one ensemble"
    )
    parser.add_argument("--test", action="store_true", help="score the test images 101-200 too")
    parser.add_argument("--views", type=int, choices=(1, 8), default=1, help="views averaged")
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which checkpoint to score"
    )
    return parser.parse_args(argv)


def member_counts(model, images: list, views: int) -> np.ndarray:
    """Return the calibrated count a loaded model predicts for each image."""
    scores = evaluate(model, images, device="cpu", augment=views == 8)
    return np.array([entry["predicted"] for entry in scores["images"]], dtype=np.float64)


def mae(counts: np.ndarray, images: list) -> float:
    """Return the mean absolute count error of ``counts`` against the images' dots."""
    return mean_absolute_error(counts, [len(item.points) for item in images])


def main(argv: list[str] | None = None) -> int:
    """Print, per ensemble and image set, each member's MAE and the ensemble's."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data, "dots")
    groups: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for folder in args.models:
        groups[run_draw(folder)].append(folder)
    sets = [("held-out", validation_split)] + ([("test", split)] if args.test else [])
    print(f"| N | draw | images | members ({args.views} view(s)) | member mean | ensemble |")
    print("|---|---|---|---|---|---|")
    totals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (n_train, draw), folders in sorted(groups.items()):
        models = [load_checkpoint(folder / args.checkpoint) for folder in folders]
        for name, choose in sets:
            _, images = choose(items, n_train, draw)
            counts = [member_counts(model, images, args.views) for model in models]
            singles = [mae(c, images) for c in counts]
            together = mae(np.mean(counts, axis=0), images)
            totals[name].append((float(np.mean(singles)), together))
            members = " / ".join(f"{s:.2f}" for s in singles)
            print(
                f"| {n_train} | {draw} | {name} | {members} | {np.mean(singles):.2f} | "
                f"{together:.2f} |",
                flush=True,
            )
    for name, pairs in totals.items():
        singles, together = np.array(pairs).T
        print(
            f"{name}: members {singles.mean():.2f}, ensemble {together.mean():.2f} "
            f"+- {together.std():.2f} over {len(pairs)} ensemble(s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
