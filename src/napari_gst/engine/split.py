"""Choose the images that select the best model when no validation set is given."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def hold_out(
    items: Sequence, fraction: float, min_images: int, seed: int
) -> tuple[list, list, str]:
    """Return (training items, validation items, a sentence saying what was done).

    A random ``fraction`` of the images (at least ``min_images``) is held out for validation,
    provided at least ``min_images`` images are left to train on. With fewer images than that,
    nothing is held out and the returned validation list is empty: the caller then selects the
    best model on the training images themselves (an optimistic but still useful signal;
    counting scores each with the gain of the others, ``Task.score_training``).
    """
    items = list(items)
    n_val = max(int(round(fraction * len(items))), min_images) if fraction > 0 else 0
    if n_val == 0 or len(items) - n_val < min_images:
        reason = (
            "val_fraction is 0"
            if n_val == 0
            else f"{len(items)} images are too few to hold some out"
        )
        return (
            items,
            [],
            f"{reason}: the best model is chosen by its MAE on the training images",
        )
    order = np.random.default_rng(seed).permutation(len(items))
    val = [items[i] for i in sorted(order[:n_val])]
    train = [items[i] for i in sorted(order[n_val:])]
    return train, val, f"held out {n_val} of {len(items)} images for validation"
