"""Pure-PyTorch renderers: a fast windowed splatter (CPU and CUDA) and a dense reference.

Both draw the accumulated sum ``sum_i colour_i * exp(-m_i^2 / 2)`` with each Gaussian cut
off where its Mahalanobis distance ``m_i`` exceeds 3 (see ``geometry.CUTOFF_SIGMAS``).

The windowed renderer follows the measured recipe in ``cpu-splatting.md``: every Gaussian is
evaluated only inside a square window around its rounded mean; windows are bucketed by
radius so that each bucket is one batched tensor; the canvas is zero-padded by the largest
radius so windows never need clipping; the exponent is split into a row part, a column part
and one cross term; contributions are scattered with a flat ``index_add_``. The backward
pass is written by hand (:class:`_WindowedSplat`): it gathers the gradient windows and gets
every conic gradient from one matrix product with the fixed moments [1, y, x, y^2, yx, x^2].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .geometry import CUTOFF_EXPONENT, CUTOFF_SIGMAS, bucket_radii, merge_buckets


@dataclass(frozen=True)
class _Bucket:
    """The Gaussians whose windows share one radius, with their scatter indices."""

    members: torch.Tensor  # (n,) int64 Gaussian ids
    radius: int
    flat_index: torch.Tensor  # (n * win * win,) int64 positions in the padded flat canvas
    fraction: torch.Tensor  # (n, 2) mean minus its rounded pixel, in (row, col)
    moments: torch.Tensor  # (win * win, 6) [1, y, x, y^2, y x, x^2] of the window offsets


@dataclass(frozen=True)
class WindowLayout:
    """Where each Gaussian's window lies on the padded canvas (depends on means and radii)."""

    shape: tuple[int, int]
    padding: int
    buckets: tuple[_Bucket, ...]
    radii: torch.Tensor  # (N,) int64 window radius each Gaussian actually gets

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Return the (rows, cols) of the zero-padded canvas."""
        return self.shape[0] + 2 * self.padding, self.shape[1] + 2 * self.padding


def build_layout(points: torch.Tensor, radii: torch.Tensor, shape: tuple[int, int]) -> WindowLayout:
    """Return the :class:`WindowLayout` for fixed ``points`` (N, 2) and window ``radii`` (N,).

    Radii are rounded up to buckets (``geometry.bucket_radii``, then ``merge_buckets``); a
    layout can be reused for as long as no Gaussian needs more than ``layout.radii``.
    """
    device = points.device
    bucketed = merge_buckets(bucket_radii(radii))
    # A mean on the far half-pixel border rounds to the pixel just past the image: one more.
    padding = int(bucketed.max()) + 1 if len(bucketed) else 0
    centres = torch.floor(points + 0.5)
    fraction = (points - centres).to(torch.float32)
    centres = centres.to(torch.int64) + padding
    padded_cols = shape[1] + 2 * padding
    buckets = []
    for radius in torch.unique(bucketed).tolist():
        members = torch.nonzero(bucketed == radius).flatten()
        offsets = torch.arange(-radius, radius + 1, device=device)
        grid_rows, grid_cols = torch.meshgrid(offsets, offsets, indexing="ij")
        window_flat = (grid_rows * padded_cols + grid_cols).flatten()
        base = centres[members, 0] * padded_cols + centres[members, 1]
        rows_f, cols_f = grid_rows.flatten().float(), grid_cols.flatten().float()
        moments = torch.stack(
            [torch.ones_like(rows_f), rows_f, cols_f, rows_f**2, rows_f * cols_f, cols_f**2], -1
        )
        buckets.append(
            _Bucket(
                members=members,
                radius=int(radius),
                flat_index=(base[:, None] + window_flat[None, :]).flatten(),
                fraction=fraction[members],
                moments=moments,
            )
        )
    return WindowLayout(shape=tuple(shape), padding=padding, buckets=tuple(buckets), radii=bucketed)


def _window_weights(bucket: _Bucket, conics: torch.Tensor) -> torch.Tensor:
    """Return the (n, win, win) cut-off Gaussian weights of one bucket (differentiable)."""
    offsets = torch.arange(-bucket.radius, bucket.radius + 1, device=conics.device).float()
    rows = offsets[None, :] - bucket.fraction[:, 0:1]  # (n, win)
    cols = offsets[None, :] - bucket.fraction[:, 1:2]
    a, b, c = conics[:, 0:1], conics[:, 1:2], conics[:, 2:3]
    # Separable exponent: only the cross term and the exp touch the full window.
    row_part = -0.5 * a * rows * rows
    col_part = -0.5 * c * cols * cols
    exponent = (row_part[:, :, None] + col_part[:, None, :]).addcmul(
        (-b * rows)[:, :, None], cols[:, None, :]
    )
    weights = torch.exp(exponent)
    return torch.where(exponent >= CUTOFF_EXPONENT, weights, torch.zeros_like(weights))


def _crop(canvas_flat: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
    """Return the (H, W, C) image inside the padded flat canvas."""
    rows, cols = layout.padded_shape
    pad = layout.padding
    canvas = canvas_flat.view(rows, cols, -1)
    return canvas[pad : pad + layout.shape[0], pad : pad + layout.shape[1]].contiguous()


def _splat_autograd(conics, colours, layout: WindowLayout) -> torch.Tensor:
    """Render with plain autograd ops (the reference for the hand-written backward)."""
    rows, cols = layout.padded_shape
    canvas = colours.new_zeros(rows * cols, colours.shape[1])
    for bucket in layout.buckets:
        weights = _window_weights(bucket, conics[bucket.members])
        contribution = weights[..., None] * colours[bucket.members][:, None, None, :]
        canvas = canvas.index_add(0, bucket.flat_index, contribution.reshape(-1, colours.shape[1]))
    return _crop(canvas, layout)


class _WindowedSplat(torch.autograd.Function):
    """Windowed splatting with a hand-written backward (see module docstring)."""

    @staticmethod
    def forward(ctx, conics, colours, layout):  # noqa: D102 - torch.autograd API
        rows, cols = layout.padded_shape
        canvas = colours.new_zeros(rows * cols, colours.shape[1])
        saved = []
        for bucket in layout.buckets:
            weights = _window_weights(bucket, conics[bucket.members])
            contribution = weights[..., None] * colours[bucket.members][:, None, None, :]
            canvas.index_add_(0, bucket.flat_index, contribution.reshape(-1, colours.shape[1]))
            saved.append(weights.reshape(len(bucket.members), -1))
        ctx.layout = layout
        ctx.weights = saved
        ctx.save_for_backward(conics, colours)
        return _crop(canvas, layout)

    @staticmethod
    def backward(ctx, grad_image):  # noqa: D102 - torch.autograd API
        conics, colours = ctx.saved_tensors
        layout: WindowLayout = ctx.layout
        rows, cols = layout.padded_shape
        pad, channels = layout.padding, colours.shape[1]
        grad_canvas = grad_image.new_zeros(rows, cols, channels)
        grad_canvas[pad : pad + layout.shape[0], pad : pad + layout.shape[1]] = grad_image
        grad_flat = grad_canvas.view(-1, channels)
        grad_conics = torch.zeros_like(conics)
        grad_colours = torch.zeros_like(colours)
        for bucket, weights in zip(layout.buckets, ctx.weights, strict=True):
            count = len(bucket.members)
            grad_windows = grad_flat.index_select(0, bucket.flat_index).view(count, -1, channels)
            grad_colours[bucket.members] = torch.bmm(weights[:, None, :], grad_windows)[:, 0]
            # dL/d exponent = (grad . colour) * weight; the exponent is linear in (a, b, c).
            grad_exponent = torch.bmm(grad_windows, colours[bucket.members][:, :, None])[..., 0]
            grad_exponent.mul_(weights)
            grad_conics[bucket.members] = _conic_gradient(grad_exponent @ bucket.moments, bucket)
        ctx.weights = None
        return grad_conics, grad_colours, None


def _conic_gradient(moments: torch.Tensor, bucket: _Bucket) -> torch.Tensor:
    """Return dL/d(a, b, c) from the window moments of dL/d exponent (shifted by the fraction).

    With u = y - fy and v = x - fx: exponent = -a u^2 / 2 - b u v - c v^2 / 2.
    """
    m0, my, mx, myy, myx, mxx = moments.unbind(-1)
    fy, fx = bucket.fraction[:, 0], bucket.fraction[:, 1]
    s_uu = myy - 2 * fy * my + fy * fy * m0
    s_vv = mxx - 2 * fx * mx + fx * fx * m0
    s_uv = myx - fy * mx - fx * my + fy * fx * m0
    return torch.stack([-0.5 * s_uu, -s_uv, -0.5 * s_vv], dim=-1)


def render_windowed(
    conics: torch.Tensor,
    colours: torch.Tensor,
    layout: WindowLayout,
    *,
    hand_backward: bool = True,
) -> torch.Tensor:
    """Return the (H, W, C) accumulated-sum render of Gaussians laid out by ``layout``.

    Parameters
    ----------
    conics : (N, 3) float32 tensor of inverse covariances (a, b, c), see ``geometry``.
    colours : (N, C) float32 tensor.
    layout : from :func:`build_layout` for the same Gaussians (means and window radii).
    hand_backward : use the hand-written backward (faster) instead of autograd.
    """
    if len(colours) == 0:
        return colours.new_zeros(*layout.shape, colours.shape[1])
    if hand_backward:
        return _WindowedSplat.apply(conics, colours, layout)
    return _splat_autograd(conics, colours, layout)


def render_dense(
    points: torch.Tensor, conics: torch.Tensor, colours: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """Return the (H, W, C) render evaluated at every pixel for every Gaussian (reference).

    Slow (N x H x W work); used to test the windowed renderer, never in the fit.
    """
    rows = torch.arange(shape[0], dtype=torch.float64, device=points.device)
    cols = torch.arange(shape[1], dtype=torch.float64, device=points.device)
    image = colours.new_zeros(shape[0], shape[1], colours.shape[1])
    for index in range(len(points)):
        u = (rows - points[index, 0]).to(colours.dtype)[:, None]
        v = (cols - points[index, 1]).to(colours.dtype)[None, :]
        a, b, c = conics[index]
        squared = a * u * u + 2 * b * u * v + c * v * v
        weights = torch.exp(-0.5 * squared) * (squared <= CUTOFF_SIGMAS**2)
        image = image + weights[..., None] * colours[index]
    return image
