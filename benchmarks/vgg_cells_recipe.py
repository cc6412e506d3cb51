"""Choose a counting recipe on VGG cells: a short training loop and its error break-down.

A lighter loop than ``napari_gst.engine.train`` (no hold-out, no checkpoints, no
validation during training), so that one setting costs only its training minutes. It trains
the draw's N images of 001-100 (seed = draw) with the library's dataset, losses and
networks, and every ``--eval-every`` steps scores the **other images of 001-100** (never the
test images 101-200), printing one JSON line:

- ``mae`` and ``bias``: whole-image counts as predicted;
- ``mae_gain``: after the count calibration the engine applies (one gain, measured on the
  draw's own images): the figure the engine's calibrated models reach;
- ``train_mae`` / ``train_mae_gain``: the same on the draw's own images (when these equal
  the validation figures, the network under-fits).

At the end it adds ``tile_bias_per_image``: the bias of the draw's images counted as 16
separate 64 px tiles (does the network count crops as it counts whole images?), and
appends the final line to ``--results``. The fifth investigation of
docs/parts/bench-accuracy.md was run with it:

    python benchmarks/vgg_cells_recipe.py --lr 3e-3 --model-options '{"input_stride": 2}'
    python benchmarks/vgg_cells_recipe.py --loss l2 --lr 3e-3 --model-options '{"input_stride": 2}'
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import DensityDataset, collate_samples, load_dataset
from napari_gst.data.normalise import Normalisation
from napari_gst.losses import make_loss
from napari_gst.models import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vgg_cells_accuracy import DATA, validation_split  # noqa: E402

TILE = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="VGG cells folder")
    parser.add_argument("--draw", type=int, default=0, help="draw (and seed)")
    parser.add_argument("--n-train", type=int, default=50)
    parser.add_argument("--loss", default="gst", choices=("gst", "l2", "bayesian", "ot"))
    parser.add_argument("--model", default="unet")
    parser.add_argument("--model-options", default="{}", help="JSON network options")
    parser.add_argument("--kernel-options", default="{}", help="JSON build_kernel options")
    parser.add_argument("--loss-options", default="{}", help="JSON loss options")
    parser.add_argument("--normalisation", default="{}", help="JSON Normalisation settings")
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.05, help="warm-up share of the run")
    parser.add_argument("--steps", type=int, default=4500, help="optimiser steps")
    parser.add_argument("--minutes", type=float, default=14.0, help="training time cap")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop-size", type=int, default=64)
    parser.add_argument("--scale-range", type=float, nargs=2, default=[0.9, 1.1])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--eval-every", type=int, default=500, help="score every K steps")
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/vgg_cells/fits"))
    parser.add_argument("--results", type=Path, default=Path("runs/vgg_cells_recipe.jsonl"))
    parser.add_argument("--tag", default="", help="a name for the results line")
    return parser.parse_args(argv)


def learning_rate(args, progress: float) -> float:
    """Return the engine's schedule: linear warm-up from 1/25, then cosine to 2 %."""
    if progress < args.warmup:
        return args.lr * (0.04 + 0.96 * progress / args.warmup)
    annealed = min((progress - args.warmup) / (1 - args.warmup), 1.0)
    return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * annealed)))


def whole_counts(model, images: list[torch.Tensor]) -> np.ndarray:
    """Return the predicted count of each (1, C, H, W) image."""
    model.eval()
    with torch.no_grad():
        counts = np.array([float(model(image).sum()) for image in images])
    model.train()
    return counts


def scores(model, draw, others, step: int, minutes: float) -> dict:
    """Return the error break-down (module docstring) of the current weights."""
    own = whole_counts(model, draw["images"])
    scored = whole_counts(model, others["images"])
    gain = draw["true"].sum() / own.sum()
    return {
        "step": step,
        "train_minutes": round(minutes, 2),
        "mae": round(float(np.abs(scored - others["true"]).mean()), 3),
        "bias": round(float((scored - others["true"]).mean()), 2),
        "mae_gain": round(float(np.abs(gain * scored - others["true"]).mean()), 3),
        "train_mae": round(float(np.abs(own - draw["true"]).mean()), 3),
        "train_mae_gain": round(float(np.abs(gain * own - draw["true"]).mean()), 3),
    }


def tile_bias(model, items, images) -> float:
    """Return the mean per image of (sum of 64 px tile counts - annotated count)."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for item, image in zip(items, images, strict=True):
            height, width = image.shape[-2:]
            tiles = sum(
                float(model(image[..., top : top + TILE, left : left + TILE]).sum())
                for top in range(0, height, TILE)
                for left in range(0, width, TILE)
            )
            total += tiles - len(item.points)
    return total / len(items)


def main(argv: list[str] | None = None) -> int:
    """Train one setting, printing its scores; append the final scores to ``--results``."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.draw)
    train_items, other_items = validation_split(load_dataset(args.data), args.n_train, args.draw)
    normalisation = Normalisation.from_dict(json.loads(args.normalisation))
    dataset = DensityDataset(
        train_items,
        stride=args.stride,
        crop_size=args.crop_size,
        scale_range=tuple(args.scale_range),
        vertical_flip=True,
        use_kernel=args.loss == "gst",
        cache_dir=args.cache_dir,
        kernel_kwargs=json.loads(args.kernel_options),
        normalisation=normalisation,
        seed=args.draw,
    )
    dataset.prepare()
    in_channels = dataset.in_channels
    model = build_model(
        args.model, in_channels, 1, stride=args.stride, **json.loads(args.model_options)
    )
    loss_fn = make_loss(args.loss, **json.loads(args.loss_options))
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

    def as_inputs(items):
        return {
            "images": [
                torch.from_numpy(normalisation.apply(item.image)).permute(2, 0, 1)[None]
                for item in items
            ],
            "true": np.array([len(item.points) for item in items], dtype=float),
        }

    draw, others = as_inputs(train_items), as_inputs(other_items)
    rng = np.random.default_rng(args.draw)
    start, scoring_s, step, losses = time.perf_counter(), 0.0, 0, []
    while True:
        elapsed = time.perf_counter() - start - scoring_s
        progress = max(step / args.steps, elapsed / (60 * args.minutes))
        if progress >= 1:
            break
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(args, progress)
        batch = collate_samples(
            [dataset[int(i)] for i in rng.integers(0, len(dataset), args.batch_size)]
        )
        loss = loss_fn(model(batch["image"]), batch["target"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if step % args.eval_every == 0:
            scoring_start = time.perf_counter()
            line = scores(model, draw, others, step, elapsed / 60)
            line["loss"] = round(float(np.mean(losses[-args.eval_every :])), 3)
            print(json.dumps(line), flush=True)
            scoring_s += time.perf_counter() - scoring_start
    final = scores(model, draw, others, step, (time.perf_counter() - start - scoring_s) / 60)
    final["tile_bias_per_image"] = round(tile_bias(model, train_items, draw["images"]), 2)
    final.update({key: value for key, value in vars(args).items() if key != "data"})
    final = json.loads(json.dumps(final, default=str))
    print(json.dumps(final), flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as handle:
        handle.write(json.dumps(final) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
