"""The work behind each ``napari-gst`` subcommand; each returns (JSON result, lines to print)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import GSTError
from .config import TrainConfig, read_settings_file
from .landmark_commands import (
    landmark_settings,
    load_items,
    score_lines,
    write_landmark_outputs,
    write_landmark_table,
)

Result = tuple[dict, list[str]]


def _bar(total: int, description: str) -> tqdm:
    """Return a progress bar on stderr (hidden when stderr is not a terminal)."""
    return tqdm(total=total, desc=description, file=sys.stderr, leave=False, disable=None)


def run_fit(args: argparse.Namespace) -> Result:
    """Fit Gaussians to one image's points; write the fit and its kernel overlay PNG."""
    from ..data import read_image, read_points
    from ..splat import fit_gaussians
    from .overlays import kernel_overlay_png

    image = read_image(args.image)
    points = read_points(args.points, image.shape[:2]).points
    with _bar(0, "fitting") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        fit = fit_gaussians(
            image,
            points,
            deformity_elimination=not args.no_de,
            iterations=args.iterations,
            device=args.device,
            progress=progress,
        )
    stem = args.image.stem
    fit_path = fit.save(args.out / f"{stem}_fit.npz")
    overlay = kernel_overlay_png(image, fit, args.out / f"{stem}_kernels.png")
    result = {
        "image": str(args.image),
        "n_points": fit.n_points,
        "psnr": fit.psnr,
        "mean_anisotropy": float(fit.anisotropy().mean()) if fit.n_points else None,
        "fit": str(fit_path),
        "overlay": str(overlay),
    }
    return result, [
        f"fitted {fit.n_points} Gaussians to {args.image} (PSNR {fit.psnr:.1f} dB)",
        f"fit: {fit_path}",
        f"kernel overlay: {overlay}",
    ]


def _config_from_args(args: argparse.Namespace, items: list, found: dict) -> TrainConfig:
    """Return the training settings: the --config file (if any) overridden by the options."""
    # The file's own keys only: a round trip through TrainConfig would fill in defaults
    # resolved for its task (e.g. flips for counting) that --task landmarks must not inherit.
    values = read_settings_file(args.config) if args.config else {}
    # --landmarks or an ISBI folder imply the landmark task unless --task says otherwise.
    task = args.task or values.get("task") or ("landmarks" if args.landmarks or found else None)
    if task == "landmarks":
        values.update(landmark_settings(args, items, found, values.get("landmarks")))
    elif task is not None:
        values["task"] = task
    if args.sigma_range is not None:
        values["sigma_range"] = list(args.sigma_range)
    for name in (
        "loss",
        "model",
        "stride",
        "epochs",
        "max_minutes",
        "learning_rate",
        "batch_size",
        "crop_size",
        "crops_per_image",
        "average_from",
        "transpose",
        "precision",
        "val_fraction",
        "seed",
        "cache_dir",
        "device",
    ):
        value = getattr(args, name, None)
        if value is not None and not (name == "device" and value == "auto" and "device" in values):
            values[name] = value
    return TrainConfig.from_dict(values)


def run_train(args: argparse.Namespace) -> Result:
    """Train on a folder; print the best validation MAE (MRE) and where the model went."""
    from .training import train

    train_items, found = load_items(args.data_dir, args.format, args.split)
    val_items = load_items(args.val, args.format, args.split)[0] if args.val else None
    config = _config_from_args(args, train_items, found)
    final = None
    with _bar(0, "training") as bar:
        events = train(
            config, train_items, val_items, out_dir=args.out, resume=args.resume, preview_every=0
        )
        for event in events:
            _show(bar, event)
            if event.kind in ("done", "stopped"):
                final = event
    result = {**final.summary(), "model_dir": str(args.out), "config": config.to_dict()}
    lines = [
        f"device: {final.device}",
        f"{final.kind} after {final.elapsed_s:.0f} s, epoch {final.epoch}",
    ]
    if final.val_mae is not None:
        lines.append(f"best validation {final.metric}: {final.val_mae:.3f}")
    return result, [*lines, f"model: {args.out}"]


def _show(bar: tqdm, event) -> None:
    """Update the training progress bar from one event."""
    if event.kind == "fitting":
        bar.set_description("fitting Gaussians")
        bar.total, bar.n = event.total_steps, event.step
    elif event.kind == "step":
        bar.set_description(f"epoch {event.epoch}")
        bar.total, bar.n = event.total_steps, event.step
        bar.set_postfix(loss=f"{event.losses.get('loss', float('nan')):.3g}")
    elif event.kind == "epoch_end" and event.val_mae is not None:
        bar.set_postfix(
            loss=f"{event.losses.get('loss', float('nan')):.3g}",
            **{f"val_{event.metric.lower()}": f"{event.val_mae:.2f}"},
        )
    bar.refresh()


def write_counts_csv(path: Path, rows: list[tuple[str, int, float]]) -> Path:
    """Write (image, plane, count) rows as CSV with a header; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "plane", "count"])
        writer.writerows((name, plane, f"{count:.4f}") for name, plane, count in rows)
    return path


def _write_prediction(prediction, stem: str, out: Path) -> tuple[Path, Path]:
    """Write one image's density TIFF and points CSV; return both paths."""
    import tifffile

    from ..data import write_points_csv

    density_path = out / f"{stem}_density.tif"
    tifffile.imwrite(density_path, prediction.density.astype(np.float32))
    points_path = out / f"{stem}_points.csv"
    if prediction.is_stack:
        _write_stack_points(points_path, prediction.points)
    else:
        write_points_csv(points_path, prediction.points)
    return density_path, points_path


def _write_overlays(image: np.ndarray, prediction, stem: str, out: Path) -> list[str]:
    """Write ``<stem>_overlay.png`` (a stack: ``<stem>_overlay_<plane>.png``); return paths."""
    from .overlays import prediction_overlay_png

    if not prediction.is_stack:
        return [str(prediction_overlay_png(image, prediction, out / f"{stem}_overlay.png"))]
    return [
        str(prediction_overlay_png(image[index], plane, out / f"{stem}_overlay_{index}.png"))
        for index, plane in enumerate(prediction.planes())
    ]


def _write_stack_points(path: Path, points: np.ndarray) -> None:
    """Write (plane, row, col) points as a napari CSV (index, axis-0, axis-1, axis-2)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "axis-0", "axis-1", "axis-2"])
        for index, point in enumerate(points):
            writer.writerow([index, *(repr(float(v)) for v in point)])


def run_predict(args: argparse.Namespace) -> Result:
    """Predict every image; write densities, points and one counts table."""
    from ..data import read_image_or_stack
    from ..devices import resolve_device
    from .checkpoint import load_checkpoint
    from .prediction import input_channels, predict

    device = resolve_device(args.device)
    checkpoint = load_checkpoint(args.model_dir, device=device)
    args.out.mkdir(parents=True, exist_ok=True)
    if checkpoint.task == "landmarks":
        return _predict_landmarks(args, checkpoint, device)
    rows, images = [], []
    channels = input_channels(checkpoint.model) or 1
    for path in tqdm(args.images, desc="predicting", file=sys.stderr, leave=False, disable=None):
        image = read_image_or_stack(path, channels)
        prediction = predict(
            checkpoint,
            image,
            device=device,
            tile_size=args.tile_size,
            detection=args.detection,
            augment=args.augment,
        )
        density_path, points_path = _write_prediction(prediction, path.stem, args.out)
        counts = prediction.counts()
        rows += [(path.name, plane, float(count)) for plane, count in enumerate(counts)]
        images.append(
            {
                "image": str(path),
                "count": float(counts.sum()),
                "counts": counts.tolist(),
                "density": str(density_path),
                "points": str(points_path),
            }
        )
        if args.overlay:
            images[-1]["overlays"] = _write_overlays(image, prediction, path.stem, args.out)
    counts_path = write_counts_csv(args.out / "counts.csv", rows)
    lines = [f"{entry['image']}: {entry['count']:.1f}" for entry in images]
    return {"images": images, "counts_csv": str(counts_path)}, [*lines, f"counts: {counts_path}"]


def _predict_landmarks(args: argparse.Namespace, checkpoint, device) -> Result:
    """Predict landmarks of every image; write densities, landmark CSVs and one table."""
    from ..data import read_image_or_stack
    from .prediction import input_channels, predict

    rows, images = [], []
    for path in tqdm(args.images, desc="predicting", file=sys.stderr, leave=False, disable=None):
        image = read_image_or_stack(path, input_channels(checkpoint.model) or 1)
        # augment: predict refuses it for landmarks, with the reason.
        result = predict(
            checkpoint, image, device=device, tile_size=args.tile_size, augment=args.augment
        )
        entry = write_landmark_outputs(result, path.stem, args.out)
        rows += [{"image": path.name, **row} for row in entry["table"]]
        images.append({"image": str(path), **entry})
    table = write_landmark_table(args.out / "landmarks.csv", rows)
    lines = [
        f"{row['image']} [{row['plane']}] {row['landmark']}: "
        f"({row['row']:.1f}, {row['col']:.1f}) confidence {row['confidence']:.2f}"
        for row in rows
    ]
    return {"task": "landmarks", "images": images, "landmarks_csv": str(table)}, [
        *lines,
        f"landmarks: {table}",
    ]


def run_evaluate(args: argparse.Namespace) -> Result:
    """Score a model on a folder: MAE, RMSE, detection F1; or landmark MRE and SDR."""
    from .evaluation import evaluate

    items, found = load_items(args.data_dir, args.format, args.split)
    pixel_size = args.pixel_size if args.pixel_size is not None else found.get("pixel_size")
    with _bar(len(items), "evaluating") as bar:
        scores = evaluate(
            args.model_dir,
            items,
            radius=args.radius,
            device=args.device,
            detection=args.detection,
            augment=args.augment,
            progress=lambda done, total: bar.update(1),
            pixel_size=pixel_size,
            radii=args.radii,
        )
    scores["model_dir"] = str(args.model_dir)
    if scores["task"] == "landmarks":
        return scores, score_lines(scores)
    return scores, [
        f"images: {scores['n_images']}",
        f"MAE {scores['mae']:.3f}   RMSE {scores['rmse']:.3f}",
        f"detection within {scores['radius']:g} px: precision {scores['precision']:.3f}, "
        f"recall {scores['recall']:.3f}, F1 {scores['f1']:.3f}",
    ]


def run_bench(args: argparse.Namespace) -> Result:
    """Time each loss (forward + backward) on synthetic images; see ``engine.loss_speed``."""
    from .loss_speed import time_losses

    if any(size < 32 for size in args.sizes) or args.repeats < 1:
        raise GSTError("--sizes must be >= 32 pixels and --repeats >= 1")
    rows = time_losses(args.sizes, repeats=args.repeats)
    lines = [f"{'loss':<10}{'size':>6}{'points':>8}{'ms/step':>10}"]
    lines += [f"{r['loss']:<10}{r['size']:>6}{r['n_points']:>8}{r['ms']:>10.1f}" for r in rows]
    return {"results": rows}, lines


def run_demo(args: argparse.Namespace) -> Result:
    """Train briefly on synthetic cells and compare predicted counts with the truth."""
    import torch

    from .demo import run_demo as demo

    # The demo's narrow network gains little from a second thread, and on a busy machine
    # torch's spinning OpenMP threads made steps up to 30x slower (docs/parts/engine.md).
    torch.set_num_threads(1)
    return demo(args.out, device=args.device)
