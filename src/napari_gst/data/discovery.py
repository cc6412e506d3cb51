"""Find annotated images in a folder by naming convention, and load them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..errors import GSTError
from .annotations import AnnotatedImage
from .image_io import IMAGE_SUFFIXES, read_image
from .point_io import read_points

FORMATS = ("dots", "csv", "shanghaitech")
# What each format looks for, quoted in the "nothing found" error.
_CONVENTIONS = {
    "dots": "dot images named like 001cell.png + 001dots.png or name_000.png + name_dots_000.png",
    "csv": "a CSV with the image's stem, e.g. img.png + img.csv",
    "shanghaitech": "images/IMG_1.jpg + ground-truth/GT_IMG_1.mat",
}
_SHT_GROUND_TRUTH = ("ground-truth", "ground_truth", "groundtruth")
_NUMBERED = re.compile(r"^(?P<prefix>.*)_(?P<number>\d+)$")

Entry = tuple[Path, Path, str]


def discover_dataset(folder: str | Path, format: str = "auto") -> list[Entry]:
    """Return the (image_path, annotation_path, name) triples of the annotated images in a folder.

    Conventions, one per ``format``:

    - ``"dots"``: ``001cell.png`` + ``001dots.png`` (VGG cells) or ``name_000.png`` +
      ``name_dots_000.png``, also ``img.png`` + ``img_dots.png``.
    - ``"csv"``: ``img.png`` + ``img.csv`` (same stem).
    - ``"shanghaitech"``: ``images/IMG_1.jpg`` + ``ground-truth/GT_IMG_1.mat``.
    - ``"auto"``: the first of shanghaitech (when ``images/`` and ``ground-truth/`` exist),
      csv and dots that finds any pair.

    Images without an annotation file are skipped (they may be a test set). Entries are in
    natural order of the image names; ``name`` is the image's stem.

    Raises
    ------
    GSTError
        If the folder does not exist, the format is unknown, or no annotated image is found
        (the message says what was looked for).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GSTError(f"dataset folder {folder} does not exist or is not a folder")
    if format != "auto" and format not in FORMATS:
        raise GSTError(f"format must be 'auto' or one of {FORMATS}, got {format!r}")
    candidates = FORMATS_BY_PRIORITY if format == "auto" else (format,)
    for name in candidates:
        entries = _FINDERS[name](folder)
        if entries:
            return entries
    looked_for = "; or ".join(_CONVENTIONS[name] for name in candidates)
    raise GSTError(f"no annotated images found in {folder}: looked for {looked_for}")


def load_dataset(
    folder: str | Path,
    format: str = "auto",
    *,
    outside: str = "error",
    progress: Callable[[int, int], None] | None = None,
) -> list[AnnotatedImage]:
    """Return every annotated image of a folder as :class:`AnnotatedImage` (see discover_dataset).

    Each annotation is checked against its image: a dot image of another size, or points
    outside the image (unless ``outside`` is "clip" or "drop"), raise a GSTError naming the
    file. ``progress(done, total)`` is called after each image.
    """
    entries = discover_dataset(folder, format)
    items = []
    for done, (image_path, annotation_path, name) in enumerate(entries, start=1):
        image = read_image(image_path)
        point_set = read_points(annotation_path, image.shape[:2], outside=outside)
        items.append(AnnotatedImage(image, point_set.points, point_set.labels, name))
        if progress is not None:
            progress(done, len(entries))
    return items


def natural_key(text: str) -> list[object]:
    """Return a sort key that orders ``img_2`` before ``img_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _image_files(folder: Path) -> list[Path]:
    """Return the image files directly inside ``folder``, in natural order."""
    files = [
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    ]
    return sorted(files, key=lambda path: natural_key(path.name))


def _dot_stems(stem: str) -> list[str]:
    """Return the stems a dot-annotation file for image ``stem`` may have."""
    stems = []
    if stem.lower().endswith("cell"):
        stems.append(stem[:-4] + "dots")
    match = _NUMBERED.match(stem)
    if match:
        stems.append(f"{match['prefix']}_dots_{match['number']}")
    stems += [f"{stem}_dots", f"{stem}dots"]
    return stems


def _find_dots(folder: Path) -> list[Entry]:
    """Return image / dot-image pairs of ``folder``."""
    images = _image_files(folder)
    by_stem = {path.stem: path for path in images}
    pairs = []
    for image in images:
        dots = next((by_stem[s] for s in _dot_stems(image.stem) if s in by_stem), None)
        if dots is not None and dots != image:
            pairs.append((image, dots, image.stem))
    annotation_files = {dots for _, dots, _ in pairs}
    # A dot image is never itself an image to learn from.
    return [pair for pair in pairs if pair[0] not in annotation_files]


def _find_csv(folder: Path) -> list[Entry]:
    """Return image / same-stem CSV pairs of ``folder``."""
    pairs = []
    for image in _image_files(folder):
        table = image.with_suffix(".csv")
        if not table.is_file():
            table = image.with_suffix(".CSV")
        if table.is_file():
            pairs.append((image, table, image.stem))
    return pairs


def _find_shanghaitech(folder: Path) -> list[Entry]:
    """Return ShanghaiTech ``images/X.jpg`` + ``ground-truth/GT_X.mat`` pairs under ``folder``."""
    images_dir = folder / "images"
    truth_dir = next((folder / n for n in _SHT_GROUND_TRUTH if (folder / n).is_dir()), None)
    if not images_dir.is_dir() or truth_dir is None:
        return []
    pairs = []
    for image in _image_files(images_dir):
        truth = truth_dir / f"GT_{image.stem}.mat"
        if truth.is_file():
            pairs.append((image, truth, image.stem))
    return pairs


_FINDERS: dict[str, Callable[[Path], list[Entry]]] = {
    "dots": _find_dots,
    "csv": _find_csv,
    "shanghaitech": _find_shanghaitech,
}
FORMATS_BY_PRIORITY = ("shanghaitech", "csv", "dots")
