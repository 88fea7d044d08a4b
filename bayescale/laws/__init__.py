"""Scaling laws: small immutable descriptions, fitted by :mod:`bayescale.sampling`."""

from .base import LAWS, Law, law_from_dict, register_law
from .chinchilla import ChinchillaLaw

__all__ = ["LAWS", "Law", "ChinchillaLaw", "law_from_dict", "register_law"]
