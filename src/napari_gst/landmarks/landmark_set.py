"""LandmarkSet: the fixed, ordered list of named landmarks a task predicts, with display colours."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GSTError

FORMAT_NAME = "napari-gst LandmarkSet"
FORMAT_VERSION = 1

# Qualitative palette (Tableau 20 order): neighbouring landmarks get distinct hues.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
    "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class LandmarkSet:
    """The named landmarks of a task, in channel order (channel i of a model predicts ``names[i]``).

    Each image holds at most one point per landmark. A landmark is referred to by its name or
    by its 0-based index in ``names``; names win when a label could be either.

    Parameters
    ----------
    names : sequence of str
        Unique, non-empty landmark names in channel order.
    colours : sequence of str, optional
        One ``#rrggbb`` colour per landmark; the default cycles a 20-colour palette.

    Examples
    --------
    >>> hand = LandmarkSet(["wrist", "thumb tip", "index tip"])
    >>> hand.index("thumb tip"), hand.index(2), len(hand)
    (1, 2, 3)
    >>> LandmarkSet.from_json(hand.to_json()) == hand
    True
    """

    names: tuple[str, ...]
    colours: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = tuple(self.names) if not isinstance(self.names, str) else (self.names,)
        if len(names) == 0:
            raise GSTError("names must list at least one landmark")
        for position, name in enumerate(names):
            if not isinstance(name, str) or not name.strip():
                raise GSTError(f"names[{position}] must be a non-empty string, got {name!r}")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise GSTError(f"names must be unique; repeated: {', '.join(duplicates)}")
        colours = tuple(self.colours) or tuple(PALETTE[i % len(PALETTE)] for i in range(len(names)))
        if len(colours) != len(names):
            raise GSTError(
                f"colours must give one colour per landmark ({len(names)}), got {len(colours)}"
            )
        for position, colour in enumerate(colours):
            if not isinstance(colour, str) or not _HEX_COLOUR.match(colour):
                raise GSTError(f"colours[{position}] must be a '#rrggbb' string, got {colour!r}")
        # Frozen dataclass: normalise the fields once, here.
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "colours", tuple(colour.lower() for colour in colours))

    def __len__(self) -> int:
        """Return the number of landmarks L (= model output channels)."""
        return len(self.names)

    def index(self, label: object) -> int:
        """Return the channel index of ``label`` (a landmark name, or a 0-based index).

        Raises
        ------
        GSTError
            If the label is neither a name of this set nor an index in ``range(len(self))``.
        """
        if isinstance(label, str):
            if label in self.names:
                return self.names.index(label)
            stripped = label.strip()
            if stripped in self.names:
                return self.names.index(stripped)
            if re.fullmatch(r"[+-]?\d+(\.0*)?", stripped):
                return self._index_from_number(float(stripped), label)
        elif isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(
            label, bool
        ):
            return self._index_from_number(float(label), label)
        raise GSTError(f"label {label!r} is not a landmark of this set ({self._describe()})")

    def _index_from_number(self, value: float, label: object) -> int:
        # Names win: a set named "1".."19" read from a file of integer labels means names.
        if value.is_integer() and str(int(value)) in self.names:
            return self.names.index(str(int(value)))
        if value.is_integer() and 0 <= value < len(self):
            return int(value)
        raise GSTError(
            f"label {label!r} is not a landmark of this set: indices run 0..{len(self) - 1} "
            f"({self._describe()})"
        )

    def _describe(self) -> str:
        shown = ", ".join(self.names[:6]) + (", ..." if len(self) > 6 else "")
        return f"{len(self)} landmarks: {shown}"

    def rgba(self) -> np.ndarray:
        """Return the colours as an (L, 4) float32 RGBA array in [0, 1] (napari's format)."""
        rgb = [[int(colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)] for colour in self.colours]
        return np.concatenate([np.asarray(rgb), np.ones((len(self), 1))], axis=1).astype(np.float32)

    def to_dict(self) -> dict:
        """Return a JSON-able dict (stored in dataset folders and checkpoints)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "names": list(self.names),
            "colours": list(self.colours),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LandmarkSet:
        """Return the set described by :meth:`to_dict` (a dict with just ``names`` also works)."""
        if not isinstance(data, dict) or "names" not in data:
            raise GSTError("a LandmarkSet description must be a dict with a 'names' list")
        if data.get("format", FORMAT_NAME) != FORMAT_NAME:
            raise GSTError(f"not a LandmarkSet description (format {data.get('format')!r})")
        return cls(tuple(data["names"]), tuple(data.get("colours") or ()))

    def to_json(self) -> str:
        """Return the set as a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> LandmarkSet:
        """Return the set encoded by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise GSTError(f"LandmarkSet JSON is not valid JSON: {error}") from error
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        """Write the set as a JSON file and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> LandmarkSet:
        """Read a set written by :meth:`save`; errors name the file."""
        path = Path(path)
        try:
            return cls.from_json(path.read_text())
        except OSError as error:
            raise GSTError(f"cannot read landmark set {path}: {error}") from error
        except GSTError as error:
            raise GSTError(f"{path}: {error}") from error

    @classmethod
    def numbered(cls, count: int, prefix: str = "L") -> LandmarkSet:
        """Return a set named ``L1..Lcount`` (for datasets whose landmarks have no names)."""
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise GSTError(f"count must be a positive integer, got {count!r}")
        return cls(tuple(f"{prefix}{i + 1}" for i in range(int(count))))


def as_landmark_set(
    value: LandmarkSet | Iterable[str] | dict, name: str = "landmark_set"
) -> LandmarkSet:
    """Return ``value`` as a :class:`LandmarkSet` (accepts a set, a list of names or a dict)."""
    if isinstance(value, LandmarkSet):
        return value
    if isinstance(value, dict):
        return LandmarkSet.from_dict(value)
    if isinstance(value, str) or not isinstance(value, Sequence | Iterable):
        raise GSTError(f"{name} must be a LandmarkSet or a list of names, got {value!r}")
    return LandmarkSet(tuple(value))
