"""npe2 sample-data hook: a synthetic cells image with its exact cell centres as points."""

from __future__ import annotations

from .data.synthetic import make_cells

LayerData = tuple[object, dict, str]

# A fixed seed: the sample is the same picture in every session, so the user guide's
# screenshots and tutorials match what users see.
_SAMPLE_SEED = 7


def make_sample_cells() -> list[LayerData]:
    """Return a 256 x 256 synthetic cells image and its ground-truth points as layer data."""
    image, points = make_cells((256, 256), seed=_SAMPLE_SEED)
    image_kwargs = {"name": "cells", "colormap": "gray", "contrast_limits": (0.0, 1.0)}
    points_kwargs = {
        "name": "cells points",
        "size": 5,
        "face_color": "yellow",
        "border_color": "black",
        "metadata": {"count": int(len(points)), "source": "napari_gst.data.make_cells"},
    }
    return [(image, image_kwargs, "image"), (points, points_kwargs, "points")]
