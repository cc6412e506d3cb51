"""Landmark datasets as the engine's annotated images: label checks, set inference, ISBI folders.

The engine trains on ``napari_gst.data.AnnotatedImage`` items; for landmarks each point carries
a label (a landmark name or index). These helpers turn such items into (L, 2) arrays with
errors that name the image, infer a landmark set from the labels when none is given, and read
an ISBI 2015 folder into the same item form.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.annotations import AnnotatedImage
from ..errors import GSTError
from .annotations import landmarks_from_labels
from .isbi import read_isbi2015
from .landmark_set import LandmarkSet


def landmark_arrays(items: Sequence[AnnotatedImage], landmark_set: LandmarkSet) -> list[np.ndarray]:
    """Return one (L, 2) landmark array per item (NaN rows for missing landmarks).

    Raises
    ------
    GSTError
        Naming the item: points without labels, a label not in ``landmark_set``, a landmark
        given twice.
    """
    arrays = []
    for item in items:
        if item.labels is None:
            raise GSTError(
                f"{item.name}: points have no labels; each landmark point needs a 'label' "
                "(a CSV label column, or the Points layer's label feature)"
            )
        arrays.append(
            landmarks_from_labels(item.points, list(item.labels), landmark_set, source=item.name)
        )
    return arrays


def infer_landmark_set(items: Sequence[AnnotatedImage]) -> LandmarkSet:
    """Return the landmark set named by the items' labels, in order of first appearance.

    Use it when no names file is given; the order fixes the network's channels and is stored
    with the model, so predictions are named the same way later.

    Examples
    --------
    >>> from napari_gst.data import AnnotatedImage
    >>> item = AnnotatedImage(np.zeros((8, 8)), np.ones((2, 2)), np.array(["tip", "base"]), "a")
    >>> infer_landmark_set([item]).names
    ('tip', 'base')
    """
    names: dict[str, None] = {}
    for item in items:
        if item.labels is None:
            raise GSTError(
                f"{item.name}: points have no labels, so the landmark names cannot be read "
                "from them; label every point or give the names (a JSON file)"
            )
        for position, label in enumerate(item.labels):
            name = str(label.item() if isinstance(label, np.generic) else label).strip()
            if not name:
                raise GSTError(f"{item.name}, point {position}: the label is empty")
            names.setdefault(name)
    if not names:
        raise GSTError("no labelled points: cannot infer the landmark names")
    return LandmarkSet(tuple(names))


def is_isbi_folder(folder: str | Path) -> bool:
    """Return True when ``folder`` has the ISBI 2015 layout (RawImage/ + AnnotationsByMD/)."""
    folder = Path(folder)
    return (folder / "RawImage").is_dir() and (folder / "AnnotationsByMD").is_dir()


def read_isbi_items(
    root: str | Path, split: str = "TrainingData", annotator: str = "400_senior"
) -> tuple[list[AnnotatedImage], LandmarkSet, float]:
    """Return (items, landmark set, pixel size in mm) of an ISBI 2015 folder, images loaded.

    Every point is labelled with its landmark name, so the items train and evaluate like a
    labelled CSV dataset.
    """
    records, landmark_set, pixel_size = read_isbi2015(root, split=split, annotator=annotator)
    items = []
    for record in records:
        image = record.read_image()
        landmarks = np.asarray(record.landmarks, dtype=np.float64)
        labels = np.asarray(landmark_set.names[: len(landmarks)], dtype=object)
        items.append(AnnotatedImage(image, landmarks, labels, record.name))
    return items, landmark_set, pixel_size
