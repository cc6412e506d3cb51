"""The napari-gst command: predict, evaluate, fit outputs and --json contracts."""

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_gst.cli import build_parser, main


def run(capsys, *argv):
    """Run the command; return (exit status, stdout, stderr)."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_every_subcommand_has_help():
    parser = build_parser()
    for command in ("fit", "train", "predict", "evaluate", "bench", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0


def test_predict_writes_density_points_and_counts(capsys, tmp_path, cells_folder, model_folder):
    images = sorted(cells_folder.glob("*.png"))[:2]
    status, out, _ = run(
        capsys, "predict", str(model_folder), *map(str, images), "--out", str(tmp_path), "--json"
    )
    assert status == 0
    result = json.loads(out)
    density = tifffile.imread(tmp_path / "img_0_density.tif")
    assert density.shape == (32, 32) and density.dtype == np.float32
    assert result["images"][0]["count"] == pytest.approx(float(density.sum()), rel=1e-4)
    counts = (tmp_path / "counts.csv").read_text().splitlines()
    assert counts[0] == "image,plane,count" and len(counts) == 3
    assert (tmp_path / "img_1_points.csv").read_text().startswith("index,axis-0,axis-1")
    assert "overlays" not in result["images"][0]  # only with --overlay


def test_predict_overlay_writes_one_png_per_image_or_plane(
    capsys, tmp_path, cells_folder, model_folder
):
    from napari_gst.data import read_image

    plane = read_image(cells_folder / "img_0.png")
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.stack([plane, plane[::-1]]))
    image = str(cells_folder / "img_0.png")
    out = tmp_path / "out"
    argv = ("predict", str(model_folder), image, str(stack), "--out", str(out), "--overlay")
    status, printed, _ = run(capsys, *argv, "--json")
    assert status == 0
    overlays = [entry["overlays"] for entry in json.loads(printed)["images"]]
    expected = [["img_0_overlay.png"], ["stack_overlay_0.png", "stack_overlay_1.png"]]
    assert [[Path(path).name for path in paths] for paths in overlays] == expected
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for names in expected for name in names)


def test_evaluate_json_has_count_and_detection_scores(capsys, cells_folder, model_folder):
    status, out, _ = run(capsys, "evaluate", str(model_folder), str(cells_folder), "--json")
    assert status == 0
    scores = json.loads(out)
    assert {"mae", "rmse", "n_images", "precision", "recall", "f1"} <= set(scores)
    assert scores["n_images"] == 4 and scores["mae"] >= 0
    # The peak read-out scores the same counts, with its own points.
    args = ("evaluate", str(model_folder), str(cells_folder), "--detection", "peaks", "--json")
    status, out, _ = run(capsys, *args)
    assert status == 0 and json.loads(out)["mae"] == scores["mae"]
    # --augment scores the density averaged over 8 views: other counts, the same contract.
    args = ("evaluate", str(model_folder), str(cells_folder), "--augment", "--json")
    status, out, _ = run(capsys, *args)
    augmented = json.loads(out)
    assert status == 0 and augmented["n_images"] == 4
    assert [image["predicted"] for image in augmented["images"]] != [
        image["predicted"] for image in scores["images"]
    ]


@pytest.mark.slow  # a real Gaussian fit plus matplotlib: several seconds on 2 cores
def test_fit_writes_the_fit_and_a_kernel_overlay(capsys, tmp_path, cells_folder):
    status, out, _ = run(
        capsys,
        "fit",
        str(cells_folder / "img_0.png"),
        str(cells_folder / "img_0.csv"),
        "--out",
        str(tmp_path),
        "--iterations",
        "20",
        "--json",
    )
    assert status == 0
    result = json.loads(out)
    assert result["n_points"] == 8
    assert (tmp_path / "img_0_fit.npz").is_file()
    assert (tmp_path / "img_0_kernels.png").stat().st_size > 1000


def test_bench_times_every_loss(capsys):
    status, out, _ = run(capsys, "bench", "--sizes", "48", "--repeats", "1", "--json")
    assert status == 0
    rows = json.loads(out)["results"]
    assert [row["loss"] for row in rows] == ["gst", "l2", "bayesian", "ot"]
    assert all(row["ms"] > 0 and row["size"] == 48 for row in rows)


def test_bench_refuses_tiny_sizes(capsys):
    assert main(["bench", "--sizes", "8"]) == 2
    assert "--sizes" in capsys.readouterr().err


@pytest.mark.slow  # trains a (tiny) network end to end: several seconds
def test_train_writes_a_model_that_predict_reads(capsys, tmp_path, cells_folder):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"model_options": {"width": 4, "depth": 2}, "crop_size": 32}))
    model_dir = tmp_path / "model"
    status, out, _ = run(
        capsys,
        "train",
        str(cells_folder),
        "--out",
        str(model_dir),
        "--config",
        str(settings),
        "--loss",
        "l2",
        "--epochs",
        "2",
        "--stride",
        "2",
        "--batch-size",
        "2",
        "--crops-per-image",
        "2",
        "--average-from",
        "0.5",
        "--transpose",
        "--precision",
        "bfloat16",
        "--val-fraction",
        "0",
        "--device",
        "cpu",
        "--json",
    )
    assert status == 0
    result = json.loads(out)
    assert result["kind"] == "done" and result["epoch"] == 2
    assert result["config"]["model_options"] == {"input_stride": 2, "width": 4, "depth": 2}
    assert (result["config"]["crop_size"], result["config"]["crops_per_image"]) == (32, 2)
    assert result["config"]["average_from"] == 0.5 and result["config"]["transpose"] is True
    assert result["config"]["val_fraction"] == 0.0 and result["config"]["precision"] == "bfloat16"
    assert (model_dir / "best" / "model.json").is_file()
    image = str(cells_folder / "img_0.png")
    assert main(["predict", str(model_dir), image, "--out", str(tmp_path / "pred")]) == 0
