"""One entry point over the renderers, and the backend/device choice shared with the fit."""

from __future__ import annotations

import numpy as np
import torch

from .._validation import as_points, as_shape
from ..devices import resolve_device
from ..errors import GSTError
from .geometry import bucket_radii, conics_from, window_radii
from .render_gsplat import gsplat_available, render_gsplat
from .render_torch import WindowLayout, build_layout, render_windowed

BACKENDS = ("auto", "torch", "gsplat")
#: Spare window radius left when a layout is (re)built during a fit.
LAYOUT_MARGIN = 1.15


def resolve_backend(backend: str, device: torch.device) -> str:
    """Return "torch" or "gsplat": "auto" picks gsplat only on CUDA with gsplat importable."""
    if backend not in BACKENDS:
        raise GSTError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "gsplat" if device.type == "cuda" and gsplat_available() else "torch"
    if backend == "gsplat" and device.type != "cuda":
        raise GSTError(
            "backend 'gsplat' needs a CUDA GPU (gsplat has no CPU kernels); "
            f"device is {device.type!r}: use backend='torch' or 'auto'"
        )
    return backend


class Renderer:
    """Renders Gaussians with fixed means on one canvas, reusing window layouts between calls.

    Parameters
    ----------
    points : (N, 2) float64 tensor of means (row, col), on the device to render on.
    shape : (H, W) of the canvas.
    backend : "torch" or "gsplat" (already resolved).
    """

    def __init__(self, points: torch.Tensor, shape: tuple[int, int], backend: str) -> None:
        self.points = points
        self.shape = shape
        self.backend = backend
        self._layout: WindowLayout | None = None

    def __call__(
        self, sigmas: torch.Tensor, angles: torch.Tensor, colours: torch.Tensor
    ) -> torch.Tensor:
        """Return the (H, W, C) render, differentiable in sigmas, angles and colours."""
        conics = conics_from(sigmas, angles)
        if self.backend == "gsplat":
            return render_gsplat(self.points, conics, sigmas, colours, self.shape)
        return render_windowed(conics, colours, self._layout_for(sigmas, angles))

    def _layout_for(self, sigmas: torch.Tensor, angles: torch.Tensor) -> WindowLayout:
        """Return a layout whose windows hold every ellipse, rebuilt only when one outgrows it.

        A rebuild leaves LAYOUT_MARGIN of room, so a fit whose scales creep up rebuilds
        rarely (a rebuild costs about as much as a render).
        """
        needed = window_radii(sigmas, angles)
        if self._layout is None or bool(torch.any(needed > self._layout.radii)):
            room = torch.ceil(needed.double() * LAYOUT_MARGIN).to(torch.int64)
            self._layout = build_layout(self.points, bucket_radii(room), self.shape)
        return self._layout


def render(
    points: object,
    sigmas: object,
    angles: object,
    colours: object,
    shape: object,
    *,
    backend: str = "auto",
    device: str | torch.device = "auto",
) -> np.ndarray | torch.Tensor:
    """Return the (H, W, C) accumulated-sum render of 2D Gaussians (cut off at 3 sigma).

    Parameters
    ----------
    points : (N, 2) means as (row, col) in pixels, inside the image.
    sigmas : (N, 2) scales (pixels, > 0); angles : (N,) radians (``GaussianFit`` convention).
    colours : (N, C) colours.
    shape : (H, W) of the image.
    backend : "auto" (gsplat on CUDA when installed, else torch), "torch" or "gsplat".
    device : "auto", "cpu" or "cuda".

    Returns
    -------
    A torch tensor when ``sigmas``, ``angles`` or ``colours`` is one (differentiable, on
    their device), else a float32 numpy array.

    Examples
    --------
    >>> image = render([[10, 12]], [[3.0, 1.5]], [0.3], [[1.0]], (24, 24), backend="torch")
    >>> image.shape, round(float(image[10, 12, 0]), 3)
    ((24, 24, 1), 1.0)
    """
    height, width = as_shape(shape)
    want_tensor = any(isinstance(value, torch.Tensor) for value in (sigmas, angles, colours))
    torch_device = resolve_device(device)
    chosen = resolve_backend(backend, torch_device)
    point_array = as_points(points, (height, width))
    count = len(point_array)
    sigma_t = _as_tensor(sigmas, (count, 2), "sigmas", torch_device)
    angle_t = _as_tensor(angles, (count,), "angles", torch_device)
    colour_t = _as_tensor(colours, (count, -1), "colours", torch_device)
    if count and not bool(torch.all(sigma_t > 0)):
        raise GSTError("sigmas must be positive")
    point_t = torch.as_tensor(point_array, dtype=torch.float64, device=torch_device)
    image = Renderer(point_t, (height, width), chosen)(sigma_t, angle_t, colour_t)
    return image if want_tensor else image.detach().cpu().numpy()


def _as_tensor(value: object, shape: tuple[int, ...], name: str, device) -> torch.Tensor:
    """Return ``value`` as a float32 tensor of ``shape`` (-1: any size) or raise GSTError."""
    tensor = torch.as_tensor(value if value is not None else [], device=device)
    if tensor.numel() == 0 and shape[0] == 0:
        sizes = [
            tensor.shape[i] if d == -1 and tensor.ndim == len(shape) else max(d, 1)
            for i, d in enumerate(shape[1:], start=1)
        ]
        return torch.zeros(0, *sizes, device=device)
    tensor = tensor.to(torch.float32)
    if tensor.ndim == 1 and len(shape) == 2 and shape[1] == -1:
        tensor = tensor[:, None]  # one channel given as a flat vector
    fits = tensor.ndim == len(shape) and all(
        want in (-1, got) for want, got in zip(shape, tensor.shape, strict=True)
    )
    if not fits:
        raise GSTError(
            f"{name} must have shape {shape} (one row per point), got {tuple(tensor.shape)}"
        )
    if not bool(torch.all(torch.isfinite(tensor))):
        raise GSTError(f"{name} contains NaN or infinite values")
    return tensor
