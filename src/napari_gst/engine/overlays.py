"""PNG overlays for the command line: fitted kernels on an image, and predictions on an image."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _figure(image: np.ndarray, title: str):
    """Return (figure, axes) showing ``image`` in grey (or colour) at one pixel per pixel."""
    import matplotlib

    matplotlib.use("Agg")  # file output only: never open a window (works without a display)
    from matplotlib import pyplot

    height, width = image.shape[:2]
    figure = pyplot.figure(figsize=(max(width, 256) / 100, max(height, 256) / 100 + 0.3), dpi=100)
    axes = figure.add_axes((0, 0, 1, height / (height + 30)))
    shown = np.asarray(image, dtype=np.float64)
    if shown.ndim == 3 and shown.shape[2] == 1:
        shown = shown[..., 0]
    low, high = np.percentile(shown, [1, 99.8])
    shown = np.clip((shown - low) / max(high - low, 1e-12), 0, 1)
    axes.imshow(shown, cmap="gray" if shown.ndim == 2 else None, interpolation="nearest")
    axes.set_axis_off()
    figure.suptitle(title, fontsize=8, y=0.995)
    return figure, axes


def _save(figure, path: str | Path) -> Path:
    """Write the figure as a PNG and free it; return the path."""
    from matplotlib import pyplot

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def kernel_overlay_png(image: np.ndarray, fit, path: str | Path) -> Path:
    """Write ``image`` with each fitted Gaussian drawn as its 2-sigma ellipse; return the path."""
    from matplotlib.patches import Ellipse

    figure, axes = _figure(image, f"{fit.n_points} Gaussians, PSNR {fit.psnr:.1f} dB")
    for (row, col), (major, minor), angle in zip(fit.points, fit.sigmas, fit.angles, strict=True):
        # sigmas[:, 0] lies along (cos t, sin t) in (row, col): in the (x=col, y=row) display
        # frame that direction is at atan2(cos t, sin t) from the x axis.
        degrees = np.degrees(np.arctan2(np.cos(angle), np.sin(angle)))
        axes.add_patch(
            Ellipse(
                (col, row), 4 * major, 4 * minor, angle=degrees, fill=False, color="cyan", lw=0.6
            )
        )
    return _save(figure, path)


def prediction_overlay_png(
    image: np.ndarray, prediction, path: str | Path, *, true_points: np.ndarray | None = None
) -> Path:
    """Write ``image`` with the predicted density (red) and detections (+); return the path."""
    title = f"predicted count {prediction.count:.1f}"
    if true_points is not None:
        title += f", annotated {len(true_points)}"
    figure, axes = _figure(image, title)
    height, width = image.shape[:2]
    stride = prediction.stride
    density = np.ma.masked_less_equal(prediction.density, 0.05 * prediction.density.max())
    extent = (-0.5, density.shape[1] * stride - 0.5, density.shape[0] * stride - 0.5, -0.5)
    axes.imshow(density, cmap="autumn", alpha=0.45, extent=extent, interpolation="bilinear")
    axes.set_xlim(-0.5, width - 0.5)
    axes.set_ylim(height - 0.5, -0.5)
    if true_points is not None and len(true_points):
        axes.plot(true_points[:, 1], true_points[:, 0], "o", ms=3, mfc="none", mec="lime", mew=0.6)
    if len(prediction.points):
        axes.plot(prediction.points[:, 1], prediction.points[:, 0], "+", ms=4, c="cyan", mew=0.8)
    return _save(figure, path)
