"""The ``napari-gst`` command: fit, train, predict, evaluate, bench and demo over the engine.

Counting and landmark localisation (``train --task landmarks``) share the commands.

Contract (see docs/parts/cli.md): results go to stdout (one JSON object with ``--json``),
progress bars and messages to stderr; bad input prints ``napari-gst: error: <message>`` and
exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ._version import __version__
from .errors import GSTError

EXIT_USAGE = 2


def _add_common(parser: argparse.ArgumentParser, *, device: bool = True) -> None:
    """Add the options every computing subcommand shares."""
    if device:
        parser.add_argument(
            "--device",
            choices=("auto", "cpu", "cuda"),
            default="auto",
            help="where to compute: auto picks CUDA when torch sees a GPU (default: auto)",
        )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object with the results on stdout"
    )


def _add_fit(commands) -> None:
    parser = commands.add_parser(
        "fit",
        help="fit one Gaussian per annotation point of an image",
        description="Fit one Gaussian per point of IMAGE; write the fit (.npz) and a PNG of the "
        "fitted kernels (2-sigma ellipses) into --out.",
    )
    parser.add_argument("image", type=Path, help="image file (PNG, TIFF, JPEG, BMP)")
    parser.add_argument("points", type=Path, help="annotation file: CSV, dot image or .mat")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--no-de",
        action="store_true",
        help="switch off deformity elimination (keep elongated Gaussians)",
    )
    parser.add_argument("--iterations", type=int, help="fit iterations (default: the fit's own)")
    _add_common(parser)


def _add_data_format(parser: argparse.ArgumentParser) -> None:
    """Add --format and --split (the ISBI 2015 split) to a subcommand that reads a dataset."""
    parser.add_argument(
        "--format",
        default="auto",
        help="dataset naming: auto, dots, csv, shanghaitech, isbi (ISBI 2015 cephalometric "
        "folder: RawImage/ + AnnotationsByMD/); auto also detects isbi",
    )
    parser.add_argument(
        "--split",
        default="TrainingData",
        help="ISBI 2015 split for --format isbi: TrainingData, Test1Data or Test2Data",
    )


def _add_landmark_options(parser: argparse.ArgumentParser) -> None:
    """Add the task and landmark options of `train`."""
    parser.add_argument(
        "--task",
        choices=("count", "landmarks"),
        help="count (density sums to the count) or landmarks (one channel per named landmark; "
        "CSV annotations need a label column); default: count, landmarks with --landmarks or "
        "an ISBI folder",
    )
    parser.add_argument(
        "--landmarks",
        type=Path,
        help="JSON file of landmark names (a list, or a saved LandmarkSet); default: the "
        "labels in the annotations, in order of first appearance",
    )
    parser.add_argument(
        "--flip-map",
        help="landmarks that swap under a left-right mirror, as JSON or a JSON file, e.g. "
        '\'{"left eye": "right eye"}\'; enables mirrors ("{}": mirror, no swaps)',
    )
    parser.add_argument(
        "--sigma-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="fixed clamp of the transport kernel's Gaussian scales in pixels (default for "
        "counting: 0.625 x stride to 2.5 x stride; for landmarks: a schedule narrowing from "
        "1.5-2.5 x stride to stride / 2 over the first half of the epochs, which this option "
        "replaces)",
    )


def _add_train(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a counting or landmark network on a folder of annotated images",
        description="Train on DATA_DIR; the best (by validation MAE, or MRE for --task "
        "landmarks) and last checkpoints go "
        "to MODEL_DIR/best and MODEL_DIR/last. Without --val, part of DATA_DIR is held out. "
        "Run under `torchrun --nproc_per_node=K -m napari_gst.cli train ...` for data-parallel "
        "training.",
    )
    parser.add_argument("data_dir", type=Path, help="folder of images + annotations")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--val", type=Path, help="folder of validation images + annotations")
    parser.add_argument(
        "--val-fraction",
        type=float,
        help="without --val, the share of the images held out to choose the best epoch "
        "(default 0.15; 0 trains on every image and scores each with the others' gains)",
    )
    _add_data_format(parser)
    parser.add_argument("--config", type=Path, help="JSON file of training settings")
    parser.add_argument("--loss", choices=("gst", "bayesian", "ot", "l2"), help="training loss")
    parser.add_argument("--model", choices=("unet", "vgg"), help="network")
    parser.add_argument("--stride", type=int, help="density stride in pixels")
    parser.add_argument("--epochs", type=int, help="passes over the training images")
    parser.add_argument("--max-minutes", type=float, help="stop after this many minutes")
    parser.add_argument("--lr", type=float, dest="learning_rate", help="learning rate")
    parser.add_argument(
        "--batch-size", type=int, help="crops per step (default: 16 counting, 4 landmarks)"
    )
    parser.add_argument(
        "--crop",
        type=int,
        dest="crop_size",
        help="training crop size in px (default: 64 counting, 128 landmarks)",
    )
    parser.add_argument(
        "--crops-per-image",
        type=int,
        help="random crops from each image per epoch (default: 4 counting, 1 landmarks)",
    )
    parser.add_argument(
        "--average-from",
        type=float,
        help="share of the run (0-1) from which the saved model is the average of the "
        "weights since (default: off; 0.4 counted VGG cells better, docs/benchmarks.md)",
    )
    parser.add_argument(
        "--transpose",
        action="store_const",
        const=True,
        help="counting: also train on crops with rows and columns swapped, so that with the "
        "flips training sees all 8 symmetries of a square (default: off)",
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        help="number format of the network's training steps (default: float32; bfloat16 "
        "steps are about 1.4 times as fast on CPUs with AMX, slower on older ones)",
    )
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--cache-dir", help="folder for cached Gaussian fits")
    parser.add_argument("--resume", type=Path, help="model folder to continue training from")
    _add_landmark_options(parser)
    _add_common(parser)


def _add_predict(commands) -> None:
    parser = commands.add_parser(
        "predict",
        help="predict density, count and points (or landmarks) for images",
        description="For each image write <name>_density.tif (float32, at the model's stride) "
        "and <name>_points.csv (napari CSV), and one counts.csv for all images, into --out. "
        "A landmark model writes <name>_density.tif (one plane per landmark), "
        "<name>_landmarks.csv (napari CSV with a label column) and one landmarks.csv.",
    )
    parser.add_argument("model_dir", type=Path, help="model folder written by `train`")
    parser.add_argument("images", type=Path, nargs="+", help="image files")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--tile-size", type=int, help="predict in tiles of this size (px)")
    parser.add_argument(
        "--overlay",
        action="store_true",
        help="counting: also write <name>_overlay.png (image, density in red, points as +)",
    )
    _add_detection(parser)
    _add_common(parser)


def _add_detection(parser) -> None:
    """Add --detection and --augment: how counting points are read from the density."""
    parser.add_argument(
        "--detection",
        choices=("basins", "peaks"),
        default="basins",
        help="counting points: one per unit of mass, touching objects apart (basins, "
        "default), or one per local maximum of the density (peaks: fewer, surer points)",
    )
    parser.add_argument(
        "--augment",
        action="store_true",
        help="counting: average the density over the 8 flipped and rotated views of each "
        "image (8 network passes; steadier counts)",
    )


def _add_evaluate(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a model on a folder of annotated images",
        description="Print MAE, RMSE and detection precision/recall/F1 of MODEL_DIR on "
        "DATA_DIR; for a landmark model the mean radial error (MRE), its SD, success detection "
        "rates (SDR) and the MRE per landmark.",
    )
    parser.add_argument("model_dir", type=Path, help="model folder written by `train`")
    parser.add_argument("data_dir", type=Path, help="folder of images + annotations")
    _add_data_format(parser)
    parser.add_argument(
        "--radius", type=float, default=5.0, help="match radius in pixels (default: 5)"
    )
    parser.add_argument(
        "--pixel-size",
        type=float,
        help="landmarks: pixel size (e.g. mm) to report errors in; default: pixels "
        "(0.1 mm for --format isbi)",
    )
    parser.add_argument(
        "--radii",
        type=float,
        nargs="+",
        help="landmarks: success radii (default 2 2.5 3 4 with a pixel size, else 2 4 8 px)",
    )
    _add_detection(parser)
    _add_common(parser)


def _add_bench(commands) -> None:
    parser = commands.add_parser(
        "bench",
        help="time the GST loss against the baselines (forward + backward)",
        description="Time each loss on synthetic images of the given sizes.",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[256, 512], help="image sizes (default: 256 512)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per loss")
    _add_common(parser, device=False)


def _add_demo(commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="train briefly on synthetic cells and show counts (no data, no network needed)",
        description="Make synthetic cell images, train a small network with the GST loss for "
        "about a minute, predict on held-out images and print counts against the truth.",
    )
    parser.add_argument("--out", type=Path, default=Path("napari-gst-demo"), help="output folder")
    _add_common(parser)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``napari-gst`` command."""
    parser = argparse.ArgumentParser(
        prog="napari-gst",
        description="Point-supervised density regression with Gaussian Spatial Transport.",
    )
    parser.add_argument("--version", action="version", version=f"napari-gst {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_fit, _add_train, _add_predict, _add_evaluate, _add_bench, _add_demo):
        add(commands)
    return parser


def _emit(result: dict, as_json: bool, lines: Sequence[str]) -> None:
    """Print ``result`` as one JSON object, or the human-readable ``lines``."""
    if as_json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print("\n".join(lines))


def _run(args: argparse.Namespace) -> None:
    """Dispatch to the subcommand's implementation in ``napari_gst.engine.commands``."""
    from .engine import commands

    result, lines = getattr(commands, f"run_{args.command}")(args)
    _emit(result, args.json, lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        _run(args)
    except (GSTError, ValueError, FileNotFoundError) as error:
        print(f"napari-gst: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("napari-gst: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # python -m napari_gst.cli (also under torchrun)
    sys.exit(main())
