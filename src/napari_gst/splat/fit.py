"""fit_gaussians: one anisotropic 2D Gaussian per annotation point, fitted to the image.

See ``docs/parts/method-fit.md`` for the choices (parametrisation, region, start, stopping).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import as_image, as_points
from ..errors import Cancelled, GSTError
from .deformity import check_threshold, deformity_penalty, eliminate_deformity
from .fit_result import GaussianFit
from .initialise import MIN_SIGMA, fit_region, initial_sigmas, sample_colours
from .rendering import Renderer, resolve_backend, resolve_device
from .stopping import ConvergenceMonitor

#: Scale of a point with no neighbour (a lone landmark), in pixels.
DEFAULT_SIGMA = 8.0
#: Most iterations when ``iterations=None`` (the convergence test usually stops far earlier).
MAX_AUTO_ITERATIONS = 1000


@dataclass
class _Problem:
    """What the optimiser sees: the cropped image, its fitting mask and a renderer."""

    image: torch.Tensor  # (h, w, C) crop around the region
    mask: torch.Tensor  # (h, w, 1) float, 1 inside the region
    renderer: Renderer
    offset: tuple[int, int]  # crop origin in the full image

    def l1(self, rendered: torch.Tensor) -> torch.Tensor:
        """Return the mean absolute error over the region (all channels)."""
        count = self.mask.sum() * self.image.shape[2]
        return ((rendered - self.image).abs() * self.mask).sum() / count

    def psnr(self, rendered: torch.Tensor) -> float:
        """Return the PSNR (dB, peak 1) of the render clipped to [0, 1] over the region."""
        count = self.mask.sum() * self.image.shape[2]
        error = (((rendered.clamp(0.0, 1.0) - self.image) ** 2) * self.mask).sum() / count
        return float("inf") if float(error) == 0.0 else -10.0 * math.log10(float(error))


class _Parameters(torch.nn.Module):
    """Learned per-Gaussian values: sigma = 1 + exp(log_excess) keeps every scale >= 1 px."""

    def __init__(self, sigmas: np.ndarray, colours: np.ndarray, device: torch.device) -> None:
        super().__init__()
        excess = np.log(np.maximum(sigmas - MIN_SIGMA, 1e-2))
        pairs = np.repeat(excess[:, None], 2, axis=1)
        self.log_excess = torch.nn.Parameter(
            torch.tensor(pairs, dtype=torch.float32, device=device)
        )
        self.angles = torch.nn.Parameter(torch.zeros(len(sigmas), device=device))
        self.colours = torch.nn.Parameter(torch.tensor(colours, device=device))

    def sigmas(self) -> torch.Tensor:
        """Return the (N, 2) scales in pixels."""
        return MIN_SIGMA + torch.exp(self.log_excess)


def _check_options(iterations, learning_rate, de_weight, default_sigma) -> None:
    """Raise GSTError naming the first option out of range."""
    if iterations is not None and (
        isinstance(iterations, bool)
        or not isinstance(iterations, (int, np.integer))
        or iterations < 0
    ):
        raise GSTError(
            f"iterations must be None (automatic) or an integer >= 0, got {iterations!r}"
        )
    for name, value, low in (
        ("learning_rate", learning_rate, 0.0),
        ("de_weight", de_weight, 0.0),
        ("default_sigma", default_sigma, MIN_SIGMA),
    ):
        if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            raise GSTError(f"{name} must be a finite number, got {value!r}")
        if value < low or (name == "learning_rate" and value == 0):
            raise GSTError(
                f"{name} must be {'>' if name == 'learning_rate' else '>='} {low}, got {value}"
            )


def _build_problem(pixels, points, default_sigma, backend, device) -> tuple[_Problem, np.ndarray]:
    """Return the cropped fitting problem and the points in the crop's frame."""
    region = fit_region(points, pixels.shape[:2], default_sigma)
    rows, cols = np.nonzero(region)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    # Points on the border may round to a pixel just outside the crop: keep one pixel spare.
    top, left = max(top - 1, 0), max(left - 1, 0)
    bottom, right = min(bottom + 1, pixels.shape[0]), min(right + 1, pixels.shape[1])
    local = points - np.array([top, left], dtype=np.float64)
    crop = pixels[top:bottom, left:right]
    problem = _Problem(
        image=torch.as_tensor(crop, device=device),
        mask=torch.as_tensor(
            region[top:bottom, left:right, None], dtype=torch.float32, device=device
        ),
        renderer=Renderer(torch.as_tensor(local, device=device), crop.shape[:2], backend),
        offset=(int(top), int(left)),
    )
    return problem, local


def _optimise(
    problem, params, *, iterations, learning_rate, de_weight, threshold, progress, should_stop
):
    """Run Adam on the masked L1 (+ DE hinge); return the number of iterations done."""
    optimiser = torch.optim.Adam(params.parameters(), lr=learning_rate)
    monitor = None if iterations is not None else ConvergenceMonitor()
    total = iterations if iterations is not None else MAX_AUTO_ITERATIONS
    report_every = max(1, total // 100)
    done = 0
    for done in range(1, total + 1):
        if should_stop is not None and should_stop():
            raise Cancelled(f"Gaussian fit stopped after {done - 1} of {total} iterations")
        sigmas = params.sigmas()
        loss = problem.l1(problem.renderer(sigmas, params.angles, params.colours))
        if de_weight > 0:
            loss = loss + de_weight * deformity_penalty(sigmas, threshold)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        converged = monitor is not None and monitor.update(float(loss.detach()))
        if progress is not None and (done % report_every == 0 or converged):
            progress(total if converged else done, total)
        if converged:
            break
    return done


def fit_gaussians(
    image: object,
    points: object,
    *,
    deformity_elimination: bool = True,
    anisotropy_threshold: float = 1.5,
    de_weight: float = 0.2,
    iterations: int | None = None,
    learning_rate: float = 0.01,
    default_sigma: float = DEFAULT_SIGMA,
    backend: str = "auto",
    device: str | torch.device = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> GaussianFit:
    """Return one fitted 2D Gaussian per point of ``points`` on ``image``.

    Means stay at the points; each Gaussian learns two scales (>= 1 px), a rotation and a
    colour by Adam on the L1 error over the region near the points (union of discs of half
    the neighbour spacing), rendered as an accumulated sum with a 3-sigma cut-off.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array of any real dtype (scaled to [0, 1]).
    points : (N, 2) (row, col) in pixels inside the image; N = 0 gives an empty fit.
    deformity_elimination : add the anisotropy hinge to the loss and make Gaussians still
        more elongated than ``anisotropy_threshold`` round at their minor scale afterwards.
    anisotropy_threshold : tau, the allowed max(s1/s2, s2/s1) (>= 1).
    de_weight : lambda, the weight of the hinge penalty (>= 0).
    iterations : Adam steps; None stops automatically when the loss stops improving.
    learning_rate : Adam's learning rate (> 0).
    default_sigma : starting scale (px, >= 1) of a point with no other point in the image.
    backend : "auto", "torch" or "gsplat" (CUDA only, alpha-composited: see ``render``).
    device : "auto", "cpu" or "cuda".
    progress : called as ``progress(done, total)`` during the fit.
    should_stop : polled every iteration; returning True raises :class:`Cancelled`.

    Returns
    -------
    GaussianFit
        With ``psnr`` over the fitted region, for the returned (post-DE) Gaussians.

    Raises
    ------
    GSTError
        For bad input (a ValueError naming the argument). ``Cancelled`` when stopped.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[:32, :32]
    >>> image = np.exp(-((rows - 16) ** 2 / 18 + (cols - 12) ** 2 / 8))
    >>> fit = fit_gaussians(image, [[16, 12]], default_sigma=4, device="cpu")
    >>> fit.sigmas.shape, fit.psnr > 25
    ((1, 2), True)
    """
    pixels = as_image(image)
    point_array = as_points(points, pixels.shape[:2])
    threshold = check_threshold(anisotropy_threshold)
    _check_options(iterations, learning_rate, de_weight, default_sigma)
    settings = {
        "deformity_elimination": bool(deformity_elimination),
        "anisotropy_threshold": threshold,
        "de_weight": float(de_weight),
        "iterations": None if iterations is None else int(iterations),
        "learning_rate": float(learning_rate),
        "default_sigma": float(default_sigma),
        "backend": str(backend),
    }
    if len(point_array) == 0:
        return _empty_fit(pixels, settings)
    torch_device = resolve_device(device)
    settings["backend"] = resolve_backend(backend, torch_device)
    problem, local = _build_problem(
        pixels, point_array, float(default_sigma), settings["backend"], torch_device
    )
    params = _Parameters(
        initial_sigmas(point_array, float(default_sigma)),
        sample_colours(pixels, point_array),
        torch_device,
    )
    settings["iterations_run"] = _optimise(
        problem,
        params,
        iterations=iterations,
        learning_rate=float(learning_rate),
        de_weight=float(de_weight) if deformity_elimination else 0.0,
        threshold=threshold,
        progress=progress,
        should_stop=should_stop,
    )
    return _finish(problem, params, point_array, pixels.shape[:2], settings)


def _finish(problem, params, points, shape, settings) -> GaussianFit:
    """Return the GaussianFit of the optimised parameters (post-DE when on), with its PSNR."""
    with torch.no_grad():
        sigmas = params.sigmas().double().cpu().numpy()
        angles = np.mod(params.angles.double().cpu().numpy(), np.pi)
        colours = params.colours.detach().cpu().numpy().astype(np.float32)
        if settings["deformity_elimination"]:
            sigmas = eliminate_deformity(sigmas, settings["anisotropy_threshold"])
        device = params.colours.device
        rendered = problem.renderer(
            torch.as_tensor(sigmas, dtype=torch.float32, device=device),
            torch.as_tensor(angles, dtype=torch.float32, device=device),
            params.colours,
        )
        psnr = problem.psnr(rendered)
    return GaussianFit(
        points=points.copy(),
        sigmas=sigmas,
        angles=angles,
        colours=colours,
        psnr=psnr,
        image_shape=(int(shape[0]), int(shape[1])),
        settings=settings,
    )


def _empty_fit(pixels: np.ndarray, settings: dict) -> GaussianFit:
    """Return the valid fit of an image without points (no Gaussians, PSNR NaN)."""
    return GaussianFit(
        points=np.zeros((0, 2)),
        sigmas=np.zeros((0, 2)),
        angles=np.zeros(0),
        colours=np.zeros((0, pixels.shape[2]), dtype=np.float32),
        psnr=float("nan"),
        image_shape=(int(pixels.shape[0]), int(pixels.shape[1])),
        settings={**settings, "iterations_run": 0},
    )
