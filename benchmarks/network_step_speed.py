"""Forward + backward time of the counting U-Net in float32, bfloat16 autocast and torch.compile.

Usage::

    python benchmarks/network_step_speed.py                 # the counting defaults, 1 thread
    python benchmarks/network_step_speed.py --threads 2 --no-compile --json

The network and batch are the counting defaults of ``TrainConfig`` (U-Net stride 4, width
16, depth 4, GroupNorm, ``input_stride`` 2; 16 RGB crops of 64 px), the part of a training
step that the network itself takes (the loss, optimiser and batches are left out). Each
variant is timed in two interleaved rounds (so a change of the machine's speed shows as a
difference between rounds); the table gives the median milliseconds per step and each
variant's speed-up over float32 in the same run. Whether bfloat16 is fast depends on the
CPU: oneDNN uses AMX or AVX-512 BF16 instructions where the CPU has them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from napari_gst.engine import TrainConfig
from napari_gst.models import build_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per variant")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def counting_network() -> torch.nn.Module:
    """Return a freshly seeded counting U-Net with the TrainConfig defaults."""
    config = TrainConfig()
    torch.manual_seed(0)
    return build_model(config.model, 3, 1, config.model_options)


def step_function(model: torch.nn.Module, batch: torch.Tensor, variant: str) -> Callable:
    """Return a function running one forward + backward of ``variant``."""
    network = torch.compile(model) if variant == "compile" else model

    def step() -> None:
        model.zero_grad(set_to_none=True)
        if variant == "bfloat16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                density = network(batch)
        else:
            density = network(batch)
        density.float().sum().backward()

    return step


def time_steps(step: Callable, steps: int) -> float:
    """Return the median milliseconds of ``steps`` calls of ``step`` after 5 warm-up calls."""
    for _ in range(5):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    """Time every variant, print a table (or JSON) and return the figures."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = counting_network()
    batch = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    variants = ["float32", "bfloat16"] + ([] if args.no_compile else ["compile"])
    steps = {variant: step_function(model, batch, variant) for variant in variants}
    compile_s = None
    if "compile" in steps:
        start = time.perf_counter()
        steps["compile"]()  # the first call compiles
        compile_s = time.perf_counter() - start
    rounds: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(args.rounds):
        for variant in variants:
            rounds[variant].append(time_steps(steps[variant], args.steps))
    base = statistics.median(rounds["float32"])
    result = {
        "threads": args.threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "ms_per_step": rounds,
        "speedup_over_float32": {
            variant: base / statistics.median(rounds[variant]) for variant in variants
        },
        "compile_seconds": compile_s,
    }
    if args.json:
        print(json.dumps(result))
        return result
    print(f"{args.threads} thread(s), CPU capability {result['cpu_capability']}")
    print("| variant | ms per step (rounds) | speed-up over float32 |")
    print("|---|---|---|")
    for variant in variants:
        times = " / ".join(f"{value:.1f}" for value in rounds[variant])
        print(f"| {variant} | {times} | {result['speedup_over_float32'][variant]:.2f} |")
    if compile_s is not None:
        print(f"torch.compile's first call: {compile_s:.0f} s")
    return result


if __name__ == "__main__":
    main()
