"""GSTLoss: the Gaussian Spatial Transport loss L_BT = || K^T zeta_d - zeta_g ||_1."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GSTError
from ._common import channel_targets, check_density, check_grid


class _Transport(torch.autograd.Function):
    """y = K^T x with the backward K g: two sparse CSR mat-vecs, both matrices prebuilt.

    Torch can differentiate ``K^T @ x`` itself, but then it transposes K on every backward;
    keeping K and K^T as cached CSR tensors makes both passes one streaming mat-vec.
    """

    @staticmethod
    def forward(ctx, density: torch.Tensor, kernel_t: torch.Tensor, kernel: torch.Tensor):
        ctx.kernel = kernel
        return torch.mv(kernel_t, density)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return torch.mv(ctx.kernel, grad.contiguous()), None, None


def transport(density: torch.Tensor, kernel: object) -> torch.Tensor:
    """Return K^T zeta: the mass each annotation (then the background) receives from a map.

    ``density`` is one flattened (P,) density map; ``kernel`` a TransportKernel.
    """
    kernel_t = kernel.to_torch(density.device, density.dtype, transpose=True)  # type: ignore[attr-defined]
    matrix = kernel.to_torch(density.device, density.dtype)  # type: ignore[attr-defined]
    return _Transport.apply(density, kernel_t, matrix)


def transport_l1(density: torch.Tensor, kernel: object) -> torch.Tensor:
    """Return || K^T zeta - zeta_g ||_1 for one flattened (P,) density map and its kernel."""
    received = transport(density, kernel)
    target = torch.as_tensor(kernel.target(), dtype=density.dtype, device=density.device)  # type: ignore[attr-defined]
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

    Examples
    --------
    >>> loss = GSTLoss()
    >>> value = loss(model(images), [kernel_a, kernel_b])  # doctest: +SKIP
    """

    needs_kernel = True

    def forward(self, density: torch.Tensor, targets) -> torch.Tensor:
        """Return the batch-mean GST loss of ``density`` against ``targets``."""
        targets = check_density(density, targets)
        total = density.new_zeros(())
        for index, target in enumerate(targets):
            for channel, kernel in enumerate(channel_targets(target, density.shape[1], index)):
                if not hasattr(kernel, "to_torch"):
                    raise GSTError(
                        f"GSTLoss needs TransportKernel targets (napari_gst.transport."
                        f"build_kernel); target {index} is a {type(kernel).__name__}"
                    )
                check_grid(kernel, density[index, channel], index)
                total = total + transport_l1(density[index, channel].reshape(-1), kernel)
        return total / density.shape[0]
