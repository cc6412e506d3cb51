"""Reader for the ISBI 2015 cephalometric landmark layout (and any image + text-annotation pair).

Layout: ``RawImage/TrainingData/001.bmp`` with ``AnnotationsByMD/400_senior/001.txt``; each text
file lists 19 ``x,y`` lines (column, row, in pixels), sometimes followed by other lines (e.g.
classification labels), which are ignored. Pixel size 0.1 mm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GSTError
from .landmark_set import LandmarkSet

ISBI_PIXEL_SIZE_MM = 0.1
ISBI_2015_LANDMARKS = LandmarkSet(
    (
        "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion",
        "menton", "gnathion", "gonion", "lower incisal incision", "upper incisal incision",
        "upper lip", "lower lip", "subnasale", "soft tissue pogonion", "posterior nasal spine",
        "anterior nasal spine", "articulare",
    )
)  # fmt: skip
IMAGE_SUFFIXES = (".bmp", ".png", ".tif", ".tiff", ".jpg", ".jpeg")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_COORDINATE_LINE = re.compile(rf"^\s*({_NUMBER})\s*[,;\s]\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class LandmarkRecord:
    """One annotated image of a landmark dataset (the image is read on demand).

    Attributes
    ----------
    image_path : path of the image file.
    annotation_path : path of its annotation file.
    landmarks : (L, 2) float64 (row, col) in pixels.
    """

    image_path: Path
    annotation_path: Path
    landmarks: np.ndarray

    @property
    def name(self) -> str:
        """Return the file stem shared by image and annotation."""
        return self.image_path.stem

    def read_image(self) -> np.ndarray:
        """Return the image as an array (H, W) or (H, W, C), as stored."""
        from skimage.io import imread  # deferred: only readers need the image stack

        try:
            return np.asarray(imread(self.image_path))
        except (OSError, ValueError) as error:
            raise GSTError(f"cannot read image {self.image_path}: {error}") from error


def read_xy_landmarks(path: str | Path, count: int | None = 19) -> np.ndarray:
    """Return the first ``count`` ``x,y`` lines of a text file as an (L, 2) (row, col) array.

    Lines that are not two numbers (blank lines, labels, trailing classification values) are
    skipped. ``count=None`` keeps every coordinate line.

    Raises
    ------
    GSTError
        When the file cannot be read or holds fewer than ``count`` coordinate lines.
    """
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        raise GSTError(f"cannot read landmark file {path}: {error}") from error
    coordinates = []
    for line in lines:
        match = _COORDINATE_LINE.match(line)
        if match:
            coordinates.append((float(match.group(1)), float(match.group(2))))
    if count is not None:
        if len(coordinates) < count:
            raise GSTError(
                f"{path}: expected {count} 'x,y' landmark lines, found {len(coordinates)}"
            )
        coordinates = coordinates[:count]
    xy = np.asarray(coordinates, dtype=np.float64).reshape(-1, 2)
    return xy[:, ::-1].copy()  # files store (x, y) = (col, row)


def read_landmark_folder(
    image_dir: str | Path,
    annotation_dir: str | Path,
    *,
    count: int | None = 19,
    annotation_suffix: str = ".txt",
) -> list[LandmarkRecord]:
    """Return one record per image in ``image_dir`` that has an annotation file of the same stem.

    Parameters
    ----------
    image_dir : path
        Folder of images (``.bmp``, ``.png``, ``.tif``, ``.jpg``).
    annotation_dir : path
        Folder of ``<stem>.txt`` files of ``x,y`` lines.
    count : int or None
        Landmarks per file (19 for ISBI 2015); None keeps all coordinate lines, which must then
        be equally many in every file.

    Raises
    ------
    GSTError
        If a folder is missing, no image has an annotation, or an annotation file is malformed.
    """
    image_dir, annotation_dir = Path(image_dir), Path(annotation_dir)
    for label, folder in (("image_dir", image_dir), ("annotation_dir", annotation_dir)):
        if not folder.is_dir():
            raise GSTError(f"{label} {folder} is not a folder")
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    records = []
    for image_path in images:
        annotation_path = annotation_dir / f"{image_path.stem}{annotation_suffix}"
        if annotation_path.is_file():
            landmarks = read_xy_landmarks(annotation_path, count)
            records.append(LandmarkRecord(image_path, annotation_path, landmarks))
    if not records:
        raise GSTError(
            f"no image in {image_dir} has a matching "
            f"'<stem>{annotation_suffix}' in {annotation_dir}"
        )
    sizes = {len(record.landmarks) for record in records}
    if len(sizes) > 1:
        raise GSTError(
            f"annotation files in {annotation_dir} list different landmark counts: {sorted(sizes)}"
        )
    return records


def read_isbi2015(
    root: str | Path, split: str = "TrainingData", annotator: str = "400_senior"
) -> tuple[list[LandmarkRecord], LandmarkSet, float]:
    """Return the records, landmark names and pixel size (mm) of an ISBI 2015 cephalometric folder.

    ``root`` holds ``RawImage/<split>/*.bmp`` and ``AnnotationsByMD/<annotator>/*.txt``
    (splits: TrainingData, Test1Data, Test2Data; annotators: 400_senior, 400_junior).
    """
    root = Path(root)
    records = read_landmark_folder(
        root / "RawImage" / split, root / "AnnotationsByMD" / annotator, count=19
    )
    return records, ISBI_2015_LANDMARKS, ISBI_PIXEL_SIZE_MM
