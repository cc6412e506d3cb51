"""GSTLoss: the Gaussian Spatial Transport loss L_BT = || K^T zeta_d - zeta_g ||_1."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import GSTError
from ._common import channel_targets, check_density, check_grid


class _Transport(torch.autograd.Function):
    """y = K^T x with the backward K g: one sparse mat-vec each way, both matrices prebuilt.

    Torch can differentiate ``K^T @ x`` itself, but then it transposes K on every backward;
    keeping K and K^T ready makes both passes one streaming mat-vec.
    """

    @staticmethod
    def forward(ctx, density: torch.Tensor, kernel: object):
        ctx.kernel = kernel
        return _multiply(kernel, density, transpose=True)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _multiply(ctx.kernel, grad, transpose=False), None


def _multiply(
    kernel: object, vector: torch.Tensor, *, transpose: bool, use_scipy: bool | None = None
) -> torch.Tensor:
    """Return K^T v (``transpose``) or K v for a flat tensor, on the tensor's device.

    On the CPU scipy's single-threaded CSR product is used: torch's multi-threaded one waits
    tens of milliseconds for a busy core when other jobs load the machine (measured under load:
    20-40 ms per call with 2 threads against 0.2 ms with scipy), for no gain on a 0.1 ms task.
    """
    if use_scipy is None:
        use_scipy = vector.device.type == "cpu"
    if use_scipy:
        matrix = kernel.scipy_matrix(transpose=transpose)  # type: ignore[attr-defined]
        values = vector.detach().contiguous().numpy()
        return torch.from_numpy(np.asarray(matrix @ values, dtype=values.dtype))
    sparse = kernel.to_torch(vector.device, vector.dtype, transpose=transpose)  # type: ignore[attr-defined]
    return torch.mv(sparse, vector.contiguous())


def transport(density: torch.Tensor, kernel: object) -> torch.Tensor:
    """Return K^T zeta: the mass each annotation (then the background) receives from a map.

    ``density`` is one flattened (P,) density map; ``kernel`` a TransportKernel.
    """
    return _Transport.apply(density, kernel)


def transport_l1(density: torch.Tensor, kernel: object, smooth: float = 0.0) -> torch.Tensor:
    """Return || K^T zeta - zeta_g ||_1 for one flattened (P,) density map and its kernel.

    ``smooth`` > 0 rounds the L1's corner: errors below it cost ``e^2 / (2 smooth)`` instead
    of ``|e|`` (torch's smooth L1), so the gradient shrinks near the target instead of
    keeping its full size.
    """
    received = transport(density, kernel)
    target = torch.as_tensor(kernel.target(), dtype=density.dtype, device=density.device)  # type: ignore[attr-defined]
    if smooth > 0:
        return nn.functional.smooth_l1_loss(received, target, reduction="sum", beta=smooth)
    return (received - target).abs().sum()


class GSTLoss(nn.Module):
    """Gaussian Spatial Transport loss (Shang & Hong, AAAI 2026, arXiv:2511.14477).

    Per image, ``L_BT = || K^T zeta_d - zeta_g ||_1``: the density ``zeta_d`` of every cell is
    sent to the annotations and the background through the kernel K (Bayesian posterior of
    the fitted Gaussians, :func:`napari_gst.transport.build_kernel`) and compared with one
    unit (or its crop fraction) per annotation and 0 for the background. An image without
    annotations sends all its mass to the background: ``L = sum(zeta_d)``. One sparse
    mat-vec forward and one backward; the cost grows with K's non-zeros, not with N x P.

    Call as ``loss(density, targets)``: ``density`` (B, C, h, w), ``targets`` B
    TransportKernels (for C > 1: B sequences of C kernels, one per channel, whose losses are
    summed). Returns the sum over the batch divided by B (the authors' code overwrote the
    per-image loss instead of summing; fixed here).

    ``smooth`` (default 0, the paper's exact L1): > 0 replaces each |e| by a smooth L1 that
    is quadratic below ``smooth`` (see :func:`transport_l1`).

    ``count_weight`` (default 0, the paper's loss): > 0 adds
    ``count_weight * |sum(zeta_d) - sum(zeta_g)|`` per image, the error of the map's total
    against the annotations' (crop) mass. The per-point L1 tells the network little about a
    gain shared by every cell (its gradient is the count of over- minus under-filled points,
    mostly localisation noise); this term pushes every cell by the sign of the total error.
    On VGG cells it did not settle the count swings it was made for (docs/benchmarks.md,
    fourth investigation), so it stays off.

    Examples
    --------
    >>> loss = GSTLoss()
    >>> value = loss(model(images), [kernel_a, kernel_b])  # doctest: +SKIP
    """

    needs_kernel = True

    def __init__(self, smooth: float = 0.0, count_weight: float = 0.0) -> None:
        super().__init__()
        self.smooth = _non_negative("smooth", smooth, "0: exact L1")
        self.count_weight = _non_negative("count_weight", count_weight, "0: no count term")

    def forward(self, density: torch.Tensor, targets) -> torch.Tensor:
        """Return the batch-mean GST loss of ``density`` against ``targets``."""
        targets = check_density(density, targets)
        total = density.new_zeros(())
        for index, target in enumerate(targets):
            for channel, kernel in enumerate(channel_targets(target, density.shape[1], index)):
                if not hasattr(kernel, "scipy_matrix"):
                    raise GSTError(
                        f"GSTLoss needs TransportKernel targets (napari_gst.transport."
                        f"build_kernel); target {index} is a {type(kernel).__name__}"
                    )
                check_grid(kernel, density[index, channel], index)
                flat = density[index, channel].reshape(-1)
                total = total + transport_l1(flat, kernel, self.smooth)
                if self.count_weight > 0:
                    mass = float(np.sum(kernel.mass))
                    total = total + self.count_weight * (flat.sum() - mass).abs()
        return total / density.shape[0]


def _non_negative(name: str, value: object, meaning: str) -> float:
    """Return ``value`` as a float, or raise a GSTError unless it is a finite number >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value < float("inf")
    ):
        raise GSTError(f"{name} must be a number >= 0 ({meaning}), got {value!r}")
    return float(value)
