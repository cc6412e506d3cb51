"""Landmark accuracy on synthetic hands: GST per-landmark kernels vs the L2 heatmap baseline.

Both arms train the same U-Net (7 output channels, stride 4) with the same data, crops,
optimiser, schedule and seed; only the target and loss differ. The test set is drawn from
another seed. Prints a table of mean radial error (MRE) and success detection rates (SDR)
in pixels, for two sub-pixel decoders; ``--json`` prints the figures as JSON instead.

    python benchmarks/landmark_accuracy.py            # a few minutes on 2 idle CPU cores
    python benchmarks/landmark_accuracy.py --steps 40 --train 8 --test 4   # smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from napari_gst.landmarks import decode_landmarks, make_hand_landmarks, score_landmarks
from napari_gst.landmarks.dataset import LandmarkDataset, collate_landmarks
from napari_gst.landmarks.heatmap import HeatmapLoss
from napari_gst.landmarks.kernels import fit_landmarks
from napari_gst.landmarks.loss import LandmarkGSTLoss
from napari_gst.landmarks.schedule import default_sigma_schedule
from napari_gst.models import build_model

RADII_PX = (2.0, 4.0, 8.0)
DECODERS = ("centroid", "quadratic")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line settings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=32, help="training images")
    parser.add_argument("--test", type=int, default=32, help="test images (another seed)")
    parser.add_argument("--size", type=int, default=80, help="image side in pixels")
    parser.add_argument("--crop", type=int, default=64, help="training crop side")
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps per arm")
    parser.add_argument("--width", type=int, default=16, help="U-Net width")
    parser.add_argument("--depth", type=int, default=3, help="U-Net depth")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--fit-iterations", type=int, default=30, help="Gaussian fit iterations")
    parser.add_argument(
        "--sigma-range",
        type=float,
        nargs=2,
        default=None,
        metavar=("MIN", "MAX"),
        help="fixed GST kernel scale clamp in pixels (default: the landmark schedule, "
        "1.5..2.5 stride narrowing to stride / 2 over the first half of the steps)",
    )
    parser.add_argument(
        "--arms",
        nargs="+",
        choices=("gst", "heatmap"),
        default=["gst", "heatmap"],
        help="which arms to run",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def make_loss(target: str) -> torch.nn.Module:
    """Return the loss of an arm: GST over per-landmark kernels, or the heatmap L2."""
    return HeatmapLoss() if target == "heatmap" else LandmarkGSTLoss()


def train_arm(target: str, data, fits, args: argparse.Namespace) -> tuple[torch.nn.Module, dict]:
    """Train one arm and return (model, {"seconds", "first_loss", "last_loss"})."""
    torch.manual_seed(args.seed)
    epochs = -(-args.steps // -(-len(data.images) // args.batch))  # ceil(steps / batches)
    dataset = LandmarkDataset(
        list(data.images), list(data.landmarks), data.landmark_set, stride=args.stride,
        target=target, crop_size=args.crop, scale_range=(0.9, 1.1), fits=fits, seed=args.seed,
        kernel_kwargs={} if args.sigma_range is None else {"sigma_range": tuple(args.sigma_range)},
        sigma_schedule=default_sigma_schedule(args.stride, max(1, epochs // 2)),
    )  # fmt: skip
    loader = DataLoader(
        dataset, batch_size=args.batch, shuffle=True, collate_fn=collate_landmarks,
        generator=torch.Generator().manual_seed(args.seed),
    )  # fmt: skip
    model = build_model(
        "unet", 1, len(data.landmark_set), stride=args.stride, width=args.width, depth=args.depth
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=args.steps)
    loss_fn = make_loss(target)
    losses, step, epoch, start = [], 0, 0, time.perf_counter()
    while step < args.steps:
        dataset.set_epoch(epoch)  # as the engine does: the kernel clamp narrows per epoch
        epoch += 1
        for batch in loader:
            loss = loss_fn(model(batch["image"]), batch["target"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
            if step == args.steps:
                break
    window = max(1, len(losses) // 10)
    return model, {
        "seconds": time.perf_counter() - start,
        "first_loss": float(np.mean(losses[:window])),
        "last_loss": float(np.mean(losses[-window:])),
    }


@torch.no_grad()
def evaluate(model: torch.nn.Module, data, stride: int, confidence: str) -> dict:
    """Return MRE/SDR per decoder of ``model`` on the test images (whole images, no crop)."""
    model.eval()
    dataset = LandmarkDataset(
        list(data.images), list(data.landmarks), data.landmark_set, stride=stride, target="heatmap"
    )
    images = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    density = model(images)
    results = {}
    for refine in DECODERS:
        points, confidences = decode_landmarks(
            density, stride, refine=refine, confidence=confidence
        )
        scores = score_landmarks(points, data.landmarks, radii=RADII_PX)
        results[refine] = {**scores.to_dict(), "mean_confidence": float(confidences.mean())}
    return results


def main(argv: list[str] | None = None) -> int:
    """Run both arms and print the table (or JSON)."""
    args = parse_arguments(argv)
    torch.set_num_threads(args.threads)
    shape = (args.size, args.size)
    train = make_hand_landmarks(args.train, shape=shape, seed=args.seed)
    test = make_hand_landmarks(args.test, shape=shape, seed=args.seed + 1000)
    start = time.perf_counter()
    fits = None
    if "gst" in args.arms:
        fits = [
            fit_landmarks(image, landmarks, iterations=args.fit_iterations)
            for image, landmarks in zip(train.images, train.landmarks, strict=True)
        ]
    fit_seconds = time.perf_counter() - start
    report = {"settings": vars(args), "fit_seconds": fit_seconds, "arms": {}}
    for target, confidence in (("gst", "mass"), ("heatmap", "peak")):
        if target not in args.arms:
            continue
        model, training = train_arm(target, train, fits, args)
        report["arms"][target] = {
            "training": training,
            **evaluate(model, test, args.stride, confidence),
        }
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


def format_table(report: dict) -> str:
    """Return the figures as a Markdown table."""
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
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
