"""Bad input ends with `napari-gst: error: <message>` and exit status 2, never a traceback."""

import json

import pytest

from napari_gst.cli import main


def expect_error(capsys, argv, fragment):
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("napari-gst: error: ")
    assert fragment in err
    assert "Traceback" not in err


def test_unreadable_image(capsys, tmp_path, model_folder):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    expect_error(
        capsys, ["predict", str(model_folder), str(broken), "--out", str(tmp_path)], "broken.png"
    )


def test_mismatched_annotation(capsys, tmp_path, cells_folder, model_folder):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "img_0.png").write_bytes((cells_folder / "img_0.png").read_bytes())
    (folder / "img_0.csv").write_text("y,x\n500,500\n")
    expect_error(capsys, ["evaluate", str(model_folder), str(folder)], "outside the image")


def test_empty_dataset(capsys, tmp_path, model_folder):
    expect_error(capsys, ["evaluate", str(model_folder), str(tmp_path)], "no annotated images")


def test_foreign_checkpoint(capsys, tmp_path, cells_folder):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "model.json").write_text(json.dumps({"format": "keras"}))
    expect_error(
        capsys, ["evaluate", str(foreign), str(cells_folder)], "not a napari-gst checkpoint"
    )


def test_missing_model_folder(capsys, tmp_path, cells_folder):
    expect_error(capsys, ["evaluate", str(tmp_path / "none"), str(cells_folder)], "does not exist")


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--lr", "-1"]])
def test_bad_training_setting(capsys, tmp_path, cells_folder, option):
    expect_error(
        capsys,
        ["train", str(cells_folder), "--out", str(tmp_path), *option],
        option[0].lstrip("-").replace("-", "_").replace("lr", "learning_rate"),
    )
