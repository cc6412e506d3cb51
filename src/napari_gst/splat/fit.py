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
from .initialise import MIN_SIGMA, REGION_SIGMAS, initial_sigmas, region_mask, sample_colours
from .problem import FitProblem, build_problem
from .rendering import resolve_backend, resolve_device
from .stopping import ConvergenceMonitor

#: Scale of a point with no neighbour (a lone landmark), in pixels.
DEFAULT_SIGMA = 8.0
#: Most iterations when ``iterations=None`` (the convergence test usually stops far earlier).
MAX_AUTO_ITERATIONS = 1000
#: Adam's step for the shape (log-scales, angle) is this many times ``learning_rate``: the
#: shape then settles in ~100 steps instead of ~400 at the same end point (measured).
SHAPE_STEP_SCALE = 3.0
#: Most steps of the coarse stage: the refinement that follows corrects what is left, and
#: on the 100-cell benchmark 150 coarse steps ended as close to the reference as 300.
MAX_COARSE_ITERATIONS = 150
#: Window of the stopping rule in the full-resolution refinement that follows a coarse stage.
REFINE_WINDOW = 10
#: Scales may grow to this many times their start (and to at least MIN_SIGMA_CAP px).
MAX_SIGMA_GROWTH = 2.0
MIN_SIGMA_CAP = 3.0
#: The automatic fit first runs at a resolution where the median scale is >= this (px) ...
COARSE_SIGMA = 3.0
#: ... reduced by at most this factor.
MAX_FACTOR = 4


class _Parameters(torch.nn.Module):
    """Learned per-Gaussian values: sigma = 1 + exp(log_excess) keeps every scale >= 1 px.

    Scales are also kept <= ``MAX_SIGMA_GROWTH`` x their start (at least ``MIN_SIGMA_CAP``):
    outside the region nothing is scored, so without a cap a Gaussian can spread into a
    faint, huge plate that models the background level instead of its object.
    """

    def __init__(self, sigmas: np.ndarray, colours: np.ndarray, device: torch.device) -> None:
        super().__init__()
        excess = np.log(np.maximum(sigmas - MIN_SIGMA, 1e-2))
        pairs = np.repeat(excess[:, None], 2, axis=1)
        self.log_excess = torch.nn.Parameter(
            torch.tensor(pairs, dtype=torch.float32, device=device)
        )
        self.angles = torch.nn.Parameter(torch.zeros(len(sigmas), device=device))
        self.colours = torch.nn.Parameter(torch.tensor(colours, device=device))
        caps = np.maximum(MAX_SIGMA_GROWTH * sigmas, MIN_SIGMA_CAP)
        self.max_log_excess = torch.tensor(
            np.log(caps - MIN_SIGMA)[:, None], dtype=torch.float32, device=device
        )

    def sigmas(self) -> torch.Tensor:
        """Return the (N, 2) scales in pixels."""
        return MIN_SIGMA + torch.exp(self.log_excess)

    @torch.no_grad()
    def project(self) -> None:
        """Pull scales back under their caps (a projected gradient step)."""
        torch.minimum(self.log_excess, self.max_log_excess, out=self.log_excess)


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


def _reduction_factor(sigmas: np.ndarray) -> int:
    """Return the coarse-stage factor: as large as keeps the median scale >= COARSE_SIGMA px."""
    factor = int(np.median(sigmas) // COARSE_SIGMA)
    return int(min(max(factor, 1), MAX_FACTOR))


def _monitor(factor: int, stages: int) -> ConvergenceMonitor:
    """Return the stopping rule of a stage: a refinement after a coarse stage stops sooner."""
    if factor == 1 and stages > 1:
        return ConvergenceMonitor(window=REFINE_WINDOW, min_iterations=2 * REFINE_WINDOW)
    return ConvergenceMonitor()


def _make_optimiser(params: _Parameters, learning_rate: float) -> torch.optim.Adam:
    """Return Adam with the shape parameters stepping SHAPE_STEP_SCALE times faster."""
    shape_rate = learning_rate * SHAPE_STEP_SCALE
    return torch.optim.Adam(
        [
            {"params": [params.log_excess, params.angles], "lr": shape_rate},
            {"params": [params.colours], "lr": learning_rate},
        ]
    )


@dataclass
class _Run:
    """The loop's fixed settings and its progress bookkeeping across stages."""

    de_weight: float
    threshold: float
    total: int
    progress: Callable[[int, int], None] | None
    should_stop: Callable[[], bool] | None
    done: int = 0
    reported: int = 0

    def tick(self) -> None:
        """Count one iteration, report progress and honour the stop flag."""
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"Gaussian fit stopped after {self.done} of {self.total} iterations")
        self.done += 1
        if self.done % max(1, self.total // 100) == 0:
            self.report(self.done)

    def report(self, done: int) -> None:
        """Call the progress callback with ``done`` unless that was the last report."""
        if self.progress is not None and done != self.reported:
            self.reported = done
            self.progress(done, self.total)


def _optimise(problem, params, optimiser, run: _Run, steps: int, monitor) -> int:
    """Run up to ``steps`` Adam steps on the masked L1 (+ DE hinge); return how many ran."""
    for step in range(1, steps + 1):
        run.tick()
        sigmas = params.sigmas()
        loss = problem.l1(problem.render(sigmas, params.angles, params.colours))
        if run.de_weight > 0:
            loss = loss + run.de_weight * deformity_penalty(sigmas, run.threshold)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        params.project()
        if monitor is not None and monitor.update(float(loss.detach())):
            return step
    return steps


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
    >>> fit = fit_gaussians(image, [[16, 12]], default_sigma=4, deformity_elimination=False)
    >>> np.round(fit.sigmas, 1), fit.psnr > 40
    (array([[3., 2.]]), True)
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
        "iterations_run": [],
    }
    if len(point_array) == 0:
        return _empty_fit(pixels, settings)
    torch_device = resolve_device(device)
    settings["backend"] = resolve_backend(backend, torch_device)
    start_sigmas = initial_sigmas(point_array, float(default_sigma))
    region = region_mask(point_array, REGION_SIGMAS * start_sigmas, pixels.shape[:2])
    params = _Parameters(start_sigmas, sample_colours(pixels, point_array), torch_device)
    optimiser = _make_optimiser(params, float(learning_rate))
    factor = 1 if iterations is not None else _reduction_factor(start_sigmas)
    stages = [(factor, MAX_COARSE_ITERATIONS)] if factor > 1 else []
    stages.append((1, MAX_AUTO_ITERATIONS if iterations is None else int(iterations)))
    run = _Run(
        de_weight=float(de_weight) if deformity_elimination else 0.0,
        threshold=threshold,
        total=sum(steps for _, steps in stages),
        progress=progress,
        should_stop=should_stop,
    )
    for stage_factor, steps in stages:
        problem = build_problem(
            pixels,
            point_array,
            region,
            backend=settings["backend"],
            device=torch_device,
            factor=stage_factor,
        )
        monitor = None if iterations is not None else _monitor(stage_factor, len(stages))
        settings["iterations_run"].append(
            _optimise(problem, params, optimiser, run, steps, monitor)
        )
    run.report(run.total)
    settings["reduction_factors"] = [stage_factor for stage_factor, _ in stages]
    return _finish(problem, params, point_array, pixels.shape[:2], settings)


def _finish(problem: FitProblem, params: _Parameters, points, shape, settings) -> GaussianFit:
    """Return the GaussianFit of the optimised parameters (post-DE when on), with its PSNR."""
    with torch.no_grad():
        sigmas = params.sigmas().double().cpu().numpy()
        angles = np.mod(params.angles.double().cpu().numpy(), np.pi)
        colours = params.colours.detach().cpu().numpy().astype(np.float32)
        if settings["deformity_elimination"]:
            sigmas = eliminate_deformity(sigmas, settings["anisotropy_threshold"])
        device = params.colours.device
        rendered = problem.render(
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
        settings=settings,
    )
