"""run_demo (``napari-gst demo``): trains, predicts held-out cells, reports counts and F1."""

import pytest

from napari_gst.engine import demo


@pytest.mark.slow  # a (much shortened) demo training: several seconds
def test_the_demo_reports_counts_detections_and_an_overlay(tmp_path, monkeypatch):
    short = {**demo.DEMO_CONFIG, "epochs": 2, "model_options": {"width": 4, "depth": 2}}
    monkeypatch.setattr(demo, "DEMO_CONFIG", short)
    result, lines = demo.run_demo(tmp_path, device="cpu")
    assert len(result["images"]) == demo.N_TEST
    assert all(row["true"] > 0 and row["predicted"] >= 0 for row in result["images"])
    scores = result["detection"]
    assert all(0.0 <= scores[name] <= 1.0 for name in ("precision", "recall", "f1"))
    assert any(line.startswith("detections within 5 px: precision") for line in lines)
    assert (tmp_path / "demo_overlay.png").stat().st_size > 0
    assert (tmp_path / "model" / "best" / "model.json").is_file()
