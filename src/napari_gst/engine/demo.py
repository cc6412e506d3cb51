"""``napari-gst demo``: train on synthetic cells for about a minute and check the counts."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import TrainConfig
from .training import train

# Small enough to train on two CPU cores in about a minute, large enough to count well:
# 16 training and 4 validation images of 128 x 128 pixels (15-45 cells each), 4 test images.
DEMO_SHAPE = (128, 128)
N_TRAIN, N_VAL, N_TEST = 16, 4, 4
DEMO_CONFIG = {
    "model": "unet",
    # A narrow U-Net: on two CPU cores a step takes a fraction of a second, and the ~300
    # steps that fit in the time budget are enough to localise synthetic cells.
    "model_options": {"width": 8, "depth": 3},
    "stride": 4,
    "loss": "gst",
    "epochs": 80,
    "max_minutes": 1.5,
    "learning_rate": 3e-3,
    "batch_size": 4,
    "crop_size": 96,
    "crops_per_image": 1,
    "scale_range": (1.0, 1.0),
    "val_every": 2,
    "seed": 0,
    # Fewer fit iterations than the automatic stop: the demo's time goes to training.
    "fit_options": {"iterations": 40},
}


def demo_data() -> tuple[list, list, list]:
    """Return (training, validation, test) synthetic cell images with exact centres."""
    from ..data import make_cells_dataset

    items = make_cells_dataset(N_TRAIN + N_VAL + N_TEST, seed=2026, shape=DEMO_SHAPE)
    return items[:N_TRAIN], items[N_TRAIN : N_TRAIN + N_VAL], items[N_TRAIN + N_VAL :]


def _train(config: TrainConfig, train_items, val_items, out: Path) -> None:
    """Run training with a progress bar on stderr."""
    with tqdm(desc="demo training", file=sys.stderr, leave=False, disable=None) as bar:
        for event in train(config, train_items, val_items, out_dir=out / "model", preview_every=0):
            if event.total_steps:
                bar.total, bar.n = event.total_steps, event.step
                bar.set_description(f"demo {event.kind}")
                bar.refresh()


def run_demo(out: Path, *, device: str = "auto") -> tuple[dict, list[str]]:
    """Train on synthetic cells, predict the held-out ones; return (result, lines to print)."""
    from .checkpoint import load_checkpoint
    from .evaluation import DEFAULT_MATCH_RADIUS
    from .metrics import match_points
    from .overlays import prediction_overlay_png
    from .prediction import predict

    start = time.perf_counter()
    out = Path(out)
    train_items, val_items, test_items = demo_data()
    config = TrainConfig(**DEMO_CONFIG, device=device, cache_dir=str(out / "fits"))
    _train(config, train_items, val_items, out)
    checkpoint = load_checkpoint(out / "model", task="count")
    rows, lines = [], [f"{'image':<16}{'true':>6}{'predicted':>11}{'error':>8}"]
    matched = np.zeros(3)  # true positives, detections, cells
    for item in test_items:
        prediction = predict(checkpoint, item.image, device=device)
        match = match_points(prediction.points, item.points, DEFAULT_MATCH_RADIUS)
        matched += (match.true_positives, len(prediction.points), len(item.points))
        rows.append({"name": item.name, "true": item.count, "predicted": prediction.count})
        lines.append(
            f"{item.name:<16}{item.count:>6}{prediction.count:>11.1f}"
            f"{prediction.count - item.count:>+8.1f}"
        )
    overlay = prediction_overlay_png(
        test_items[0].image,
        predict(checkpoint, test_items[0].image, device=device),
        out / "demo_overlay.png",
        true_points=test_items[0].points,
    )
    true_total = sum(row["true"] for row in rows)
    error = sum(row["predicted"] for row in rows) - true_total
    seconds = time.perf_counter() - start
    precision, recall = matched[0] / max(matched[1], 1), matched[0] / max(matched[2], 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    lines += [
        f"total: predicted {true_total + error:.1f} for {true_total} cells "
        f"({100 * error / max(true_total, 1):+.1f}%) in {seconds:.0f} s",
        f"detections within {DEFAULT_MATCH_RADIUS:g} px: precision {precision:.2f}, "
        f"recall {recall:.2f}, F1 {f1:.2f}",
        f"overlay (image + density + detections): {overlay}",
        f"model: {out / 'model'}",
    ]
    result = {
        "images": rows,
        "relative_error": error / max(true_total, 1),
        "detection": {"precision": precision, "recall": recall, "f1": f1},
        "seconds": seconds,
        "overlay": str(overlay),
        "model_dir": str(out / "model"),
    }
    return result, lines
