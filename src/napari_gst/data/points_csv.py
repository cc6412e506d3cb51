"""Point annotations as CSV: napari's ``axis-0,axis-1`` exports and ``y,x`` / ``row,col`` tables."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .._validation import as_points
from ..errors import GSTError

# Accepted (row, col) column pairs, in the order they are tried; headers are matched
# case-insensitively after stripping spaces.
COORDINATE_COLUMNS = (("axis-0", "axis-1"), ("y", "x"), ("row", "col"), ("row", "column"))
LABEL_COLUMN = "label"


def read_points_csv(
    path: str | Path, *, leading_axes: str = "error"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ((N, 2) row/col points, labels or None) from a CSV file with a header row.

    Columns may be ``y,x``, ``row,col`` or napari's ``axis-0,axis-1`` (plus its ``index``
    column and any property columns, which are ignored except ``label``). A napari export
    of a 3D layer has ``axis-0,axis-1,axis-2``: the last two axes are (row, col) and the
    leading ones are refused unless ``leading_axes="drop"`` (which projects the points).
    """
    path = Path(path)
    header, rows = _read_table(path)
    row_index, col_index = _coordinate_columns(header, path, leading_axes)
    points = np.empty((len(rows), 2), dtype=np.float64)
    for line, row in enumerate(rows, start=2):
        try:
            points[line - 2] = float(row[row_index]), float(row[col_index])
        except (ValueError, IndexError) as error:
            raise GSTError(
                f"{path}, line {line}: expected numbers in columns "
                f"{header[row_index]!r} and {header[col_index]!r}, got {row!r}"
            ) from error
    labels = None
    if LABEL_COLUMN in header:
        label_index = header.index(LABEL_COLUMN)
        labels = parse_labels([row[label_index] if label_index < len(row) else "" for row in rows])
    return points, labels


def write_points_csv(path: str | Path, points: object, labels: object | None = None) -> Path:
    """Write points as a napari-compatible CSV (``index,axis-0,axis-1[,label]``); return the path.

    napari opens the file as a Points layer (with ``label`` as a feature) and
    :func:`read_points_csv` reads it back exactly (coordinates are written with ``repr``).
    """
    path = Path(path)
    array = as_points(points)
    label_values = None
    if labels is not None:
        label_values = np.asarray(labels).reshape(-1)
        if len(label_values) != len(array):
            raise GSTError(f"labels has {len(label_values)} entries but points has {len(array)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["index", "axis-0", "axis-1"] + ([LABEL_COLUMN] if labels is not None else [])
        )
        for index, (row, col) in enumerate(array):
            extra = [str(label_values[index])] if label_values is not None else []
            writer.writerow([index, repr(float(row)), repr(float(col)), *extra])
    return path


def parse_labels(values: list[str]) -> np.ndarray:
    """Return labels as int64 when every value is an integer, else as a str array."""
    cleaned = [value.strip() for value in values]
    try:
        return np.array([int(value) for value in cleaned], dtype=np.int64)
    except ValueError:
        return np.array(cleaned, dtype=str)


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Return the lower-cased header and the non-empty data rows of a CSV file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            table = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GSTError(f"cannot read point file {path}: {error}") from error
    if not table:
        raise GSTError(f"point file {path} is empty (expected a header row such as 'y,x')")
    header = [cell.strip().lower() for cell in table[0]]
    return header, table[1:]


def _coordinate_columns(header: list[str], path: Path, leading_axes: str) -> tuple[int, int]:
    """Return the indices of the row and column coordinate columns in ``header``."""
    if leading_axes not in ("error", "drop"):
        raise GSTError(f"leading_axes must be 'error' or 'drop', got {leading_axes!r}")
    axes = sorted(
        (int(name[5:]), index)
        for index, name in enumerate(header)
        if name.startswith("axis-") and name[5:].isdigit()
    )
    if len(axes) > 2:
        if leading_axes == "error":
            raise GSTError(
                f"{path} holds {len(axes)}-D points (columns "
                f"{', '.join(header[i] for _, i in axes)}); only 2D (row, col) points are "
                "supported. Pass leading_axes='drop' to keep the last two axes."
            )
        return axes[-2][1], axes[-1][1]
    for row_name, col_name in COORDINATE_COLUMNS:
        if row_name in header and col_name in header:
            return header.index(row_name), header.index(col_name)
    accepted = " or ".join(",".join(pair) for pair in COORDINATE_COLUMNS)
    raise GSTError(
        f"{path} has columns {', '.join(header) or '(none)'}; expected point columns {accepted}"
    )
