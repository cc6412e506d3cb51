"""Gaussian fits are made on a fixed normalisation, so the network's does not re-fit."""

from napari_gst.data import DensityDataset, Normalisation, make_cells_dataset


def test_fits_do_not_depend_on_the_network_normalisation(tmp_path):
    items = make_cells_dataset(1, seed=2, shape=(40, 40))
    options = {"cache_dir": tmp_path, "fit_kwargs": {"iterations": 5}}
    DensityDataset(items, stride=4, **options).prepare()
    cached = sorted(tmp_path.glob("fit-*.npz"))
    dtype_scaled = DensityDataset(
        items, stride=4, normalisation=Normalisation(method="dtype"), **options
    )
    dtype_scaled.prepare()  # the same fit: read from the cache, no new file
    assert sorted(tmp_path.glob("fit-*.npz")) == cached and len(cached) == 1
