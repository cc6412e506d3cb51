"""Read the plugin's settings (napari Preferences > Plugins > napari-gst), with safe defaults."""

from __future__ import annotations

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


def cache_dir() -> Path | None:
    """Return the cache folder for Gaussian fits from the settings, or None when unset."""
    folder = getattr(_compute_settings(), "cache_dir", "")
    return Path(folder).expanduser() if folder else None
