"""TrainConfig: every training setting, as a JSON-able dataclass with checked values."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GSTError

TASKS = ("count", "landmarks")
LOSSES = ("gst", "bayesian", "ot", "l2")
# Number formats of the network's forward pass in training (``TrainConfig.precision``).
PRECISIONS = ("float32", "bfloat16")
# Landmark targets exist for GST kernels and, as the baseline, L2 heatmaps.
LANDMARK_LOSSES = ("gst", "l2")
# GST kernel options a config may set besides sigma_range (which has its own field): the
# build_kernel ones, and the crop rule of the training crops (``TransportKernel.crop``).
KERNEL_OPTIONS = ("beta", "background_distance", "background", "cutoff", "crop_mass")
# Counting's values of the settings whose default depends on the task (None in TrainConfig);
# the landmark task's are in napari_gst.landmarks.training_defaults. Measured on VGG cells
# (docs/parts/bench-accuracy.md, "Fifth investigation"): 16 crops of 64 px per step, 4 per
# image and epoch; peak learning rate 3e-3 after a 5 % warm-up (1e-4 under-fitted: the
# error of a count floor fell from 4.7 to 3.1 in the same steps); a U-Net that reads 2 x 2
# pixel blocks (``input_stride`` 2: 2.6 times the steps in the same minutes, the same error
# per step); 400 epochs (about 4,400 steps on 42 images, under 4 minutes on one CPU thread
# and a loader worker, so a first model comes back quickly; a 14-minute schedule, ``epochs``
# 2000 with ``max_minutes`` 14, took the test MAE from 2.85 to 2.18, "A faster step");
# validation "auto" (each validation also calibrates on the training images; on VGG cells a
# validation costs a third of an epoch, so validating every epoch would cost a quarter of
# the budget).
COUNT_DEFAULTS = {
    "epochs": 400,
    "learning_rate": 3e-3,
    "warmup_fraction": 0.05,
    "batch_size": 16,
    "crop_size": 64,
    "crops_per_image": 4,
    "val_every": "auto",
}
# Network options counting adds under the user's own (for the U-Net only).
COUNT_UNET_OPTIONS = {"input_stride": 2}


@dataclass
class TrainConfig:
    """Settings of one training run; ``to_dict``/``from_dict`` round-trip through JSON.

    Attributes
    ----------
    task : "count" (density whose sum is the number of objects) or "landmarks" (one output
        channel per named landmark, each trained against its own one-point kernel).
    landmarks : for task "landmarks", the landmark set as ``LandmarkSet.to_dict()`` (names in
        channel order, colours); None for counting.
    flip_map : for task "landmarks", ``{"left eye": "right eye", ...}``: landmarks that swap
        identity under a left-right mirror (``{}`` when none does); needed for ``flip``.
    model : network name for ``napari_gst.models.build_model`` ("unet" or "vgg").
    model_options : extra keyword arguments for the network; counting with the U-Net adds
        ``input_stride=2`` unless given (``COUNT_UNET_OPTIONS``).
    stride : density stride in pixels (None: the network's own default).
    loss : "gst" (default), "bayesian", "ot" or "l2"; ``loss_options`` go to ``make_loss``.
    epochs : passes over the training images (each draws ``crops_per_image`` crops from
        every image; None: the task's default, 400 for counting, 200 for landmarks);
        ``max_minutes`` stops earlier (None: no limit; the time counts from the first step,
        after the one-off Gaussian fits).
    learning_rate, weight_decay : AdamW settings (peak rate of the cosine schedule; None: the
        task's default, 3e-3 for counting, 2e-3 for landmarks; see ``COUNT_DEFAULTS`` and
        ``napari_gst.landmarks.training_defaults`` for the measurements behind them).
    warmup_fraction : share of the run over which the learning rate rises linearly from
        1/25 of its peak before the cosine decay (None: the task's default, 0.05 for both
        tasks: landmark channels collapse, and counts start far too low, when the first
        steps take the peak rate).
    lr_floor : share of the peak rate the cosine decay ends at, in [0, 1) (default 0.02).
        A higher floor keeps the late steps apart, so an ``average_from`` average is more
        like an ensemble (stochastic weight averaging's constant rate); on VGG cells a floor
        of 0.25 counted worse (docs/parts/bench-accuracy.md, "Screens on a slower machine").
    ema_decay : decay of the exponential moving average of the weights that is validated,
        checkpointed and used for prediction (None: the raw training weights). GST's L1
        gradients keep the raw weights jittering near the optimum; the average removes it.
    average_from : share of the run (the learning-rate schedule's progress) from which the
        validated, checkpointed and predicting model is the uniform average of the weights
        after every step since (stochastic weight averaging), and the best model is chosen
        among these averages (None: off). Exclusive with ``ema_decay``.
    batch_size : crops per optimiser step (None: the task's default, 16 for counting, 4 for
        landmarks).
    crop_size : side of the square random training crops, in pixels (rounded down to a
        multiple of the stride; images smaller than it are used whole; None: the task's
        default, 64 for counting, 128 for landmarks as before).
    crops_per_image : random crops drawn from each training image per epoch (None: the task's
        default, 4 for counting, so that an epoch of 64 px crops covers as many pixels as one
        of 128 px crops; 1 for landmarks).
    normalisation : how images are scaled for the network, as ``Normalisation.to_dict()``
        keys ({} : per-image percentiles 1 .. 99.8; {"method": "dtype"} keeps absolute
        brightness, which matters when crowding changes an image's brightest pixels);
        stored with the model and applied again at prediction.
    scale_range : random rescale factors (low, high) applied before cropping.
    flip : random flips; None (default) picks the task's default: horizontal and vertical
        flips for counting; for landmarks, left-right mirrors only, and only when a
        ``flip_map`` is given (a mirror turns a left landmark into a right one).
    transpose : counting only: also swap a crop's rows and columns with probability 1/2, so
        that with the flips training sees all 8 symmetries of a square (the 8 views that
        ``predict(..., augment=True)`` averages). Off by default.
    sigma_range : (min, max) Gaussian scales for the transport kernel, in pixels
        (None: the kernel's default, 0.625 .. 2.5 x stride).
    kernel_options : further ``build_kernel`` options of the GST kernel: ``beta`` (background
        prior, default 0.015), ``background_distance`` (c, default 3), ``background``
        (include the background column, default True), ``cutoff`` (truncation, default 6);
        and ``crop_mass``, the target mass of a dot near a training crop's edge:
        "fraction" (its Gaussian's share inside the crop) or "centre" (1 if the dot lies in
        the crop, else 0, see ``TransportKernel.crop``). "fraction" is the default: on VGG
        cells "centre" removed the undercount of cells cut by the image's edge but counted
        the test images worse (docs/parts/bench-accuracy.md, "Cells cut by the image's
        edge").
    device : "auto", "cpu" or "cuda".
    precision : number format of the network's forward pass in training: "float32"
        (default) or "bfloat16" (``torch.autocast``: weights, optimiser and loss stay
        float32; validation and prediction run in float32). On CPUs with AMX or
        AVX512-BF16 the counting U-Net's step is about 1.4 times as fast
        (``benchmarks/network_step_speed.py``); elsewhere it can be slower.
    seed : seeds Python, numpy and torch (crops, flips, initial weights).
    val_fraction : share of the training images held out for validation when no validation
        set is given (0: none); ``min_val_images`` is the fewest worth holding out (below
        that, the training MAE selects the best model, each image counted with the gain of
        the others).
    val_every : validate (and checkpoint) every this many epochs, and always after the
        first and the last; "auto" validates after an epoch once the time since the last
        validation is at least 19 times what that validation took, which keeps
        validation near a twentieth of the run however long epochs are (None: the task's
        default, "auto" for counting, whose epochs are short and whose validations also
        calibrate; 1 for landmarks).
    calibrate : counting only: validate and save each model with the output gain that makes
        its training images' predicted total equal their annotated total
        (``napari_gst.engine.calibration``; GST's loss leaves counts a few percent low).
    loader_workers : processes that build the training batches (crops and their kernels)
        while the network trains: "auto" (default) uses one when a second core is free,
        the run plans at least 300 steps and the task allows it (counting; the landmark
        kernel schedule follows each step), 0 builds them in the training process. On
        VGG cells a worker gives 1.7 times the steps in 14 minutes; the weights are the same.
    fit_options : keyword arguments for ``napari_gst.splat.fit_gaussians`` (e.g. iterations).
    cache_dir : where Gaussian fits are cached (None: ``<out_dir>/fits``).
    """

    task: str = "count"
    model: str = "unet"
    model_options: dict = field(default_factory=dict)
    stride: int | None = None
    loss: str = "gst"
    loss_options: dict = field(default_factory=dict)
    epochs: int | None = None
    max_minutes: float | None = 15.0
    learning_rate: float | None = None
    warmup_fraction: float | None = None
    lr_floor: float = 0.02
    weight_decay: float = 1e-4
    ema_decay: float | None = None
    average_from: float | None = None
    batch_size: int | None = None
    crop_size: int | None = None
    crops_per_image: int | None = None
    normalisation: dict = field(default_factory=dict)
    scale_range: tuple[float, float] = (0.9, 1.1)
    flip: bool | None = None
    transpose: bool = False
    sigma_range: tuple[float, float] | None = None
    kernel_options: dict = field(default_factory=dict)
    device: str = "auto"
    precision: str = "float32"
    seed: int = 0
    val_fraction: float = 0.15
    min_val_images: int = 3
    val_every: int | str | None = None
    calibrate: bool = True
    loader_workers: int | str = "auto"
    fit_options: dict = field(default_factory=dict)
    cache_dir: str | None = None
    landmarks: dict | None = None
    flip_map: dict | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a GSTError naming the first setting that is out of range."""
        _choice("task", self.task, TASKS)
        _choice("loss", self.loss, LOSSES)
        _choice("device", self.device.split(":")[0], ("auto", "cpu", "cuda"))
        _choice("precision", self.precision, PRECISIONS)
        self._fill_task_defaults()
        for name in (
            "epochs",
            "batch_size",
            "crop_size",
            "crops_per_image",
            "min_val_images",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GSTError(f"{name} must be a positive integer, got {value!r}")
        if self.val_every != "auto" and (
            isinstance(self.val_every, bool)
            or not isinstance(self.val_every, int)
            or self.val_every < 1
        ):
            raise GSTError(
                f'val_every must be a positive integer or "auto", got {self.val_every!r}'
            )
        if self.loader_workers != "auto" and (
            isinstance(self.loader_workers, bool)
            or not isinstance(self.loader_workers, int)
            or self.loader_workers < 0
        ):
            raise GSTError(
                'loader_workers must be a non-negative integer or "auto", '
                f"got {self.loader_workers!r}"
            )
        for name in ("calibrate", "transpose"):
            if not isinstance(getattr(self, name), bool):
                raise GSTError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.stride is not None and (not isinstance(self.stride, int) or self.stride < 1):
            raise GSTError(f"stride must be a positive integer or None, got {self.stride!r}")
        _positive("learning_rate", self.learning_rate)
        _share("warmup_fraction", self.warmup_fraction)
        _share("lr_floor", self.lr_floor)
        if self.weight_decay < 0:
            raise GSTError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.max_minutes is not None:
            _positive("max_minutes", self.max_minutes)
        if self.ema_decay is not None and (
            isinstance(self.ema_decay, bool)
            or not isinstance(self.ema_decay, (int, float))
            or not 0.0 < self.ema_decay < 1.0
        ):
            raise GSTError(f"ema_decay must be in (0, 1) or None, got {self.ema_decay!r}")
        if self.average_from is not None:
            _share("average_from", self.average_from, " or None")
        if self.average_from is not None and self.ema_decay is not None:
            raise GSTError("ema_decay and average_from both average the weights: set one of them")
        self.scale_range = _pair("scale_range", self.scale_range)
        self.make_normalisation()  # raises on unknown keys or bad percentiles
        _check_kernel_options(self.kernel_options)
        if self.sigma_range is not None:
            self.sigma_range = _pair("sigma_range", self.sigma_range)
        if not 0.0 <= self.val_fraction < 1.0:
            raise GSTError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        self._validate_task()

    def _fill_task_defaults(self) -> None:
        """Replace the settings left at None by the task's defaults (counting's or landmarks')."""
        if self.task == "landmarks":
            from ..landmarks.training_defaults import LANDMARK_TRAINING_DEFAULTS as defaults
        else:
            defaults = COUNT_DEFAULTS
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.task == "count" and self.model == "unet" and isinstance(self.model_options, dict):
            self.model_options = {**COUNT_UNET_OPTIONS, **self.model_options}

    def _validate_task(self) -> None:
        """Check the task-specific settings; resolve ``flip=None`` to the task's default."""
        if self.task != "landmarks":
            if self.landmarks is not None or self.flip_map is not None:
                raise GSTError(
                    f"landmarks and flip_map are for task 'landmarks', not {self.task!r}"
                )
            self.flip = True if self.flip is None else bool(self.flip)
            return
        if self.landmarks is None:
            raise GSTError("task 'landmarks' needs landmarks (the names, e.g. from names.json)")
        if self.transpose:
            raise GSTError(
                "transpose is for counting: a diagonal mirror turns a landmark's left into "
                "its up; use flip with a flip_map for landmarks"
            )
        from ..landmarks import as_landmark_set  # numpy-only import

        landmark_set = as_landmark_set(self.landmarks, "landmarks")
        self.landmarks = landmark_set.to_dict()
        _choice("loss (for landmarks)", self.loss, LANDMARK_LOSSES)
        if self.loader_workers not in ("auto", 0):
            raise GSTError(
                'loader_workers must be 0 or "auto" for landmarks: their kernel schedule '
                "follows every step, which a worker process's copy of the data would not see"
            )
        if self.flip_map is not None:
            from ..landmarks.augment import flip_permutation

            self.flip_map = dict(self.flip_map)
            flip_permutation(landmark_set, self.flip_map)  # raises on unknown names
        if self.flip is None:
            self.flip = self.flip_map is not None
        elif self.flip and self.flip_map is None:
            raise GSTError(
                "flip=True for landmarks needs flip_map: a mirror swaps left and right "
                "landmarks (flip_map={} if none changes identity), or set flip=False"
            )

    def make_normalisation(self):
        """Return the ``napari_gst.data.Normalisation`` described by ``normalisation``."""
        from ..data.normalise import Normalisation  # numpy-only import

        if not isinstance(self.normalisation, dict):
            raise GSTError(
                f"normalisation must be a dict of Normalisation settings, got "
                f"{type(self.normalisation).__name__}"
            )
        try:
            return Normalisation.from_dict(self.normalisation)
        except TypeError as error:
            raise GSTError(f"bad normalisation settings: {error}") from error

    def to_dict(self) -> dict:
        """Return the settings as a JSON-able dict."""
        result = dataclasses.asdict(self)
        for key in ("scale_range", "sigma_range"):
            if result[key] is not None:
                result[key] = list(result[key])
        return result

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Return a config from a dict; unknown keys raise a GSTError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GSTError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Return the config stored in a JSON file."""
        return cls.from_dict(read_settings_file(path))


def read_settings_file(path: str | Path) -> dict:
    """Return the JSON object of training settings in ``path`` (not yet checked)."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise GSTError(f"cannot read training settings from {path}: {error}") from error
    if not isinstance(values, dict):
        raise GSTError(f"{path} must hold a JSON object of training settings")
    return values


def _check_kernel_options(options: object) -> None:
    """Raise a GSTError naming an unknown or out-of-range ``build_kernel`` option."""
    if not isinstance(options, dict):
        raise GSTError(f"kernel_options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(KERNEL_OPTIONS))
    if unknown:
        raise GSTError(
            f"unknown kernel_options {', '.join(unknown)}; known: {', '.join(KERNEL_OPTIONS)}"
        )
    for name in ("beta", "background_distance", "cutoff"):
        if name in options:
            _positive(f"kernel_options[{name!r}]", options[name])
    if "background" in options and not isinstance(options["background"], bool):
        value = options["background"]
        raise GSTError(f"kernel_options['background'] must be true or false, got {value!r}")
    if "crop_mass" in options:
        from ..transport.crop import check_crop_mass

        check_crop_mass(options["crop_mass"])


def _choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise a GSTError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise GSTError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _positive(name: str, value: object) -> None:
    """Raise a GSTError unless ``value`` is a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise GSTError(f"{name} must be a positive number, got {value!r}")


def _share(name: str, value: object, or_else: str = "") -> None:
    """Raise a GSTError unless ``value`` is a share of a run, in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise GSTError(f"{name} must be in [0, 1){or_else}, got {value!r}")


def _pair(name: str, value: object) -> tuple[float, float]:
    """Return ``value`` as a (low, high) pair of positive floats with low <= high."""
    try:
        low, high = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as error:
        raise GSTError(f"{name} must be a pair (low, high), got {value!r}") from error
    if not 0 < low <= high:
        raise GSTError(f"{name} must satisfy 0 < low <= high, got ({low}, {high})")
    return low, high
