"""Scaling laws: small immutable descriptions (fitted by :mod:`bayescale.fitting`) and their
registry."""

from .base import LAWS, Law, law_from_dict, make_law, register_law
from .broken_power import BrokenPowerLaw
from .chinchilla import ChinchillaLaw
from .data_constrained import DataConstrainedLaw
from .isoflop import IsoFLOPLaw
from .kaplan import KaplanC, KaplanD, KaplanJoint, KaplanN
from .link import LINKS, ExpLink, SigmoidLink
from .score import ScoreLogLinear, ScoreSaturating

__all__ = [
    "LAWS",
    "LINKS",
    "BrokenPowerLaw",
    "ChinchillaLaw",
    "DataConstrainedLaw",
    "ExpLink",
    "IsoFLOPLaw",
    "KaplanC",
    "KaplanD",
    "KaplanJoint",
    "KaplanN",
    "Law",
    "ScoreLogLinear",
    "ScoreSaturating",
    "SigmoidLink",
    "law_from_dict",
    "make_law",
    "register_law",
]
