"""The landmark side of the ``napari-gst`` subcommands: datasets, names, flip maps, outputs."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from ..errors import GSTError
from ..landmarks import LandmarkSet, write_landmark_csv
from ..landmarks.items import infer_landmark_set, is_isbi_folder, read_isbi_items


def load_items(folder: Path, format: str, split: str = "TrainingData") -> tuple[list, dict]:
    """Return (annotated images, what the dataset says about landmarks) of a folder.

    ``format="isbi"`` (or "auto" on a folder with the ISBI 2015 layout) reads
    ``RawImage/<split>`` + ``AnnotationsByMD/400_senior``; the second value then holds the
    ISBI landmark set and pixel size (0.1 mm). Other formats go to ``load_dataset``.
    """
    from ..data import load_dataset

    if format == "isbi" or (format == "auto" and is_isbi_folder(folder)):
        items, landmark_set, pixel_size = read_isbi_items(folder, split=split)
        return items, {"landmark_set": landmark_set, "pixel_size": pixel_size}
    return load_dataset(folder, format), {}


def read_landmark_names(path: Path) -> LandmarkSet:
    """Return the landmark set in a JSON file: a ``LandmarkSet`` file or a list of names."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise GSTError(f"cannot read landmark names from {path}: {error}") from error
    try:
        if isinstance(values, list):
            return LandmarkSet(tuple(values))
        return LandmarkSet.from_dict(values)
    except GSTError as error:
        raise GSTError(f"{path}: {error}") from error


def read_flip_map(text: str) -> dict:
    """Return a flip map given inline (``'{"left eye": "right eye"}'``) or as a JSON file."""
    source = Path(text)
    try:
        values = json.loads(source.read_text() if source.is_file() else text)
    except (OSError, ValueError) as error:
        raise GSTError(f"--flip-map must be a JSON object or a JSON file, got {text!r}") from error
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise GSTError(f"--flip-map must map landmark names to names, got {values!r}")
    return values


def landmark_settings(
    args: argparse.Namespace, items: list, found: dict, configured: dict | None = None
) -> dict:
    """Return the TrainConfig values for a landmark run: task, landmarks, flip_map.

    The names come from ``--landmarks``, else the --config file (``configured``), else the
    dataset (ISBI), else the labels of the annotations in order of first appearance.
    """
    if args.landmarks is not None:
        landmark_set = read_landmark_names(args.landmarks)
    elif configured:
        landmark_set = LandmarkSet.from_dict(configured)
    else:
        landmark_set = found.get("landmark_set") or infer_landmark_set(items)
    values = {"task": "landmarks", "landmarks": landmark_set.to_dict()}
    if args.flip_map is not None:
        values["flip_map"] = read_flip_map(args.flip_map)
    return values


def write_landmark_outputs(result, stem: str, out: Path) -> dict:
    """Write one image's per-landmark density TIFF and landmark CSV; return the JSON entry."""
    import tifffile

    density_path = out / f"{stem}_density.tif"
    tifffile.imwrite(density_path, result.density.astype(np.float32))
    points_path = out / f"{stem}_landmarks.csv"
    if result.is_stack:
        _write_stack_landmarks(points_path, result)
    else:
        write_landmark_csv(points_path, result.points, result.landmark_set)
    return {"density": str(density_path), "landmarks": str(points_path), "table": result.table()}


def _write_stack_landmarks(path: Path, result) -> None:
    """Write (plane, row, col, label) rows as napari CSV (index, axis-0..2, label)."""
    data, kwargs = result.to_layer()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "axis-0", "axis-1", "axis-2", "label"])
        for index, (point, label) in enumerate(zip(data, kwargs["features"]["label"], strict=True)):
            writer.writerow([index, *(repr(float(v)) for v in point), label])


def write_landmark_table(path: Path, rows: list[dict]) -> Path:
    """Write image, plane, landmark, row, col, confidence rows for all images; return the path."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "plane", "landmark", "row", "col", "confidence"])
        for row in rows:
            writer.writerow(
                [row["image"], row["plane"], row["landmark"]]
                + [f"{row[key]:.3f}" for key in ("row", "col", "confidence")]
            )
    return path


def score_lines(scores: dict) -> list[str]:
    """Return the human-readable lines of a landmark evaluation."""
    unit = scores["unit"]
    rates = ", ".join(f"{float(r):g} {unit}: {100 * v:.1f}%" for r, v in scores["sdr"].items())
    lines = [
        f"images: {scores['n_images']} ({scores['n_evaluated']} landmarks, "
        f"{scores['n_missed']} not found)",
        f"MRE {scores['mre']:.3f} {unit}   SD {scores['sd']:.3f} {unit}",
        f"success detection rate: {rates}",
    ]
    for name, value in zip(scores["landmarks"], scores["per_landmark_mre"], strict=True):
        lines.append(f"  {name}: MRE {value:.3f} {unit}")
    return lines
