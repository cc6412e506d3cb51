"""Detection on VGG cells: basin read-out against peak read-out, on the same trained models.

Scores the best checkpoint of every run the accuracy benchmark finished (a row in
``--results``; its folder in ``--runs-dir`` is ``<loss>_n<N>_d<draw>_<settings tag>``, the
tag hashing the row's settings) on its test images (101-200), with both
read-outs of ``count_guided_peaks`` from one density per image: precision, recall and F1 of
one-to-one matching within 5 px. Pooled over the images of a run, then averaged over draws.
Each scored run is appended to ``--scores`` (JSONL), so a second call scores only new runs:

    python benchmarks/vgg_cells_detection.py                    # every run folder
    python benchmarks/vgg_cells_detection.py --tag TAG          # one settings tag (as printed)
    python benchmarks/vgg_cells_detection.py --score-on validation --draws 0   # choosing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from napari_gst.data import load_dataset  # noqa: E402
from napari_gst.engine import count_guided_peaks, load_checkpoint, match_points, predict  # noqa: E402
from vgg_cells_accuracy import (  # noqa: E402
    DATA,
    NEW_SETTING_DEFAULTS,
    split,
    validation_split,
)

METHODS = ("peaks", "basins")
RUN_FOLDER = re.compile(r"^(?P<loss>[a-z0-9]+)_n(?P<n>\d+)_d(?P<draw>\d+)_(?P<tag>[0-9a-f]+)$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="VGG cells folder")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/vgg_cells"))
    parser.add_argument("--results", type=Path, default=Path("runs/vgg_cells_accuracy.jsonl"))
    parser.add_argument(
        "--scores",
        type=Path,
        default=Path("runs/vgg_cells_detection.jsonl"),
        help="JSONL of scored runs (read to skip them, appended to)",
    )
    parser.add_argument("--tag", help="only runs with this settings tag")
    parser.add_argument("--draws", type=int, nargs="+", help="only these draws")
    parser.add_argument("--radius", type=float, default=5.0, help="match radius in pixels")
    parser.add_argument("--score-on", choices=("test", "validation"), default="test")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    return parser.parse_args(argv)


def finished_folders(results: Path) -> dict[str, str]:
    """Return {folder name: settings tag} of the runs with a row in the accuracy JSONL.

    The folder is named by the hash of the settings as written; the returned tag hashes them
    with the settings added since filled in (as the accuracy benchmark matches rows), so
    runs of the same schedule group together whichever version wrote them.
    """
    names = {}
    for line in results.read_text().splitlines() if results.is_file() else []:
        if line.strip() and "settings" in (row := json.loads(line)):
            settings = row["settings"]
            tag = _hash(settings)
            if "warmup_fraction" in settings:
                settings = {**NEW_SETTING_DEFAULTS, **settings}
            names[f"{row['loss']}_n{row['n_train']}_d{row['draw']}_{tag}"] = _hash(settings)
    return names


def _hash(settings: dict) -> str:
    """Return the accuracy benchmark's 8-digit tag of a settings dict."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def run_folders(args) -> list[tuple[dict, Path]]:
    """Return (run description, best-checkpoint folder) for every finished run wanted."""
    found, finished = [], finished_folders(args.results)
    for folder in sorted(args.runs_dir.iterdir()) if args.runs_dir.is_dir() else []:
        match = RUN_FOLDER.match(folder.name)
        if not match or folder.name not in finished:
            continue
        run = {"loss": match["loss"], "n_train": int(match["n"]), "draw": int(match["draw"])}
        run["tag"] = finished[folder.name]
        if (args.tag is None or run["tag"] == args.tag) and (
            args.draws is None or run["draw"] in args.draws
        ):
            found.append((run, folder / "best"))
    return found


def score_run(checkpoint: Path, images: list, radius: float) -> dict[str, dict]:
    """Return pooled precision, recall and F1 of each read-out over ``images``."""
    model = load_checkpoint(checkpoint)
    totals = {method: np.zeros(3) for method in METHODS}  # tp, fp, fn
    for item in images:
        result = predict(model, item.image, device="cpu")
        for method in METHODS:
            points = count_guided_peaks(result.density, result.stride, method=method)
            match = match_points(points, item.points, radius)
            totals[method] += (match.true_positives, match.false_positives, match.false_negatives)
    scores = {}
    for method, (tp, fp, fn) in totals.items():
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        scores[method] = {"precision": precision, "recall": recall, "f1": f1}
    return scores


def summarise(rows: list[dict]) -> list[dict]:
    """Return per (tag, N, loss): each read-out's scores averaged over draws."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["tag"], row["n_train"], row["loss"]), []).append(row)
    table = []
    for (tag, n_train, loss), runs in sorted(groups.items()):
        entry = {"tag": tag, "n_train": n_train, "loss": loss, "draws": len(runs)}
        for method in METHODS:
            for score in ("precision", "recall", "f1"):
                entry[f"{method}_{score}"] = float(np.mean([r[method][score] for r in runs]))
        entry["f1_ratio"] = entry["basins_f1"] / max(entry["peaks_f1"], 1e-12)
        table.append(entry)
    return table


def main(argv: list[str] | None = None) -> int:
    """Score every wanted run with both read-outs and print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not (args.data / "001cell.png").is_file():
        print(f"VGG cells not found in {args.data}", file=sys.stderr)
        return 2
    runs = run_folders(args)
    if not runs:
        print(f"no finished runs in {args.runs_dir}", file=sys.stderr)
        return 2
    items = load_dataset(args.data, "dots")
    choose = validation_split if args.score_on == "validation" else split
    done = {}
    for line in args.scores.read_text().splitlines() if args.scores.is_file() else []:
        if line.strip():
            row = json.loads(line)
            done[(row["folder"], row["score_on"], row["radius"])] = row
    rows = []
    for run, checkpoint in runs:
        key = (checkpoint.parent.name, args.score_on, args.radius)
        if key in done:
            rows.append(done[key])
            continue
        images = choose(items, run["n_train"], run["draw"])[1]
        scores = score_run(checkpoint, images, args.radius)
        rows.append({**run, "folder": key[0], "score_on": key[1], "radius": key[2], **scores})
        args.scores.parent.mkdir(parents=True, exist_ok=True)
        with args.scores.open("a") as handle:
            handle.write(json.dumps(rows[-1]) + "\n")
        print(
            f"{checkpoint.parent.name}: F1 peaks {rows[-1]['peaks']['f1']:.3f}, "
            f"basins {rows[-1]['basins']['f1']:.3f}",
            file=sys.stderr,
        )
    table = summarise(rows)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    print(
        f"| settings tag | N | loss | draws | peaks P / R / F1 | basins P / R / F1 "
        f"| F1 basins / peaks |  ({args.score_on} images, {args.radius:g} px)"
    )
    print("|---|---|---|---|---|---|---|")
    for row in table:
        peaks, basins = (
            " / ".join(f"{row[f'{m}_{s}']:.3f}" for s in ("precision", "recall", "f1"))
            for m in METHODS
        )
        print(
            f"| {row['tag']} | {row['n_train']} | {row['loss']} | {row['draws']} | {peaks} "
            f"| {basins} | {row['f1_ratio']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
