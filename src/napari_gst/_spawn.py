"""Whether a spawned worker process would run the caller's script again (and so must not start).

A process started with multiprocessing's "spawn" imports the parent's ``__main__`` file
afresh (as ``__mp_main__``). A script that trains at module level without an
``if __name__ == "__main__":`` guard then runs its whole training again in the child, which
fails; torch's DataLoader does not notice, and the parent waits forever for its worker
(measured: a 6-image run hung until killed). The same happens to a script that keeps napari
open at module level (``napari.run()``) and trains from a widget. So, before starting a
worker, the engine asks :func:`spawn_reruns_main` and builds batches in-process instead.
"""

from __future__ import annotations

import ast
import sys
import threading
from functools import lru_cache
from pathlib import Path


def spawn_reruns_main() -> bool:
    """Return True if a spawned process would re-run code that ``__main__`` is running now.

    That is the case while the main thread executes the module-level code of a ``__main__``
    that has a source file, at a line outside every ``if __name__ == "__main__":`` block.
    Scripts read from stdin or ``-c``, notebooks and consoles have no file to re-import,
    multiprocessing skips a package's ``__main__`` (``python -m package``), and guarded
    scripts skip the guarded block.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name.split(".")[-1] == "__main__":
        return False  # `python -m package`: multiprocessing does not re-import it
    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py") or not Path(path).is_file():
        return False
    frame = _main_module_frame(main)
    if frame is None:
        return False
    return frame.f_lineno not in _guarded_lines(str(Path(path).resolve()))


def _main_module_frame(main):
    """Return the main thread's frame that runs ``__main__``'s module-level code, or None."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            return frame
        frame = frame.f_back
    return None


@lru_cache(maxsize=8)
def _guarded_lines(path: str) -> frozenset[int]:
    """Return the line numbers of ``path`` inside ``if __name__ == "__main__":`` blocks."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return frozenset()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _tests_main_name(node.test):
            for statement in node.body:
                lines.update(range(statement.lineno, (statement.end_lineno or 0) + 1))
    return frozenset(lines)


def _tests_main_name(test: ast.expr) -> bool:
    """Return whether ``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [side for side in sides if isinstance(side, ast.Name) and side.id == "__name__"]
    texts = [side for side in sides if isinstance(side, ast.Constant) and side.value == "__main__"]
    return len(names) == 1 and len(texts) == 1
