"""`napari-gst train --task landmarks`, `predict` and `evaluate` on a tiny labelled folder."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_gst.cli import main
from napari_gst.landmarks import HAND_LANDMARKS, make_hand_landmarks, write_landmark_csv


def run(capsys, *argv):
    """Run the command; return (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def hands_folder(tmp_path_factory):
    """Six 64 x 64 synthetic hands: hand_<i>.png + hand_<i>.csv (axis-0, axis-1, label)."""
    folder = tmp_path_factory.mktemp("hands")
    data = make_hand_landmarks(6, shape=(64, 64), seed=5)
    for index, (image, landmarks) in enumerate(zip(data.images, data.landmarks, strict=True)):
        iio.imwrite(folder / f"hand_{index}.png", (image * 255).astype(np.uint8))
        write_landmark_csv(folder / f"hand_{index}.csv", landmarks, data.landmark_set)
    return folder


@pytest.fixture(scope="module")
def names_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("names") / "names.json"
    path.write_text(json.dumps(list(HAND_LANDMARKS.names)))
    return path


@pytest.fixture(scope="module")
def landmark_model(hands_folder, names_file, tmp_path_factory):
    """A landmark model trained for one epoch through the command line."""
    folder = tmp_path_factory.mktemp("run")
    settings = folder / "settings.json"
    tiny = {"model_options": {"width": 4, "depth": 2}, "fit_options": {"iterations": 10}}
    settings.write_text(json.dumps({**tiny, "min_val_images": 2, "val_fraction": 0.34}))
    argv = ["train", hands_folder, "--task", "landmarks", "--landmarks", names_file]
    argv += ["--out", folder / "model", "--config", settings, "--epochs", "1", "--stride", "4"]
    argv += ["--crop", "48", "--batch-size", "4", "--sigma-range", "4", "8", "--device", "cpu"]
    assert main([str(arg) for arg in [*argv, "--json"]]) == 0
    return folder / "model"


def test_train_stores_the_landmark_set_and_selects_on_mre(landmark_model):
    metadata = json.loads((landmark_model / "best" / "model.json").read_text())
    assert metadata["task"] == "landmarks"
    assert metadata["landmarks"]["names"] == list(HAND_LANDMARKS.names)
    assert metadata["model"]["out_channels"] == 7
    assert metadata["training"]["sigma_range"] == [4.0, 8.0]
    assert metadata["metrics"]["val_mre"] > 0


def test_predict_writes_named_landmarks(capsys, tmp_path, hands_folder, landmark_model):
    status, out, _ = run(
        capsys, "predict", landmark_model, hands_folder / "hand_0.png", "--out", tmp_path, "--json"
    )
    assert status == 0
    result = json.loads(out)
    assert result["task"] == "landmarks"
    assert tifffile.imread(tmp_path / "hand_0_density.tif").shape == (7, 16, 16)
    rows = list(csv.DictReader((tmp_path / "hand_0_landmarks.csv").open()))
    assert {row["label"] for row in rows} <= set(HAND_LANDMARKS.names)
    table = list(csv.DictReader((tmp_path / "landmarks.csv").open()))
    assert [row["landmark"] for row in table] == list(HAND_LANDMARKS.names)


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_landmark_models_refuse_augment(capsys, tmp_path, hands_folder, landmark_model, command):
    # A mirrored view would swap left and right landmarks.
    target = (
        [hands_folder / "hand_0.png", "--out", tmp_path] if command == "predict" else [hands_folder]
    )
    status, _, err = run(capsys, command, landmark_model, *target, "--augment")
    assert status != 0 and "counting models only" in err and "Traceback" not in err


def test_evaluate_json_reports_mre_and_sdr_in_mm(capsys, hands_folder, landmark_model):
    status, out, _ = run(
        capsys, "evaluate", landmark_model, hands_folder, "--pixel-size", "0.5", "--json"
    )
    assert status == 0
    scores = json.loads(out)
    assert scores["task"] == "landmarks" and scores["unit"] == "mm"
    assert scores["n_images"] == 6 and scores["n_evaluated"] == 42
    assert set(scores["sdr"]) == {"2.0", "2.5", "3.0", "4.0"}
    assert len(scores["per_landmark_mre"]) == 7 and scores["mre"] > 0


def test_a_counting_model_is_not_scored_in_mm(capsys, hands_folder, model_folder):
    status, _, err = run(capsys, "evaluate", model_folder, hands_folder, "--pixel-size", "0.5")
    assert status == 2 and "landmark models only" in err


def test_unknown_label_names_file_and_label(capsys, tmp_path, hands_folder, names_file):
    bad = tmp_path / "bad"
    bad.mkdir()
    for suffix in ("png", "csv"):
        (bad / f"hand_0.{suffix}").write_bytes((hands_folder / f"hand_0.{suffix}").read_bytes())
    table = (bad / "hand_0.csv").read_text().replace("wrist", "elbow")
    (bad / "hand_0.csv").write_text(table)
    argv = ["train", bad, "--landmarks", names_file, "--out", tmp_path / "m", "--device", "cpu"]
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert "hand_0" in err and "'elbow'" in err and "napari-gst: error" in err


def test_points_without_labels_are_refused(capsys, tmp_path, cells_folder, names_file):
    argv = ["train", cells_folder, "--task", "landmarks", "--out", tmp_path / "m"]
    status, _, err = run(capsys, *argv, "--device", "cpu")
    assert status == 2 and "no labels" in err


def test_isbi_folder_missing_landmark_lines_is_named(capsys, tmp_path, hands_folder):
    images = tmp_path / "isbi" / "RawImage" / "TrainingData"
    notes = tmp_path / "isbi" / "AnnotationsByMD" / "400_senior"
    images.mkdir(parents=True)
    notes.mkdir(parents=True)
    (images / "001.png").write_bytes((hands_folder / "hand_0.png").read_bytes())
    (notes / "001.txt").write_text("10,12\n20,22\n")  # 2 of the 19 landmarks
    status, _, err = run(capsys, "train", tmp_path / "isbi", "--out", tmp_path / "m")
    assert status == 2 and "001.txt" in err and "expected 19" in err


def test_isbi_folder_is_scored_in_millimetres_by_default(capsys, tmp_path):
    from napari_gst.data import Normalisation
    from napari_gst.engine import save_checkpoint
    from napari_gst.landmarks import ISBI_2015_LANDMARKS
    from napari_gst.models import build_model, describe_model

    images = tmp_path / "isbi" / "RawImage" / "Test1Data"
    notes = tmp_path / "isbi" / "AnnotationsByMD" / "400_senior"
    images.mkdir(parents=True)
    notes.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem in ("151", "152"):
        iio.imwrite(images / f"{stem}.png", rng.integers(0, 255, (64, 64), dtype=np.uint8))
        xy = rng.uniform(2, 60, size=(19, 2))
        (notes / f"{stem}.txt").write_text("\n".join(f"{x:.0f},{y:.0f}" for x, y in xy) + "\n1\n")
    model = build_model("unet", 1, 19, stride=4, width=4, depth=2)
    metadata = {
        "model": describe_model(model),
        "task": "landmarks",
        "stride": 4,
        "normalisation": Normalisation().to_dict(),
        "landmarks": ISBI_2015_LANDMARKS.to_dict(),
    }
    save_checkpoint(tmp_path / "model", model, metadata)

    argv = ["evaluate", tmp_path / "model", tmp_path / "isbi", "--split", "Test1Data", "--json"]
    status, out, _ = run(capsys, *argv)

    assert status == 0
    scores = json.loads(out)
    assert scores["unit"] == "mm" and scores["n_evaluated"] == 38
    assert [image["name"] for image in scores["images"]] == ["151", "152"]
