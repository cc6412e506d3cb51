"""How wide is the edge a VGG cells model counts wrong? Gains per ring of cells, chosen on held-out.

For each model folder written by ``vgg_cells_accuracy.py`` (``<loss>_n<N>_d<draw>_*``), counts
the images with the best checkpoint (its count gain, no edge gain) ring by ring: ring k holds
the density cells k cells from the image's border (the last ring: everything further in),
and a dot belongs to the ring of its cell. Gains fitted on the draw's own 50 images are
scored on the images of 001-100 outside the draw (held-out) and on the test images 101-200:
one gain per ring, or one for the outer k rings and one inside (k = 1, 2, 3). Prints the
predicted share of the dots per ring and the MAE of each variant:

    python benchmarks/vgg_cells_edge_rings.py runs/vgg_cells/gst_n50_d*_994161e4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.engine import load_checkpoint, predict
from napari_gst.engine.calibration import CountGains, current_gains, set_gains
from napari_gst.engine.edge_ring import cells_to_edge

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import split, validation_split  # noqa: E402
from vgg_cells_views import model_folders_parser, run_draw  # noqa: E402

RINGS = 6
BANDS = (1, 2, 3)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = model_folders_parser(__doc__)
    return parser.parse_args(argv)


def ring_counts(model: torch.nn.Module, normalisation: dict, items: list) -> tuple:
    """Return (annotated, predicted) (n, RINGS) counts per ring of ``items``."""
    annotated, predicted = [], []
    for item in items:
        result = predict(model, item.image, device="cpu", normalisation=normalisation)
        grid, stride = result.density.shape, result.stride
        rings = np.minimum(cells_to_edge(grid), RINGS - 1)
        predicted.append(np.bincount(rings.ravel(), result.density.ravel(), RINGS))
        points = np.asarray(item.points, dtype=np.float64).reshape(-1, 2)
        cell_rows = np.clip((points[:, 0] // stride).astype(int), 0, grid[0] - 1)
        cell_cols = np.clip((points[:, 1] // stride).astype(int), 0, grid[1] - 1)
        annotated.append(np.bincount(rings[cell_rows, cell_cols], minlength=RINGS))
    return np.asarray(annotated, dtype=np.float64), np.asarray(predicted, dtype=np.float64)


def variants(own: tuple, scored: tuple) -> dict[str, float]:
    """Return the MAE on ``scored`` of each correction fitted on ``own``."""
    own_true, own_predicted = own
    true, predicted = scored
    total = true.sum(axis=1)
    result = {"as saved": float(np.abs(predicted.sum(axis=1) - total).mean())}
    gains = own_true.sum(axis=0) / own_predicted.sum(axis=0)
    result["a gain per ring"] = float(np.abs(predicted @ gains - total).mean())
    for band in BANDS:
        outer = own_true[:, :band].sum() / own_predicted[:, :band].sum()
        inner = own_true[:, band:].sum() / own_predicted[:, band:].sum()
        counted = outer * predicted[:, :band].sum(axis=1) + inner * predicted[:, band:].sum(axis=1)
        result[f"outer {band} + inside"] = float(np.abs(counted - total).mean())
    return result


def main(argv: list[str] | None = None) -> int:
    """Count every model ring by ring; print the per-ring shares and the variants' MAE."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data, "dots")
    tables: dict[str, list[dict[str, float]]] = {"held-out": [], "test": []}
    print("| model | predicted / annotated dots, ring 0, 1, 2, ... (own images) |")
    print("|---|---|")
    for folder in args.models:
        checkpoint = load_checkpoint(folder / "best")
        set_gains(checkpoint.model, CountGains(current_gains(checkpoint.model).count, 1.0))
        drawn, test = split(items, *run_draw(folder))
        _, held_out = validation_split(items, *run_draw(folder))
        counts = {
            name: ring_counts(checkpoint.model, checkpoint.normalisation, images)
            for name, images in (("own", drawn), ("held-out", held_out), ("test", test))
        }
        shares = counts["own"][1].sum(axis=0) / counts["own"][0].sum(axis=0)
        print(f"| {folder.name} | " + " ".join(f"{share:.3f}" for share in shares) + " |")
        for name, table in tables.items():
            table.append(variants(counts["own"], counts[name]))
    names = list(tables["held-out"][0])
    print("\n| variant (mean of " + str(len(args.models)) + " runs) | held-out MAE | test MAE |")
    print("|---|---|---|")
    for name in names:
        held, test = (np.mean([row[name] for row in tables[split_]]) for split_ in tables)
        print(f"| {name} | {held:.3f} | {test:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
