"""TransportKernel: the sparse posterior K of one image, with its geometry and target masses."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .._archive import read_archive, write_archive
from .crop import crop_kernel_parts, flip_rows, transpose_rows
from .geometry import Gaussians

FORMAT_NAME = "napari-gst TransportKernel"
FORMAT_VERSION = 1
DEFAULT_MIN_FRACTION = 0.05


@dataclass(frozen=True, eq=False)
class TransportKernel:
    """Sparse Bayesian posterior K (P x (N+1)) of an image's density cells over its annotations.

    Row j of ``matrix`` says how the density of cell j is shared among the N annotations and
    the background (last column); every row sums to 1. ``K.T @ density`` is the mass each
    annotation (and the background) receives; GST's loss compares it with :meth:`target`.

    Attributes
    ----------
    matrix : scipy.sparse.csr_array, float32, shape (P, N + 1), P = prod(grid_shape).
    grid_shape : (h, w) of the density map, ``(ceil(H / stride), ceil(W / stride))``.
    stride : density stride in image pixels.
    image_shape : (H, W) of the image (or crop) the kernel describes.
    points : (N, 2) float64 (row, col) in this kernel's frame (after a crop a kept point may
        lie just outside the frame: its Gaussian still reaches in).
    mass : (N,) float64 target mass per point: 1, or the fraction of its Gaussian inside a crop.
    covariances : (N, 2, 2) float64 clamped covariances used to build K (this frame).
    ids : (N,) int64 index of each point in the original annotation list.
    settings : JSON-able build settings (cut-off, sigma range, beta, background distance).
    """

    matrix: sp.csr_array
    grid_shape: tuple[int, int]
    stride: int
    image_shape: tuple[int, int]
    points: np.ndarray
    mass: np.ndarray
    covariances: np.ndarray
    ids: np.ndarray
    settings: dict = field(default_factory=dict)
    # Derived forms of ``matrix`` (scipy K^T, torch tensors); name kept because other modules
    # reset it with dataclasses.replace(kernel, ..., _torch_cache={}).
    _torch_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_points(self) -> int:
        """Number of annotation columns N (the matrix has N + 1 columns)."""
        return int(len(self.points))

    def target(self) -> np.ndarray:
        """Return the (N + 1,) float32 target mass: each point's mass, then 0 for background."""
        return np.append(self.mass, 0.0).astype(np.float32)

    def dense(self) -> np.ndarray:
        """Return K as a dense (P, N + 1) float32 array (for tests and small pictures)."""
        return self.matrix.toarray()

    def correspondence(self) -> tuple[np.ndarray, np.ndarray]:
        """Return per cell (index of its strongest annotation or -1 for background, weight).

        Both arrays have ``grid_shape``; the plugin colours cells by the index.
        """
        index = np.asarray(self.matrix.argmax(axis=1)).ravel().astype(np.int64)
        strength = np.asarray(self.matrix.max(axis=1).toarray()).ravel()
        index[index == self.n_points] = -1
        return index.reshape(self.grid_shape), strength.reshape(self.grid_shape)

    def crop(
        self,
        top: int,
        left: int,
        height: int,
        width: int,
        *,
        min_fraction: float = DEFAULT_MIN_FRACTION,
        crop_mass: str = "fraction",
    ) -> TransportKernel:
        """Return the kernel of the pixel box (top, left, height, width): K's rows in the box.

        ``top`` and ``left`` must be multiples of the stride, and so must ``height``/``width``
        unless the box reaches the bottom/right edge. With ``crop_mass="fraction"`` a point's
        new mass is its old mass times the fraction of its Gaussian (summed over cell centres
        within the cut-off) that lies in the box; with ``"centre"`` it keeps its old mass if
        the point itself lies in the box and gets 0 otherwise (the whole-image counting
        convention, ``crop.CROP_MASSES``). Points whose new mass (the fraction of their whole
        Gaussian, since a fresh kernel has mass 1) falls below ``min_fraction`` are dropped:
        their column is added to the background column, so rows still sum to 1, and ``ids``
        keeps the survivors' indices.
        """
        parts = crop_kernel_parts(self, (top, left, height, width), min_fraction, crop_mass)
        return replace(self, _torch_cache={}, **parts)

    def flip(self, axis: int) -> TransportKernel:
        """Return the kernel of the image mirrored along ``axis`` (0: rows, 1: columns).

        Exact row permutation of K; points are mirrored and their Gaussians reflected. The
        image extent along ``axis`` must be a multiple of the stride (else the cell centres
        would not map onto cell centres).
        """
        rows, points = flip_rows(self, axis)
        gaussians = Gaussians.from_covariances(self.covariances).mirrored()
        return replace(
            self,
            matrix=self.matrix[rows],
            points=points,
            covariances=gaussians.covariances,
            _torch_cache={},
        )

    def transposed(self) -> TransportKernel:
        """Return the kernel of the image with rows and columns swapped (a diagonal mirror).

        Exact row permutation of K; points swap their coordinates and each covariance its
        diagonal entries. Training uses it, with the two flips, for all 8 symmetries of a crop.
        """
        rows, points = transpose_rows(self)
        covariances = self.covariances[:, ::-1, ::-1].copy()
        return replace(
            self,
            matrix=self.matrix[rows],
            grid_shape=self.grid_shape[::-1],
            image_shape=self.image_shape[::-1],
            points=points,
            covariances=covariances,
            _torch_cache={},
        )

    def scipy_matrix(self, *, transpose: bool = False) -> sp.csr_array:
        """Return K, or K.T in CSR form with ``transpose=True`` (cached), as scipy arrays."""
        if not transpose:
            return self.matrix
        if "scipy_transpose" not in self._torch_cache:
            self._torch_cache["scipy_transpose"] = self.matrix.T.tocsr()
        return self._torch_cache["scipy_transpose"]

    def to_torch(
        self,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        *,
        transpose: bool = False,
    ) -> torch.Tensor:
        """Return K (or K.T with ``transpose=True``) as a torch sparse CSR tensor (cached)."""
        key = (str(torch.device(device)), dtype, transpose)
        if key not in self._torch_cache:
            matrix = self.scipy_matrix(transpose=transpose)
            with warnings.catch_warnings():
                # Torch flags all CSR tensors as "beta"; our arrays come valid from scipy.
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
                # int32 indices (when they fit) cut the bytes a mat-vec streams by a third.
                index_type = np.int32 if matrix.nnz < 2**31 - 1 else np.int64
                self._torch_cache[key] = torch.sparse_csr_tensor(
                    torch.from_numpy(matrix.indptr.astype(index_type)),
                    torch.from_numpy(matrix.indices.astype(index_type)),
                    torch.from_numpy(matrix.data),
                    size=matrix.shape,
                    dtype=dtype,
                    device=device,
                    check_invariants=False,
                )
        return self._torch_cache[key]

    def save(self, path: str | Path) -> Path:
        """Write the kernel as ``<path>.npz`` (arrays + JSON metadata, no pickle); return it."""
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "grid_shape": list(self.grid_shape),
            "stride": self.stride,
            "image_shape": list(self.image_shape),
            "settings": self.settings,
        }
        arrays = {
            "data": self.matrix.data,
            "indices": self.matrix.indices,
            "indptr": self.matrix.indptr,
            "points": self.points,
            "mass": self.mass,
            "covariances": self.covariances,
            "ids": self.ids,
        }
        return write_archive(path, arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> TransportKernel:
        """Read a kernel written by :meth:`save` (no pickle is ever loaded)."""
        arrays, meta = read_archive(path, FORMAT_NAME, "TransportKernel")
        n_cols = len(arrays["points"]) + 1
        n_rows = int(np.prod(meta["grid_shape"]))
        matrix = sp.csr_array(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n_rows, n_cols)
        )
        return cls(
            matrix=matrix,
            grid_shape=tuple(meta["grid_shape"]),
            stride=int(meta["stride"]),
            image_shape=tuple(meta["image_shape"]),
            points=arrays["points"],
            mass=arrays["mass"],
            covariances=arrays["covariances"],
            ids=arrays["ids"],
            settings=meta.get("settings", {}),
        )
