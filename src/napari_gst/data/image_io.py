"""Read images from PNG, JPEG, BMP and TIFF files into (H, W) or (H, W, C) numpy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import GSTError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_TIFF_SUFFIXES = (".tif", ".tiff")
# Channel-first TIFFs (C, H, W) are common in microscopy. More than this many planes at
# either end is more likely a z or time stack than channels, which we refuse, not guess.
_MAX_CHANNELS = 8


def read_image(path: str | Path) -> np.ndarray:
    """Return the image in ``path`` as an (H, W) or (H, W, C) array in its stored dtype.

    PNG, JPEG, BMP and TIFF files are read; 8-bit, 16-bit and float data keep their dtype
    (normalisation is :class:`~napari_gst.data.Normalisation`'s job). A channel-first array
    (C, H, W) with C <= 8 (common in TIFF) is moved to channel-last; a stack is refused.
    A constant alpha channel (an opaque RGBA or grey+alpha PNG) is dropped; an alpha
    channel that varies is kept as a channel.

    Parameters
    ----------
    path : str or Path
        The image file.

    Returns
    -------
    numpy.ndarray
        (H, W) for single-channel images, else (H, W, C).

    Raises
    ------
    GSTError
        If the file does not exist, cannot be decoded, or is not a 2D image.

    Examples
    --------
    >>> image = read_image("001cell.png")  # doctest: +SKIP
    >>> image.shape, image.dtype  # doctest: +SKIP
    ((256, 256, 3), dtype('uint8'))
    """
    path = Path(path)
    if not path.is_file():
        raise GSTError(f"image file {path} does not exist")
    try:
        image = _decode(path)
    except Exception as error:  # decoders raise many unrelated types; name the file instead
        raise GSTError(f"cannot read image {path}: {error}") from error
    return _to_channel_last(np.asarray(image), path)


def read_image_or_stack(path: str | Path, channels: int = 1) -> np.ndarray:
    """Return a file as an image (H, W[, C]) or a stack of planes (T, H, W[, C]).

    For prediction, where a multi-page TIFF is a time-lapse or z-stack: a 3-D array whose
    last axis is wider than :func:`read_image`'s channel limit (8) and whose first axis is
    not ``channels`` (the network's inputs) is a stack of grey planes; a 4-D array is a stack
    of (H, W, C) planes, or of (C, H, W) ones when its last axis is that wide. Everything
    else is read as :func:`read_image` reads it.
    """
    path = Path(path)
    if not path.is_file():
        raise GSTError(f"image file {path} does not exist")
    try:
        raw = np.asarray(_decode(path))
    except Exception as error:  # decoders raise many unrelated types; name the file instead
        raise GSTError(f"cannot read image {path}: {error}") from error
    raw = raw.reshape([size for size in raw.shape if size != 1] or [1])  # drop unit axes
    if raw.ndim == 4:
        planes = raw if raw.shape[-1] <= _MAX_CHANNELS else np.moveaxis(raw, 1, -1)
        return np.stack([_to_channel_last(plane, path) for plane in planes])
    if raw.ndim == 3 and raw.shape[-1] > _MAX_CHANNELS and raw.shape[0] != channels:
        return np.stack([_to_channel_last(plane, path) for plane in raw])
    return _to_channel_last(raw, path)


def _decode(path: Path) -> np.ndarray:
    """Return the raw decoded array of ``path`` (tifffile for TIFF, imageio otherwise)."""
    if path.suffix.lower() in _TIFF_SUFFIXES:
        import tifffile

        return tifffile.imread(path)
    import imageio.v3 as iio

    return iio.imread(path)


def _to_channel_last(image: np.ndarray, path: Path) -> np.ndarray:
    """Return ``image`` squeezed to (H, W) or (H, W, C), without a constant alpha channel."""
    image = np.squeeze(image) if image.ndim > 3 else image
    if image.ndim == 3 and image.shape[-1] > _MAX_CHANNELS:
        if image.shape[0] > _MAX_CHANNELS:  # neither end looks like channels: a stack
            raise GSTError(
                f"image {path} has shape {image.shape}, a stack of {image.shape[0]} planes; "
                "expected a 2D image (H, W) or (H, W, C) with at most "
                f"{_MAX_CHANNELS} channels"
            )
        image = np.moveaxis(image, 0, -1)
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise GSTError(
            f"image {path} has shape {image.shape}; expected a 2D image (H, W) or (H, W, C)"
        )
    if image.dtype == bool:
        image = image.astype(np.uint8)
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise GSTError(f"image {path} has unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] in (2, 4) and _is_constant(image[..., -1]):
        image = image[..., :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    return np.ascontiguousarray(image)


def _is_constant(channel: np.ndarray) -> bool:
    """Return True when every pixel of ``channel`` has the same value."""
    flat = channel.reshape(-1)
    return bool(np.all(flat == flat[0]))
