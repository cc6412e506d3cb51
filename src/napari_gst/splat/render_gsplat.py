"""The gsplat backend: gsplat's CUDA tile rasteriser fed with our image-plane Gaussians.

gsplat is an optional extra (``pip install napari-gst[gpu]``) and only works on CUDA tensors,
so everything here is import-guarded and :func:`gsplat_available` checks for a GPU first
(``cpu-splatting.md``: gsplat imports fine on a CPU machine and fails on first use).

Blending: gsplat alpha-composites front to back (``C = sum_i c_i a_i prod_{j<i} (1 - a_j)``
with ``a_i = min(0.999, exp(-m_i^2 / 2))`` and opacity 1) and has no order-free sum. We keep
its compositing and give every Gaussian the same depth, so ties are broken by index. Where
Gaussians do not overlap this equals our accumulated sum up to (a) the 0.999 alpha cap and
(b) gsplat's cut-off at alpha < 1/255 (m > 3.33) instead of our m > 3: per pixel at most
``0.0111 * |colour|`` apart (:data:`ISOLATED_TOLERANCE`). Where Gaussians overlap, compositing
gives less than the sum; that is the documented difference between the backends.
"""

from __future__ import annotations

import importlib
import math

import torch

from ..errors import GSTError
from .geometry import CUTOFF_SIGMAS

#: Largest per-pixel difference from the torch backend, relative to max |colour|, for
#: Gaussians that do not overlap: exp(-4.5) from the different cut-offs (+ 0.001 alpha cap).
ISOLATED_TOLERANCE = math.exp(-0.5 * CUTOFF_SIGMAS**2) + 1e-3
TILE_SIZE = 16


def gsplat_available() -> bool:
    """Return True when CUDA is usable and gsplat imports (the only case gsplat can render)."""
    if not torch.cuda.is_available():
        return False
    try:
        importlib.import_module("gsplat")
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return False
    return True


def _require_gsplat(device: torch.device):
    """Return the gsplat module, or raise GSTError saying why it cannot be used."""
    if device.type != "cuda" or not torch.cuda.is_available():
        raise GSTError(
            "backend 'gsplat' needs a CUDA GPU (gsplat has no CPU kernels); "
            "use backend='torch' or 'auto'"
        )
    try:
        return importlib.import_module("gsplat")
    except Exception as error:  # noqa: BLE001 - report any import failure as unavailable
        raise GSTError(
            f"backend 'gsplat' requested but gsplat cannot be imported ({error}); "
            "install it with `pip install napari-gst[gpu]` or use backend='torch'"
        ) from error


def _radii_are_pairs(gsplat) -> bool:
    """Return True when this gsplat takes (x, y) radii per Gaussian (version 1.5 and later)."""
    parts = str(getattr(gsplat, "__version__", "1.5")).split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (1, 5)
    except (IndexError, ValueError):
        return True


def gsplat_inputs(points: torch.Tensor, conics: torch.Tensor, sigmas: torch.Tensor):
    """Return (means2d, conics_xy, radii) in gsplat's (x, y) = (col, row) pixel convention.

    gsplat puts pixel (i, j)'s centre at (j + 0.5, i + 0.5); we put it at (i, j). Its conic is
    (xx, xy, yy) where ours is (rr, rc, cc). Radii bound the 3-sigma ellipse in x and y.
    """
    means2d = torch.stack([points[:, 1], points[:, 0]], dim=-1).float() + 0.5
    conics_xy = torch.stack([conics[:, 2], conics[:, 1], conics[:, 0]], dim=-1)
    radius = torch.ceil(CUTOFF_SIGMAS * sigmas.detach().amax(dim=-1) + 1.0)
    radii = torch.stack([radius, radius], dim=-1).to(torch.int32)
    return means2d, conics_xy, radii


def render_gsplat(
    points: torch.Tensor,
    conics: torch.Tensor,
    sigmas: torch.Tensor,
    colours: torch.Tensor,
    shape: tuple[int, int],
) -> torch.Tensor:
    """Return the (H, W, C) alpha-composited render by gsplat (CUDA only, differentiable)."""
    gsplat = _require_gsplat(colours.device)
    height, width = shape
    if len(colours) == 0:
        return colours.new_zeros(height, width, colours.shape[1])
    means2d, conics_xy, radii = gsplat_inputs(points.to(colours.device), conics, sigmas)
    count = len(colours)
    depths = torch.ones(1, count, device=colours.device)
    tiles_wide = math.ceil(width / TILE_SIZE)
    tiles_high = math.ceil(height / TILE_SIZE)
    if not _radii_are_pairs(gsplat):
        radii = radii[:, 0]  # gsplat < 1.5 takes one radius per Gaussian
    _, isect_ids, flatten_ids = gsplat.isect_tiles(
        means2d[None], radii[None], depths, TILE_SIZE, tiles_wide, tiles_high
    )
    offsets = gsplat.isect_offset_encode(isect_ids, 1, tiles_wide, tiles_high)
    image, _ = gsplat.rasterize_to_pixels(
        means2d[None],
        conics_xy[None].contiguous(),
        colours[None].contiguous(),
        torch.ones(1, count, device=colours.device),
        width,
        height,
        TILE_SIZE,
        offsets,
        flatten_ids,
    )
    return image[0]
