"""Losses for density regression behind one interface: ``loss(density, targets)``.

GST (the method of this package) and the baselines it is compared with: direct L2
regression, the Bayesian loss and DM-Count's OT loss.
"""

from .bayesian import BayesianLoss
from .gst import GSTLoss
from .l2 import L2DensityLoss
from .ot import OTLoss
from .registry import LOSSES, make_loss
from .target import PointTarget

__all__ = [
    "LOSSES",
    "BayesianLoss",
    "GSTLoss",
    "L2DensityLoss",
    "OTLoss",
    "PointTarget",
    "make_loss",
]
