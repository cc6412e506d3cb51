"""Landmark predictions as napari layers: named, coloured points and one density per landmark."""

from __future__ import annotations

import napari
import numpy as np
from napari.layers import Image
from napari.utils.colormaps import Colormap
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from ._layer_io import spatial_geometry
from ._overlays import stride_geometry

TABLE_COLUMNS = ["plane", "landmark", "row", "col", "confidence"]


def landmark_points_layer(layer: Image, results: list, is_stack: bool) -> napari.layers.Points:
    """Return a Points layer of every plane's landmarks, coloured and labelled by landmark."""
    rows, labels, colours = [], [], []
    for plane, result in enumerate(results):
        data, kwargs = result.to_layer()
        rows.append(np.column_stack([np.full(len(data), float(plane)), data]))
        labels += kwargs["features"]["label"]
        colours.append(kwargs["face_color"])
    data = np.concatenate(rows) if rows else np.zeros((0, 3))
    scale, translate = spatial_geometry(layer)
    stride = int(results[0].stride)
    return napari.layers.Points(
        data if is_stack else data[:, 1:],
        name=f"{layer.name} landmarks",
        features={"label": labels},
        face_color=np.concatenate(colours).reshape(-1, 4),
        border_color="white",
        size=max(5.0, 0.75 * stride),
        # The name next to each point: a user reads the landmark without a legend.
        text={"string": "{label}", "size": 8, "color": "white", "anchor": "upper_left"},
        scale=scale,
        translate=translate,
        metadata={"image_layer": layer.name, "landmarks": list(results[0].landmark_set.names)},
    )


def landmark_density_layers(layer: Image, results: list, is_stack: bool) -> list[Image]:
    """Return one (hidden) density Image layer per landmark, tinted with its colour."""
    landmark_set = results[0].landmark_set
    stride = int(results[0].stride)
    scale, translate = spatial_geometry(layer)
    grid_scale, grid_translate = stride_geometry(scale, translate, stride)
    densities = np.stack([result.density for result in results])  # (T, L, h, w)
    layers = []
    for index, (name, rgba) in enumerate(zip(landmark_set.names, landmark_set.rgba(), strict=True)):
        channel = densities[:, index] if is_stack else densities[0, index]
        colormap = Colormap([[0.0, 0.0, 0.0, 1.0], list(rgba)], name=f"landmark {name}")
        layers.append(
            Image(
                channel.astype(np.float32),
                name=f"{layer.name} {name} density",
                colormap=colormap,
                blending="additive",
                scale=grid_scale,
                translate=grid_translate,
                # 19 landmarks would bury the image: the user switches on the ones to inspect.
                visible=False,
                metadata={"landmark": name, "stride": stride, "image_layer": layer.name},
            )
        )
    return layers


def landmark_rows(results: list) -> list[dict]:
    """Return one table row per (plane, landmark) of per-plane landmark results."""
    rows = []
    for plane, result in enumerate(results):
        rows += [{**row, "plane": plane} for row in result.table()]
    return rows


def fill_landmark_table(table: QTableWidget, rows: list[dict]) -> None:
    """Show (plane, landmark, row, col, confidence) rows in ``table``."""
    table.setColumnCount(len(TABLE_COLUMNS))
    table.setHorizontalHeaderLabels(TABLE_COLUMNS)
    table.setRowCount(len(rows))
    for position, row in enumerate(rows):
        cells = [str(row["plane"]), row["landmark"]]
        cells += [_number(row[key]) for key in ("row", "col")]
        cells.append(f"{row['confidence']:.2f}")
        for column, text in enumerate(cells):
            table.setItem(position, column, QTableWidgetItem(text))


def summary(rows: list[dict], planes: int) -> str:
    """Return 'Landmarks: k of L found' (over all planes)."""
    found = sum(1 for row in rows if np.isfinite(row["row"]))
    over = f" over {planes} planes" if planes > 1 else ""
    return f"Landmarks: {found} of {len(rows)} found{over}"


def _number(value: float) -> str:
    """Return a coordinate with one decimal, or 'missing' for NaN."""
    return f"{value:.1f}" if np.isfinite(value) else "missing"
