"""Landmark metrics: radial errors, mean radial error (MRE), success detection rates (SDR)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GSTError

# The ISBI 2015 challenge radii, in millimetres.
DEFAULT_RADII_MM = (2.0, 2.5, 3.0, 4.0)


def radial_errors(
    predicted: object, true: object, *, pixel_size: float | None = None
) -> np.ndarray:
    """Return the Euclidean distance of each predicted landmark to its true position.

    Parameters
    ----------
    predicted, true : (..., L, 2) arrays
        (row, col) positions in pixels, e.g. (images, landmarks, 2). NaN marks a missing
        landmark; a missing true landmark gives a NaN error (ignored by the summaries).
    pixel_size : float, optional
        Size of a pixel (e.g. mm); errors are multiplied by it. Default: errors in pixels.

    Returns
    -------
    (..., L) float64 array. A landmark that is present in ``true`` but missing from
    ``predicted`` counts as an infinite error (a miss), never as silently skipped.

    Examples
    --------
    >>> radial_errors([[0.0, 3.0]], [[4.0, 0.0]], pixel_size=0.1)
    array([0.5])
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if predicted.shape != true.shape or true.ndim < 2 or true.shape[-1] != 2:
        raise GSTError(
            f"predicted and true must both be (..., L, 2) arrays of the same shape, "
            f"got {predicted.shape} and {true.shape}"
        )
    scale = _pixel_size(pixel_size)
    errors = np.linalg.norm(predicted - true, axis=-1) * scale
    true_missing = ~np.all(np.isfinite(true), axis=-1)
    predicted_missing = ~np.all(np.isfinite(predicted), axis=-1)
    errors[predicted_missing] = np.inf
    errors[true_missing] = np.nan
    return errors


def mean_radial_error(errors: object) -> float:
    """Return the mean radial error over landmarks present in both prediction and truth.

    NaN errors (no true position) are ignored; infinite ones (no prediction) are left out of
    the mean, which would otherwise be infinite, and count as failures in
    :func:`success_detection_rates` instead. NaN when nothing was predicted at all.
    """
    values = _present(errors)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if finite.size else float("nan")


def success_detection_rates(errors: object, radii: Sequence[float]) -> dict[float, float]:
    """Return, for each radius, the fraction of present landmarks with error <= radius.

    Examples
    --------
    >>> success_detection_rates([0.5, 1.5, np.nan, 3.0], radii=[1.0, 2.0])
    {1.0: 0.3333333333333333, 2.0: 0.6666666666666666}
    """
    values = _present(errors)
    radii = [float(radius) for radius in radii]
    if not radii or any(not np.isfinite(r) or r < 0 for r in radii):
        raise GSTError(f"radii must be non-negative numbers, got {radii}")
    return {radius: float(np.mean(values <= radius)) for radius in radii}


@dataclass(frozen=True)
class LandmarkScores:
    """Summary of a landmark evaluation.

    Attributes
    ----------
    mre : mean radial error over present landmarks (unit: ``unit``).
    sd : standard deviation of the radial errors (finite ones).
    sdr : success detection rate per radius (same unit).
    per_landmark_mre : (L,) mean radial error per landmark (NaN where never present).
    unit : "px" or "mm" (or whatever ``pixel_size`` measures).
    n_evaluated : number of (image, landmark) pairs with a true position.
    n_missed : how many of those had no prediction (left out of the MRE, failures in the SDR).
    """

    mre: float
    sd: float
    sdr: dict[float, float]
    per_landmark_mre: np.ndarray
    unit: str
    n_evaluated: int
    n_missed: int

    def to_dict(self) -> dict:
        """Return a JSON-able dict of the scores."""
        return {
            "mre": self.mre,
            "sd": self.sd,
            "sdr": {str(radius): rate for radius, rate in self.sdr.items()},
            "per_landmark_mre": [float(v) for v in self.per_landmark_mre],
            "unit": self.unit,
            "n_evaluated": self.n_evaluated,
            "n_missed": self.n_missed,
        }


def score_landmarks(
    predicted: object,
    true: object,
    *,
    pixel_size: float | None = None,
    radii: Sequence[float] | None = None,
    unit: str | None = None,
) -> LandmarkScores:
    """Return MRE, its SD, success detection rates and per-landmark MRE for (images, L, 2) arrays.

    ``radii`` default to 2, 2.5, 3, 4 (mm) with a ``pixel_size``, else 2, 4, 8 pixels.
    """
    errors = radial_errors(predicted, true, pixel_size=pixel_size)
    errors = errors.reshape(-1, errors.shape[-1])
    if radii is None:
        radii = DEFAULT_RADII_MM if pixel_size is not None else (2.0, 4.0, 8.0)
    finite = errors[np.isfinite(errors)]
    with np.errstate(invalid="ignore"):
        per_landmark = np.array(
            [np.mean(column[np.isfinite(column)]) if np.any(np.isfinite(column)) else np.nan
             for column in errors.T]
        )  # fmt: skip
    return LandmarkScores(
        mre=mean_radial_error(errors),
        sd=float(np.std(finite)) if finite.size else float("nan"),
        sdr=success_detection_rates(errors, radii),
        per_landmark_mre=per_landmark,
        unit=unit or ("mm" if pixel_size is not None else "px"),
        n_evaluated=int(np.sum(~np.isnan(errors))),
        n_missed=int(np.sum(np.isinf(errors))),
    )


def _present(errors: object) -> np.ndarray:
    """Return the non-NaN errors as a flat array, or raise when there are none."""
    values = np.asarray(errors, dtype=np.float64).reshape(-1)
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise GSTError("errors holds no present landmark (all NaN): nothing to evaluate")
    if np.any(values < 0):
        raise GSTError("errors must be non-negative distances")
    return values


def _pixel_size(pixel_size: float | None) -> float:
    """Return the pixel size as a positive float (1 when not given)."""
    if pixel_size is None:
        return 1.0
    try:
        value = float(pixel_size)
    except (TypeError, ValueError) as error:
        raise GSTError(f"pixel_size must be a positive number, got {pixel_size!r}") from error
    if not np.isfinite(value) or value <= 0:
        raise GSTError(f"pixel_size must be a positive number, got {pixel_size!r}")
    return value
