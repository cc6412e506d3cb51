"""Data-parallel training: two CPU processes (gloo) end with identical weights."""

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.numpy import load_file
from safetensors.torch import save_file

GAINS = ("output_gain", "edge_gain")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One process of the group: train one epoch, then save this process's weights."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
        }
    )
    torch.set_num_threads(1)
    import napari_gst.engine.training as training
    from napari_gst.data import make_cells_dataset
    from napari_gst.engine import TrainConfig

    # Keep a handle on the session so every rank (not only rank 0, which writes the
    # checkpoints) can save the weights it ended with.
    sessions = []
    open_session = training.open_session

    def capturing_open_session(*args):
        session = yield from open_session(*args)
        sessions.append(session)
        return session

    training.open_session = capturing_open_session
    config = TrainConfig(
        loss="l2",
        model_options={"width": 4, "depth": 2},
        stride=2,
        epochs=1,
        batch_size=2,
        crop_size=32,
        crops_per_image=2,  # each rank's sampler deals out the repeated images
        device="cpu",
        max_minutes=None,
    )
    items = make_cells_dataset(8, seed=5, shape=(48, 48))
    events = list(training.train(config, items, items[:2], out_dir=out_dir))
    assert events[-1].kind == "done" and "2 processes" in events[-1].device
    weights = {k: v.detach().contiguous() for k, v in sessions[0].model.module.state_dict().items()}
    save_file(weights, os.path.join(out_dir, f"rank{rank}.safetensors"))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_cpu_processes_end_with_identical_weights(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    first = load_file(str(tmp_path / "rank0.safetensors"))
    second = load_file(str(tmp_path / "rank1.safetensors"))
    assert first.keys() == second.keys()
    assert all(np.array_equal(first[key], second[key]) for key in first)
    # Rank 0 wrote the checkpoint; it holds the same weights.
    # (The checkpoint is calibrated: its gains are the count gains, the ranks' are 1.)
    saved = load_file(str(tmp_path / "last" / "model.safetensors"))
    gain = json.loads((tmp_path / "last" / "model.json").read_text())["metrics"]["count_gain"]
    assert all(np.array_equal(saved[key], first[key]) for key in first if key not in GAINS)
    assert float(saved["output_gain"]) == pytest.approx(gain) and float(first["output_gain"]) == 1
