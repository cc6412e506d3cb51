"""Session state shared by the dock widgets of one viewer: the current model, extra annotations."""

from __future__ import annotations

import weakref

from psygnal import Signal

from ..data.annotations import AnnotatedImage


class SessionState:
    """Evented store for what the training and prediction widgets share.

    ``model`` is whatever ``napari_gst.engine`` returns for a trained or loaded model;
    the widgets never look inside it beyond the engine's API. ``annotations`` holds
    pairs registered by hand (e.g. corrected detections) for the training widget.
    """

    model_changed = Signal(object)
    annotations_changed = Signal()

    def __init__(self) -> None:
        self._model: object | None = None
        self.model_source = ""
        self._annotations: dict[str, AnnotatedImage] = {}

    @property
    def model(self) -> object | None:
        """Return the current model (None until one is trained or loaded)."""
        return self._model

    def set_model(self, model: object | None, source: str) -> None:
        """Make ``model`` current; ``source`` says where it came from (shown to the user)."""
        self._model = model
        self.model_source = source
        self.model_changed.emit(model)

    @property
    def annotations(self) -> list[AnnotatedImage]:
        """Return the registered training pairs, in registration order."""
        return list(self._annotations.values())

    def add_annotations(self, pair: AnnotatedImage) -> None:
        """Register ``pair`` for training, replacing an earlier pair of the same name."""
        self._annotations[pair.name] = pair
        self.annotations_changed.emit()

    def remove_annotations(self, name: str) -> None:
        """Forget the pair called ``name`` (no error when absent)."""
        if self._annotations.pop(name, None) is not None:
            self.annotations_changed.emit()


# One state per viewer, keyed by id; the entry dies with its viewer (weakref.finalize),
# so tests that open many viewers never see each other's models.
_STATES: dict[int, SessionState] = {}


def unwrap_viewer(viewer: object) -> object:
    """Return the viewer behind napari's ``PublicOnlyProxy`` (plugin widgets receive one).

    Each widget gets its own proxy object, so proxies cannot key shared state, and layers
    read through them are new proxies on every access (``is`` never matches). We only use
    public API on the unwrapped viewer.
    """
    inner = getattr(viewer, "__wrapped__", None)
    while inner is not None and inner is not viewer:
        viewer, inner = inner, getattr(inner, "__wrapped__", None)
    return viewer


def session_state(viewer: object) -> SessionState:
    """Return the :class:`SessionState` of ``viewer``, creating it on first use."""
    viewer = unwrap_viewer(viewer)
    key = id(viewer)
    state = _STATES.get(key)
    if state is None:
        state = _STATES[key] = SessionState()
        weakref.finalize(viewer, _STATES.pop, key, None)
    return state
