"""Read the plugin's settings (napari Preferences > Plugins > napari-gst), with safe defaults."""

from __future__ import annotations

import os
from pathlib import Path

PLUGIN_NAME = "napari-gst"
DEVICES = ("auto", "cpu", "cuda")


def _compute_settings() -> object | None:
    """Return the ``compute`` settings group, or None when napari has no settings for us."""
    try:
        from napari.settings import get_plugin_settings

        return get_plugin_settings(PLUGIN_NAME).compute
    except (KeyError, AttributeError, ImportError):
        # The plugin may be used without being registered (e.g. widgets built by hand).
        return None


def default_device() -> str:
    """Return the default device choice from the settings: "auto", "cpu" or "cuda"."""
    settings = _compute_settings()
    device = getattr(settings, "device", "auto")
    return device if device in DEVICES else "auto"


def cache_dir() -> Path:
    """Return the folder for cached Gaussian fits: the setting, else the user cache folder.

    The default follows the XDG convention ($XDG_CACHE_HOME, else ~/.cache) so fits are
    reused across sessions and can be wiped like any other cache.
    """
    folder = getattr(_compute_settings(), "cache_dir", "")
    if folder:
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-gst" / "fits"
