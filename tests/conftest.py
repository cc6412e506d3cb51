"""Shared fixtures: the optional real data folder and a deterministic torch set-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    """Use one torch thread: test tensors are tiny; two threads busy-wait on a loaded machine."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def vgg_cells_dir() -> Path:
    """The VGG cells folder from ../shared/data; skips the test when it is absent."""
    folder = SHARED_DATA / "vgg_cells"
    if not (folder / "001cell.png").exists():
        pytest.skip("real data ../shared/data/vgg_cells is not present")
    return folder
