"""Image normalisation for the network: a small JSON-able recipe stored with the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import GSTError

METHODS = ("percentile", "dtype")
# Above this many pixels the percentiles are taken on a regular subsample: the result
# barely moves and a 4k x 4k image normalises in milliseconds instead of a second.
_MAX_PERCENTILE_PIXELS = 1 << 20


@dataclass(frozen=True)
class Normalisation:
    """How images are scaled before they reach the network (and the Gaussian fit).

    ``method="percentile"`` (default) maps, per image, the ``low``-th percentile to 0 and
    the ``high``-th to 1 (values beyond are kept unless ``clip``). It depends only on the
    image content, not on its dtype, so an 8-bit, a 16-bit and a float copy of the same
    picture give the same network input; it also absorbs the exposure and offset
    differences between acquisitions. By default one pair of percentiles is taken over all
    channels together: per-channel stretching (``per_channel=True``) would blow up nearly
    empty channels, e.g. the red and green channels of the VGG cells images hold only
    sensor noise (0..9 of 255) and would be stretched to the same range as the blue cells.
    ``method="dtype"``
    divides integer images by their dtype's maximum and leaves floats as they are, for
    data whose absolute brightness matters.

    Parameters
    ----------
    method : {"percentile", "dtype"}
    low, high : percentiles (0..100, low < high) for ``"percentile"``.
    clip : clip the result to [0, 1].
    per_channel : take the percentiles of each channel separately.

    Examples
    --------
    >>> norm = Normalisation()
    >>> norm.apply(np.arange(100, dtype=np.uint8).reshape(10, 10)).shape
    (10, 10, 1)
    >>> Normalisation.from_dict(norm.to_dict()) == norm
    True
    """

    method: str = "percentile"
    low: float = 1.0
    high: float = 99.8
    clip: bool = False
    per_channel: bool = False

    def __post_init__(self) -> None:
        """Check the settings, naming the bad one."""
        if self.method not in METHODS:
            raise GSTError(f"normalisation method must be one of {METHODS}, got {self.method!r}")
        if not (0.0 <= float(self.low) < float(self.high) <= 100.0):
            raise GSTError(
                f"normalisation percentiles need 0 <= low < high <= 100, got low={self.low}, "
                f"high={self.high}"
            )

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Return ``image`` normalised as a float32 (H, W, C) array."""
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or not np.issubdtype(array.dtype, np.number):
            raise GSTError(
                f"image must be a numeric (H, W) or (H, W, C) array, got shape {np.shape(image)}"
                f" and dtype {array.dtype}"
            )
        if self.method == "dtype":
            result = _scale_by_dtype(array)
        else:
            result = _scale_by_percentiles(
                array, float(self.low), float(self.high), self.per_channel
            )
        if self.clip:
            np.clip(result, 0.0, 1.0, out=result)
        return result

    def to_dict(self) -> dict:
        """Return the settings as a JSON-able dict (``from_dict`` rebuilds it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, spec: dict) -> Normalisation:
        """Return the normalisation described by ``spec`` (from :meth:`to_dict`)."""
        if not isinstance(spec, dict):
            raise GSTError(f"normalisation spec must be a dict, got {type(spec).__name__}")
        unknown = set(spec) - {"method", "low", "high", "clip", "per_channel"}
        if unknown:
            raise GSTError(f"normalisation spec has unknown keys {sorted(unknown)}")
        return cls(**spec)


def _scale_by_dtype(array: np.ndarray) -> np.ndarray:
    """Return integers divided by their dtype's maximum, floats unchanged (as float32)."""
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    return array.astype(np.float32, copy=True)


def _scale_by_percentiles(
    array: np.ndarray, low: float, high: float, per_channel: bool
) -> np.ndarray:
    """Return the image mapped so that its ``low``/``high`` percentiles become 0/1."""
    result = array.astype(np.float32, copy=True)
    height, width, channels = array.shape
    step = max(1, int(np.ceil(np.sqrt(height * width / _MAX_PERCENTILE_PIXELS))))
    sample = result[::step, ::step].reshape(-1, channels)
    if not np.all(np.isfinite(sample)):
        raise GSTError("image contains NaN or infinite values")
    if not per_channel:
        sample = sample.reshape(-1, 1)
    lows, highs = np.percentile(sample, [low, high], axis=0).astype(np.float32)
    lows, highs = np.broadcast_to(lows, (channels,)), np.broadcast_to(highs, (channels,))
    for channel in range(result.shape[2]):
        span = highs[channel] - lows[channel]
        # A flat channel carries no signal: map it to 0 rather than amplify rounding noise.
        if span <= 1e-6 * max(abs(float(highs[channel])), 1e-12):
            result[..., channel] = 0.0
        else:
            result[..., channel] = (result[..., channel] - lows[channel]) / span
    return result
