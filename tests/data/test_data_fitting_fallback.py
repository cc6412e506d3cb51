"""Parallel fitting falls back to this process when worker processes cannot start."""

import subprocess
import sys

SCRIPT = """
from napari_gst.data import Normalisation, make_cells_dataset
from napari_gst.data.fitting import precompute_fits
items = make_cells_dataset(3, seed=0, shape=(48, 48))
fits = precompute_fits(items, normalisation=Normalisation(), workers=2,
                       fit_kwargs={"iterations": 2})
print("fits:", len(fits))
"""


def test_script_read_from_stdin_still_gets_its_fits():
    # Spawned workers cannot re-import a __main__ read from stdin, so the pool breaks.
    result = subprocess.run(
        [sys.executable, "-"], input=SCRIPT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "fits: 3" in result.stdout
    assert "fitting in this process instead" in result.stderr
