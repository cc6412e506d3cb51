"""Counting accuracy on VGG cells: GST against the L2, Bayesian and OT losses.

Protocol (README.txt of the data set): N training images drawn at random from 001-100, test
on 101-200, several draws; MAE mean +- std per loss, with the same network and schedule for
every loss. The best epoch is chosen on a validation split of the training draw (never on
the test images). Each finished run is appended to a JSONL file, so an interrupted
benchmark resumes where it stopped:

    python benchmarks/vgg_cells_accuracy.py                      # full run (hours on a CPU)
    python benchmarks/vgg_cells_accuracy.py --n-train 50 --draws 1 --losses gst l2 \\
        --max-minutes 5                                          # a quick check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_gst.data import load_dataset
from napari_gst.engine import TrainConfig, evaluate, train
from napari_gst.engine.config import PRECISIONS
from napari_gst.models import build_model
from napari_gst.transport import default_sigma_range

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "vgg_cells"
LOSSES = ("gst", "l2", "bayesian", "ot")
# Settings added to TrainConfig after rows of the full protocol were written, with the value
# those runs used (the behaviour before the setting existed).
NEW_SETTING_DEFAULTS = {
    "kernel_options": {},
    "crops_per_image": 1,
    "calibrate": False,
    "loader_workers": 0,
    "average_from": None,
    "transpose": False,
}
# Settings added to TrainConfig after runs were keyed by their folder hash: at the default
# (the behaviour before they existed) they are left out of the key, so old runs keep theirs.
LATER_SETTINGS = ("lr_floor", "precision")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="VGG cells folder")
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--n-train", type=int, nargs="+", default=[32, 50])
    parser.add_argument("--draws", type=int, default=5, help="random draws per N")
    parser.add_argument(
        "--first-draw", type=int, default=0, help="run draws FIRST .. FIRST + DRAWS - 1"
    )
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--max-minutes", type=float, default=15.0, help="training time per run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--results", type=Path, default=Path("runs/vgg_cells_accuracy.jsonl"))
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/vgg_cells"))
    parser.add_argument("--learning-rate", type=float, default=TrainConfig().learning_rate)
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    parser.add_argument("--crop-size", type=int, default=TrainConfig().crop_size)
    parser.add_argument(
        "--crops-per-image",
        type=int,
        default=TrainConfig().crops_per_image,
        help="random crops per training image and epoch",
    )
    parser.add_argument(
        "--val-every",
        type=lambda text: text if text == "auto" else int(text),
        default=TrainConfig().val_every,
        help='validate every K epochs, or "auto" (the counting default)',
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=TrainConfig().val_fraction,
        help="share of the drawn images held out to choose the best epoch (0: train on "
        "all of them; the best epoch is then chosen by its MAE on them)",
    )
    parser.add_argument(
        "--loader-workers",
        type=lambda text: text if text == "auto" else int(text),
        default=TrainConfig().loader_workers,
        help='processes building the batches ("auto": one when a second core is free; '
        "0 when two runs share a 2-core machine)",
    )
    parser.add_argument(
        "--model-options",
        type=json.loads,
        default=None,
        help="network options as JSON, e.g. '{\"width\": 24}' (default: the TrainConfig's)",
    )
    parser.add_argument(
        "--kernel-options",
        type=json.loads,
        default=None,
        help='GST kernel options as JSON, e.g. \'{"crop_mass": "centre"}\' (default: the '
        "TrainConfig's)",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=TrainConfig().stride,
        help="density stride in pixels (default: the network's own, 4 for the U-Net)",
    )
    parser.add_argument(
        "--sigma-range",
        type=float,
        nargs=2,
        default=None,
        help="GST kernel scale clamp in pixels (default: the TrainConfig's)",
    )
    parser.add_argument(
        "--score-on",
        choices=("test", "validation"),
        default="test",
        help="score on 101-200 (test) or on the images of 001-100 outside the draw "
        "(validation: the split every setting is chosen on)",
    )
    parser.add_argument(
        "--average-from",
        type=float,
        default=None,
        help="share of the run from which the saved model is the uniform average of the "
        "weights (TrainConfig.average_from; default: off)",
    )
    parser.add_argument(
        "--transpose",
        action="store_true",
        help="train on all 8 symmetries of a crop (TrainConfig.transpose; default: off)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=TrainConfig().precision,
        help="number format of the training forward pass (TrainConfig.precision; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--snapshots-from",
        type=float,
        default=None,
        help="keep a copy of the weights of every validation after this share of the steps "
        "(e.g. 0.5) in the model folder's snapshots/ (for vgg_cells_snapshots.py; does not "
        "change the training)",
    )
    parser.add_argument(
        "--scale-range",
        type=float,
        nargs=2,
        default=TrainConfig().scale_range,
        help="random rescale factors of the training crops (TrainConfig.scale_range; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=TrainConfig().weight_decay,
        help="AdamW weight decay (TrainConfig.weight_decay; default: %(default)s)",
    )
    parser.add_argument(
        "--lr-floor",
        type=float,
        default=TrainConfig().lr_floor,
        help="share of the peak learning rate the cosine ends at (TrainConfig.lr_floor; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--seed-offset",
        type=int,
        default=0,
        help="train with seed draw + 1000 x K instead of the draw's own (another run of the "
        "same images, e.g. a second member of an ensemble; the draw of images is unchanged)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser.parse_args(argv)


def split(items: list, n_train: int, draw: int) -> tuple[list, list]:
    """Return (n_train images drawn from 001-100 with seed ``draw``, test images 101-200)."""
    by_number = {int(item.name[:3]): item for item in items}
    pool = [by_number[number] for number in range(1, 101)]
    chosen = np.random.default_rng(draw).choice(len(pool), size=n_train, replace=False)
    return [pool[i] for i in sorted(chosen)], [by_number[n] for n in range(101, 201)]


def validation_split(items: list, n_train: int, draw: int) -> tuple[list, list]:
    """Return (the draw's training images, the images of 001-100 outside the draw)."""
    train_items, _ = split(items, n_train, draw)
    drawn = {item.name for item in train_items}
    others = [item for item in items if int(item.name[:3]) <= 100 and item.name not in drawn]
    return train_items, sorted(others, key=lambda item: item.name)


def make_config(args, loss: str, draw: int) -> TrainConfig:
    """Return the training settings of one run: the TrainConfig defaults plus the options."""
    return TrainConfig(
        loss=loss,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        crop_size=args.crop_size,
        crops_per_image=args.crops_per_image,
        val_every=args.val_every,
        val_fraction=args.val_fraction,
        loader_workers=args.loader_workers,
        sigma_range=None if args.sigma_range is None else tuple(args.sigma_range),
        stride=args.stride,
        model_options=args.model_options or {},
        kernel_options=args.kernel_options or {},
        average_from=args.average_from,
        transpose=args.transpose,
        precision=args.precision,
        scale_range=tuple(args.scale_range),
        weight_decay=args.weight_decay,
        lr_floor=args.lr_floor,
        max_minutes=args.max_minutes,
        device=args.device,
        seed=draw + 1000 * args.seed_offset,
        cache_dir=str(args.runs_dir / "fits"),  # fits are shared by every loss and draw
    )


def settings(args) -> dict:
    """Return the training settings a result depends on besides loss, N and draw.

    Every TrainConfig field counts (so a change of the library's defaults starts new runs
    instead of reusing rows trained with the old ones), except the per-run loss and seed and
    where fits are cached; an unset sigma range stands for the kernel's default clamp, named.
    """
    config = make_config(args, "gst", 0).to_dict()
    for key in ("loss", "seed", "cache_dir", "device"):
        config.pop(key)
    defaults = TrainConfig()
    for key in LATER_SETTINGS:  # added later: at their defaults, keep the older hashes
        if config[key] == getattr(defaults, key):
            config.pop(key)
    if config["sigma_range"] is None:  # GST's clamp is the kernel's default: name it
        config["sigma_range"] = list(default_sigma_range(config_stride(config)))
    extra = {"seed_offset": args.seed_offset} if args.seed_offset else {}
    return {**config, "score_on": args.score_on, **extra}


def config_stride(config: dict) -> int:
    """Return the density stride of a settings dict: its own, else its network's default."""
    if config["stride"] is not None:
        return int(config["stride"])
    return build_model(config["model"], 3, **config["model_options"]).stride


def run_key(loss: str, n_train: int, draw: int, run_settings: dict) -> tuple:
    """Return the key of a run: results with other settings are different runs."""
    return loss, n_train, draw, json.dumps(run_settings, sort_keys=True)


def done_runs(path: Path) -> dict[tuple, dict]:
    """Return the finished runs in the JSONL file, keyed by :func:`run_key`."""
    runs = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                # Rows written before settings were recorded ran at the then-defaults.
                recorded = row.get("settings", {"epochs": row["epochs"]})
                if "warmup_fraction" in recorded:
                    # A setting added to TrainConfig after the row was written ran at the
                    # value that reproduces the old behaviour (batches built in-process).
                    recorded = {**NEW_SETTING_DEFAULTS, **recorded}
                row_settings = {"score_on": "test", **recorded}
                runs[run_key(row["loss"], row["n_train"], row["draw"], row_settings)] = row
    return runs


def run_one(args, loss: str, n_train: int, draw: int, items: list, run_settings: dict) -> dict:
    """Train one loss on one draw, score it on the test images; return the result row.

    ``run_settings`` is ``settings(args)``, computed once by the caller.
    """
    choose = validation_split if args.score_on == "validation" else split
    train_items, test_items = choose(items, n_train, draw)
    config = make_config(args, loss, draw)
    # One folder per settings: a run with other settings never reuses another's checkpoints.
    out_dir = model_dir(args.runs_dir, loss, n_train, draw, run_settings)
    start = time.perf_counter()
    fitting_s, last, total_steps = 0.0, None, 0
    if args.snapshots_from is not None:  # a rerun into this folder keeps no stale snapshots
        shutil.rmtree(out_dir / "snapshots", ignore_errors=True)
    for event in train(config, train_items, out_dir=out_dir, preview_every=0):
        if event.kind == "fitting":
            fitting_s = event.elapsed_s
        total_steps = max(total_steps, event.total_steps)  # checkpoint events carry none
        if args.snapshots_from is not None:
            keep_snapshot(event, out_dir, args.snapshots_from * total_steps)
        last = event
    train_s = time.perf_counter() - start - fitting_s
    scores = evaluate(out_dir, test_items, device=args.device)  # its best epoch
    bias = float(np.mean([image["predicted"] - image["true"] for image in scores["images"]]))
    augmented = evaluate(out_dir, test_items, device=args.device, augment=True)
    return {
        "loss": loss,
        "n_train": n_train,
        "draw": draw,
        "epochs": args.epochs,
        "settings": run_settings,
        "epochs_run": last.epoch,
        "steps_run": last.step,
        "max_minutes": args.max_minutes,
        "mae": scores["mae"],
        "rmse": scores["rmse"],
        "bias": bias,
        "f1": scores["f1"],
        "mae_augmented": augmented["mae"],
        "val_mae": last.val_mae,
        "train_minutes": train_s / 60,
        "fit_minutes": fitting_s / 60,
        "device": last.device,
        # "clock" where the time budget led the learning rate (not exactly repeatable).
        "schedule": json.loads((out_dir / "last" / "model.json").read_text())["metrics"].get(
            "schedule"
        ),
    }


def keep_snapshot(event, out_dir: Path, start_step: float) -> None:
    """Copy the ``last`` checkpoint an event reports into ``snapshots/`` from ``start_step`` on.

    The copy is the validated model (calibrated; the weight average where ``ema_decay`` or
    ``average_from`` is set), named by its step, so averages can be scored afterwards.
    """
    if event.kind != "checkpoint" or Path(event.path).name != "last":
        return
    if event.step < start_step:
        return
    folder = out_dir / "snapshots" / f"step_{event.step:06d}"
    shutil.copytree(event.path, folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("training_state.*"))  # fmt: skip


def model_dir(runs_dir: Path, loss: str, n_train: int, draw: int, run_settings: dict) -> Path:
    """Return a run's model folder: one per settings, so runs never share checkpoints."""
    tag = hashlib.sha1(json.dumps(run_settings, sort_keys=True).encode()).hexdigest()[:8]
    return runs_dir / f"{loss}_n{n_train}_d{draw}_{tag}"


def add_augmented(args, rows: list[dict], items: list) -> list[dict]:
    """Return ``rows`` with the 8-view test MAE added where it is missing (and written down).

    Rows written before ``mae_augmented`` existed are scored again from their model folder
    (named from the settings the row recorded) if it is still there; others stay without.
    """
    done = []
    for row in rows:
        folder = model_dir(args.runs_dir, row["loss"], row["n_train"], row["draw"],
                           row.get("settings", {}))  # fmt: skip
        if "mae_augmented" not in row and (folder / "best").is_dir():
            choose = validation_split if args.score_on == "validation" else split
            _, test_items = choose(items, row["n_train"], row["draw"])
            scores = evaluate(folder, test_items, device=args.device, augment=True)
            row = {**row, "mae_augmented": scores["mae"]}
            with args.results.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
        done.append(row)
    return done


def summarise(rows: list[dict], losses, sizes) -> list[dict]:
    """Return per (loss, N): MAE mean and std over draws, mean training minutes."""
    table = []
    for n_train in sizes:
        for loss in losses:
            runs = [r for r in rows if r["loss"] == loss and r["n_train"] == n_train]
            if runs:
                maes = np.array([r["mae"] for r in runs])
                table.append(
                    {
                        "loss": loss,
                        "n_train": n_train,
                        "draws": len(runs),
                        "mae_mean": float(maes.mean()),
                        "mae_std": float(maes.std()),
                        "rmse_mean": float(np.mean([r["rmse"] for r in runs])),
                        "bias_mean": float(np.mean([r.get("bias", np.nan) for r in runs])),
                        "f1_mean": float(np.mean([r["f1"] for r in runs])),
                        "train_minutes": float(np.mean([r["train_minutes"] for r in runs])),
                        "augmented": [r["mae_augmented"] for r in runs if "mae_augmented" in r],
                    }
                )
    for row in table:  # each loss's MAE relative to GST's on the same N
        gst = [r for r in table if r["loss"] == "gst" and r["n_train"] == row["n_train"]]
        row["mae_vs_gst"] = row["mae_mean"] / gst[0]["mae_mean"] if gst else None
    return table


def print_table(table: list[dict]) -> None:
    """Print the summary as a Markdown table."""
    print(
        "| N | loss | draws | test MAE (mean +- std) | MAE / GST's | RMSE | bias | F1 (5 px) "
        "| train min/draw | MAE, 8 views (draws) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in table:
        ratio = "-" if row["mae_vs_gst"] is None else f"{row['mae_vs_gst']:.2f}"
        views = np.array(row["augmented"])
        augmented = f"{views.mean():.2f} +- {views.std():.2f} ({len(views)})" if len(views) else "-"
        print(
            f"| {row['n_train']} | {row['loss']} | {row['draws']} | "
            f"{row['mae_mean']:.2f} +- {row['mae_std']:.2f} | {ratio} | "
            f"{row['rmse_mean']:.2f} | {row['bias_mean']:+.2f} | {row['f1_mean']:.2f} | "
            f"{row['train_minutes']:.1f} | {augmented} |"
        )


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the benchmark and print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not (args.data / "001cell.png").is_file():
        print(f"VGG cells not found in {args.data}", file=sys.stderr)
        return 2
    items = load_dataset(args.data, "dots")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    finished = done_runs(args.results)
    run_settings = settings(args)
    # Draws outermost: an interrupted run leaves whole draws (every N and loss) finished.
    for draw in range(args.first_draw, args.first_draw + args.draws):
        for n_train in args.n_train:
            for loss in args.losses:
                key = run_key(loss, n_train, draw, run_settings)
                if key in finished:
                    continue
                row = run_one(args, loss, n_train, draw, items, run_settings)
                finished[key] = row
                with args.results.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(
                    f"{loss} N={n_train} draw {draw}: MAE {row['mae']:.2f} "
                    f"({row['train_minutes']:.1f} min)",
                    file=sys.stderr,
                )
    wanted = json.dumps(run_settings, sort_keys=True)
    rows = add_augmented(args, [r for key, r in finished.items() if key[3] == wanted], items)
    table = summarise(rows, args.losses, args.n_train)
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
