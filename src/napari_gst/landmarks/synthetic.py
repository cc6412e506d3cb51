"""Synthetic landmark data: a stylised hand with named tips under random similarity transforms.

Deterministic per seed, with known keypoints, for tests, demos and the accuracy benchmark. The
hand is chiral (thumb on one side) and the poses vary (finger splay), so each landmark's identity
is learnable and a horizontal flip would change it: flips stay off for landmark tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as fill_polygon

from .._validation import as_shape
from ..errors import GSTError
from .landmark_set import LandmarkSet

HAND_LANDMARKS = LandmarkSet(
    ("wrist", "thumb base", "thumb tip", "index tip", "middle tip", "ring tip", "little tip")
)

# Template in palm units, (row, col), row pointing down the image: fingers point up (-row).
_PALM = np.array([[1.3, -0.8], [1.3, 0.8], [0.2, 1.05], [-1.0, 1.0], [-1.05, -1.0], [0.3, -1.0]])
_WRIST = np.array([1.3, 0.0])
# Finger base (row, col), length, direction angle (degrees from "up", positive towards +col),
# width: thumb, index, middle, ring, little.
_FINGERS = (
    ((0.35, -0.95), 1.25, -55.0, 0.42),
    ((-1.0, -0.72), 1.45, -8.0, 0.36),
    ((-1.0, -0.24), 1.65, 0.0, 0.36),
    ((-1.0, 0.24), 1.50, 7.0, 0.35),
    ((-0.95, 0.70), 1.15, 16.0, 0.32),
)


@dataclass(frozen=True)
class SyntheticLandmarks:
    """Images with their landmark positions.

    Attributes
    ----------
    images : (N, H, W) float32 array in [0, 1].
    landmarks : (N, L, 2) float64 array of (row, col) in pixels, all inside the image.
    landmark_set : the names (``HAND_LANDMARKS``).
    seed : the seed the set was drawn from.
    """

    images: np.ndarray
    landmarks: np.ndarray
    landmark_set: LandmarkSet
    seed: int

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self.images)


def make_hand_landmarks(
    count: int,
    *,
    shape: tuple[int, int] = (128, 128),
    seed: int = 0,
    noise: float = 0.05,
    max_rotation: float = 30.0,
    margin: float = 4.0,
) -> SyntheticLandmarks:
    """Return ``count`` hand images with their 7 landmarks, identical for identical arguments.

    Parameters
    ----------
    count : int
        Number of images.
    shape : (H, W)
        Image size in pixels (at least 32 x 32).
    seed : int
        Seed of the random draws (poses, transforms, intensities, noise).
    noise : float
        Mean standard deviation of the additive Gaussian noise (image range [0, 1]).
    max_rotation : float
        Largest rotation, in degrees, of the random similarity transform.
    margin : float
        Smallest distance in pixels from any landmark to the image border.

    Examples
    --------
    >>> data = make_hand_landmarks(2, shape=(64, 64), seed=1)
    >>> data.images.shape, data.landmarks.shape
    ((2, 64, 64), (2, 7, 2))
    """
    height, width = as_shape(shape)
    if height < 32 or width < 32:
        raise GSTError(f"shape must be at least 32 x 32, got {height} x {width}")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise GSTError(f"count must be a positive integer, got {count!r}")
    if not 0 <= noise <= 1:
        raise GSTError(f"noise must lie in [0, 1], got {noise}")
    rng = np.random.default_rng(seed)
    images = np.empty((count, height, width), dtype=np.float32)
    landmarks = np.empty((count, len(HAND_LANDMARKS), 2))
    for index in range(count):
        images[index], landmarks[index] = _draw_hand(
            rng, (height, width), noise, max_rotation, margin
        )
    return SyntheticLandmarks(images, landmarks, HAND_LANDMARKS, int(seed))


def _draw_hand(
    rng: np.random.Generator,
    shape: tuple[int, int],
    noise: float,
    max_rotation: float,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return one (image, (L, 2) landmarks) pair drawn from ``rng``."""
    polygons, keypoints = _posed_template(rng)
    outline = np.concatenate(polygons)
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    extent = np.ptp(outline @ rotation.T, axis=0)
    # Largest palm size that keeps the whole hand inside, then a random fraction of it.
    fit_scale = np.min((np.asarray(shape) - 2 * margin - 2) / extent)
    scale = fit_scale * rng.uniform(0.6, 0.95)
    placed = (outline @ rotation.T) * scale
    low = margin - placed.min(axis=0)
    high = np.asarray(shape) - 1 - margin - placed.max(axis=0)
    offset = rng.uniform(low, high)

    def place(points: np.ndarray) -> np.ndarray:
        return (points @ rotation.T) * scale + offset

    mask = np.zeros(shape, dtype=bool)
    for part in polygons:
        rows, cols = fill_polygon(*place(part).T, shape=shape)
        mask[rows, cols] = True
    return _shade(rng, mask, noise, scale), place(keypoints)


def _posed_template(rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Return the hand's polygons and (L, 2) keypoints in palm units, fingers jittered."""
    polygons = [_PALM]
    tips = []
    for base, length, direction, width in _FINGERS:
        angle = np.deg2rad(direction + rng.normal(0.0, 7.0))
        length = length * rng.uniform(0.9, 1.1)
        axis = np.array([-np.cos(angle), np.sin(angle)])
        polygons.append(_finger(np.asarray(base), axis, length, width))
        tips.append(np.asarray(base) + axis * length)
    thumb_base = np.asarray(_FINGERS[0][0])
    keypoints = np.stack([_WRIST, thumb_base, *tips])
    return polygons, keypoints


def _finger(base: np.ndarray, axis: np.ndarray, length: float, width: float) -> np.ndarray:
    """Return a finger polygon: a bar from ``base`` along ``axis`` with a round cap at the tip."""
    normal = np.array([axis[1], -axis[0]])
    half = width / 2.0
    cap_centre = base + axis * (length - half)
    arc = np.linspace(0.0, np.pi, 9)
    cap = cap_centre + half * (np.cos(arc)[:, None] * normal + np.sin(arc)[:, None] * axis)
    return np.concatenate([[base + half * normal], cap, [base - half * normal]])


def _shade(rng: np.random.Generator, mask: np.ndarray, noise: float, scale: float) -> np.ndarray:
    """Return a grey image of ``mask``: random levels, background gradient, blur and noise."""
    height, width = mask.shape
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    background = rng.uniform(0.05, 0.35) + rng.uniform(-0.1, 0.1) * (rows + cols)
    foreground = rng.uniform(0.55, 0.95)
    image = np.where(mask, foreground, background)
    # A darker "bone" core makes the interior less flat, as in a radiograph.
    core = ndimage.binary_erosion(mask, iterations=max(1, int(0.1 * scale)))
    image = image - 0.15 * ndimage.gaussian_filter(core.astype(float), 0.08 * scale)
    image = ndimage.gaussian_filter(image, rng.uniform(0.6, 1.4))
    image = image + rng.normal(0.0, noise * rng.uniform(0.5, 1.5), size=image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)
