"""Landmark accuracy on synthetic hands: GST per-landmark kernels vs the L2 heatmap baseline.

Both arms train through the engine (``napari_gst.engine.train``, what ``napari-gst train
--task landmarks`` runs) with one TrainConfig that differs only in ``loss`` ("gst" or "l2"):
same network, data, crops, optimiser, schedules, seed, hold-out split and best-epoch
selection. The best checkpoint of each arm is then scored on test hands drawn from another
seed, decoded with both sub-pixel decoders (the engine reads GST with "centroid" and
heatmaps with "quadratic"). Prints a table of mean radial error (MRE) and success detection
rates (SDR) in pixels; ``--json`` prints the figures as JSON instead. Deterministic: no time
budget, seeded training, one torch thread with ``--threads 1``.

    OMP_NUM_THREADS=1 python benchmarks/landmark_accuracy.py --threads 1     # a few minutes
    python benchmarks/landmark_accuracy.py --steps 40 --train 8 --test 4     # smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import AnnotatedImage, Normalisation
from napari_gst.engine import TrainConfig, load_checkpoint, predict, train
from napari_gst.engine.landmark_task import LandmarkTask
from napari_gst.landmarks import (
    HAND_LANDMARKS,
    decode_landmarks,
    make_hand_landmarks,
    score_landmarks,
)
from napari_gst.landmarks.items import landmark_arrays

RADII_PX = (2.0, 4.0, 8.0)
DECODERS = ("centroid", "quadratic")
# Arm name -> (TrainConfig loss, confidence read-out).
ARMS = {"gst": ("gst", "mass"), "heatmap": ("l2", "peak")}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line settings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=32, help="training images (incl. held out)")
    parser.add_argument("--test", type=int, default=32, help="test images (another seed)")
    parser.add_argument("--size", type=int, default=80, help="image side in pixels")
    parser.add_argument("--crop", type=int, default=64, help="training crop side")
    parser.add_argument(
        "--steps", type=int, default=1400,
        help="optimiser steps per arm, rounded up to whole epochs (1400 = 200 epochs of 27 "
        "training hands in batches of 4)",
    )  # fmt: skip
    parser.add_argument("--width", type=int, default=None, help="U-Net width (engine default)")
    parser.add_argument("--depth", type=int, default=None, help="U-Net depth (engine default)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=None, help="peak rate (landmark default)")
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--fit-iterations", type=int, default=30, help="Gaussian fit iterations")
    parser.add_argument(
        "--sigma-range",
        type=float,
        nargs=2,
        default=None,
        metavar=("MIN", "MAX"),
        help="fixed GST kernel scale clamp in pixels (default: the landmark schedule, "
        "1.5..2.5 stride narrowing to stride / 2 over the first half of the run)",
    )
    parser.add_argument(
        "--arms",
        nargs="+",
        choices=tuple(ARMS),
        default=list(ARMS),
        help="which arms to run",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads and fit workers")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def hand_items(count: int, size: int, seed: int) -> list[AnnotatedImage]:
    """Return synthetic hands as the engine reads them: every point labelled by its landmark."""
    data = make_hand_landmarks(count, shape=(size, size), seed=seed)
    labels = np.asarray(data.landmark_set.names, dtype=object)
    return [
        AnnotatedImage(image, landmarks, labels, f"hand_{seed}_{index:03d}")
        for index, (image, landmarks) in enumerate(zip(data.images, data.landmarks, strict=True))
    ]


def make_config(args: argparse.Namespace, loss: str, cache_dir: Path) -> TrainConfig:
    """Return the arm's TrainConfig: the same for both arms except ``loss``."""
    model_options = {
        name: value
        for name, value in (("width", args.width), ("depth", args.depth))
        if value is not None
    }
    probe = TrainConfig(task="landmarks", landmarks=HAND_LANDMARKS.to_dict())
    n_train = args.train - round(probe.val_fraction * args.train)  # the engine's hold-out
    batches = -(-max(n_train, 1) // args.batch)
    return TrainConfig(
        task="landmarks",
        landmarks=HAND_LANDMARKS.to_dict(),
        loss=loss,
        model_options=model_options,
        stride=args.stride,
        crop_size=args.crop,
        batch_size=args.batch,
        epochs=max(1, -(-args.steps // batches)),
        max_minutes=None,
        learning_rate=args.lr,
        sigma_range=None if args.sigma_range is None else tuple(args.sigma_range),
        fit_options={"iterations": args.fit_iterations},
        device="cpu",
        seed=args.seed,
        cache_dir=str(cache_dir),
    )


def prefit(config: TrainConfig, items: list, cache_dir: Path, workers: int) -> float:
    """Fit every training image into the engine's cache with ``workers`` processes; return s.

    The engine would fit with up to 4 processes; fitting here first keeps the benchmark on
    the cores ``--threads`` allows, and the engine then reads the same cache.
    """
    start = time.perf_counter()
    dataset = LandmarkTask(config).dataset(items, Normalisation(), config.stride, cache_dir, 0)
    dataset.prepare(workers=workers)
    return time.perf_counter() - start


def train_arm(config: TrainConfig, items: list, out_dir: Path) -> dict:
    """Train one arm through the engine; return its training figures."""
    ends = []
    for event in train(config, items, out_dir=out_dir, preview_every=0):
        if event.kind == "epoch_end":
            ends.append(event)
        elif event.kind == "done":
            done = event
    window = max(1, len(ends) // 10)
    losses = [event.losses["loss"] for event in ends]
    best = min(ends, key=lambda event: event.val_mae)
    return {
        "seconds": done.elapsed_s,
        "epochs": done.epoch,
        "steps": done.step,
        "best_epoch": best.epoch,
        "best_val_mre": best.val_mae,
        "first_loss": float(np.mean(losses[:window])),
        "last_loss": float(np.mean(losses[-window:])),
    }


def evaluate(model_dir: Path, items: list, confidence: str) -> dict:
    """Return MRE/SDR per decoder of the best checkpoint on the test images (whole images)."""
    checkpoint = load_checkpoint(model_dir, task="landmarks", device="cpu")
    stride = int(checkpoint.model.stride)
    density = np.stack([predict(checkpoint, item.image, device="cpu").density for item in items])
    truth = np.stack(landmark_arrays(items, checkpoint.landmark_set))
    results = {}
    for refine in DECODERS:
        points, confidences = decode_landmarks(
            density, stride, refine=refine, confidence=confidence
        )
        scores = score_landmarks(points, truth, radii=RADII_PX)
        results[refine] = {**scores.to_dict(), "mean_confidence": float(np.nanmean(confidences))}
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the arms and print the table (or JSON)."""
    args = parse_arguments(argv)
    torch.set_num_threads(args.threads)
    train_items = hand_items(args.train, args.size, args.seed)
    test_items = hand_items(args.test, args.size, args.seed + 1000)
    report = {"settings": vars(args), "fit_seconds": 0.0, "arms": {}}
    with tempfile.TemporaryDirectory() as folder:
        cache_dir = Path(folder) / "fits"
        for name in args.arms:
            loss, confidence = ARMS[name]
            config = make_config(args, loss, cache_dir)
            if loss == "gst":
                report["fit_seconds"] = prefit(config, train_items, cache_dir, args.threads)
            out_dir = Path(folder) / name
            training = train_arm(config, train_items, out_dir)
            report["arms"][name] = {
                "config": config.to_dict(),
                "training": training,
                **evaluate(out_dir, test_items, confidence),
            }
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


def format_table(report: dict) -> str:
    """Return the figures as a Markdown table and a few lines of training facts."""
    radii = [f"SDR {radius:g}px" for radius in RADII_PX]
    lines = [
        "| method | decoder | MRE (px) | SD (px) | " + " | ".join(radii) + " | train s |",
        "|---" * (5 + len(radii)) + "|",
    ]
    for target, arm in report["arms"].items():
        for refine in DECODERS:
            scores = arm[refine]
            rates = " | ".join(f"{100 * rate:.1f}%" for rate in scores["sdr"].values())
            lines.append(
                f"| {target} | {refine} | {scores['mre']:.2f} | {scores['sd']:.2f} | {rates} "
                f"| {arm['training']['seconds']:.0f} |"
            )
    lines.append(f"\nGaussian fits of the training images: {report['fit_seconds']:.1f} s")
    for target, arm in report["arms"].items():
        training = arm["training"]
        lines.append(
            f"{target}: {training['steps']} steps ({training['epochs']} epochs), best epoch "
            f"{training['best_epoch']} (held-out MRE {training['best_val_mre']:.2f} px), loss "
            f"{training['first_loss']:.2f} -> {training['last_loss']:.2f}, missed "
            f"{arm['centroid']['n_missed']}, mean confidence "
            f"{arm['centroid']['mean_confidence']:.2f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
