"""Where the counting error of one VGG cells training run comes from, epoch by epoch.

Trains one run of the accuracy benchmark's protocol (N images of 001-100, draw k) with the
TrainConfig defaults plus ``--set`` overrides, keeps a copy of the weights every ``--every``
epochs, and scores each copy on the images of 001-100 outside the draw (never on the test
images 101-200). For every copy it prints:

- ``mae`` and ``bias``: the counts as predicted;
- ``mae_gain``: after one count gain per model, estimated on the draw's own images
  (sum of true / sum of predicted counts): what a shared gain error costs;
- ``mae_oracle``: after the gain that is best on the scored images themselves (a bound, not
  a method): the per-image error that no global correction can remove;
- ``train_mae_gain``: the same gain-corrected error on the draw's images: when it equals
  ``mae_gain`` the model under-fits rather than over-fits.

    python benchmarks/vgg_cells_diagnose.py --set '{"loss": "l2"}' --every 25
    python benchmarks/vgg_cells_diagnose.py --set '{"epochs": 300, "max_minutes": 60}'
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.engine import TrainConfig, evaluate, load_checkpoint, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import DATA, validation_split  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="VGG cells folder")
    parser.add_argument("--n-train", type=int, default=50)
    parser.add_argument("--draw", type=int, default=0, help="draw (and seed) of the run")
    parser.add_argument("--set", default="{}", help="TrainConfig overrides as a JSON object")
    parser.add_argument("--every", type=int, default=25, help="score every this many epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("runs/vgg_cells_diagnose"))
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/vgg_cells/fits"))
    return parser.parse_args(argv)


def counts(model, items) -> tuple[np.ndarray, np.ndarray]:
    """Return (predicted, true) whole-image counts of ``items``, as ``evaluate`` scores them."""
    images = evaluate(model, items, device="cpu")["images"]
    return (
        np.asarray([image["predicted"] for image in images]),
        np.asarray([image["true"] for image in images], dtype=float),
    )


def diagnose(folder: Path, draw_items: list, scored: list) -> dict:
    """Return the error break-down of the checkpoint in ``folder`` (see the module docstring)."""
    model = load_checkpoint(folder)
    own, own_true = counts(model, draw_items)
    pred, true = counts(model, scored)
    gain = own_true.sum() / own.sum()
    oracle = true.sum() / pred.sum()
    return {
        "mae": float(np.abs(pred - true).mean()),
        "bias": float((pred - true).mean()),
        "gain": float(gain),
        "mae_gain": float(np.abs(gain * pred - true).mean()),
        "mae_oracle": float(np.abs(oracle * pred - true).mean()),
        "train_mae_gain": float(np.abs(gain * own - own_true).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    """Train, snapshot, score; print one JSON line per scored copy."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_dataset(args.data)
    draw_items, scored = validation_split(items, args.n_train, args.draw)
    settings = {"seed": args.draw, "device": "cpu", "cache_dir": str(args.cache_dir),
                **json.loads(args.set)}  # fmt: skip
    config = TrainConfig(**settings)
    run_dir = args.out / f"d{args.draw}_n{args.n_train}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    start, snapshots = time.perf_counter(), []
    for event in train(config, draw_items, out_dir=run_dir, preview_every=0):
        path = str(event.path or "")
        if event.kind == "checkpoint" and path.endswith("last") and event.epoch % args.every == 0:
            snapshot = run_dir / f"epoch{event.epoch:04d}"
            shutil.copytree(run_dir / "last", snapshot)
            snapshots.append((f"epoch {event.epoch}", snapshot))
    print(f"trained in {(time.perf_counter() - start) / 60:.1f} min: {json.dumps(settings)}")
    for label, folder in [*snapshots, ("best", run_dir / "best"), ("last", run_dir / "last")]:
        scores = {
            key: round(value, 3) for key, value in diagnose(folder, draw_items, scored).items()
        }
        print(json.dumps({"model": label, **scores}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
