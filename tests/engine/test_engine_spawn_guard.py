"""A spawned loader worker must never re-run an unguarded script's training (it hung)."""

import subprocess
import sys
import textwrap

from engine_helpers import TINY

from napari_gst._spawn import _guarded_lines, spawn_reruns_main

TRAINING = """
from napari_gst.data import make_cells_dataset
from napari_gst.engine import TrainConfig, train
config = TrainConfig(**{settings!r}, loss="l2", epochs=2, loader_workers=1)
events = list(train(config, make_cells_dataset(6, seed=3, shape=(48, 48)), out_dir={out!r}))
print("LAST", events[-1].kind, events[-1].step)
"""


def _run_script(path, text):
    path.write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)


def test_an_unguarded_script_trains_with_batches_built_in_process(tmp_path):
    # Before the check, the worker re-ran this script, died, and the parent waited forever.
    script = TRAINING.format(settings=TINY, out=str(tmp_path / "run"))
    done = _run_script(tmp_path / "unguarded.py", script)
    assert done.returncode == 0, done.stderr
    assert "LAST done 4" in done.stdout
    assert "it would run this script's training again" in done.stderr


def test_a_guarded_script_still_starts_its_worker(tmp_path):
    body = textwrap.indent(TRAINING.format(settings=TINY, out=str(tmp_path / "run")), "    ")
    script = (
        "from napari_gst._spawn import spawn_reruns_main\n"
        'if __name__ == "__main__":\n'
        '    print("RERUNS", spawn_reruns_main())\n' + body
    )
    done = _run_script(tmp_path / "guarded.py", script)
    assert done.returncode == 0, done.stderr
    assert "RERUNS False" in done.stdout and "LAST done 4" in done.stdout
    assert "training again" not in done.stderr


def test_an_unguarded_line_is_told_apart_from_a_guarded_one(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(
        "import os\n"  # 1
        "x = 1\n"  # 2
        "if '__main__' == __name__:\n"  # 3
        "    y = 2\n"  # 4
        "    z = (3,\n"  # 5
        "         4)\n"  # 6
        "if __name__ != '__main__':\n"  # 7
        "    w = 5\n"  # 8
    )
    assert _guarded_lines(str(path)) == frozenset({4, 5, 6})


def test_a_file_that_does_not_parse_counts_as_unguarded(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def (:\n")
    assert _guarded_lines(str(path)) == frozenset()


def test_pytest_itself_is_no_script_to_rerun():
    # pytest's __main__ (or its console script) is not running module-level code here.
    assert spawn_reruns_main() is False
