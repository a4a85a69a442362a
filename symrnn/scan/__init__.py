"""``scan``: symbolic loops, their gradient (backpropagation through time) and checkpointing; Theano's scan
views (``map``, ``reduce``, ``foldl``, ``foldr``) and the lazy ``ifelse``."""

from symrnn.scan.basic import Until, foldl, foldr, map, reduce, scan, until
from symrnn.scan.ifelse import IfElse, ifelse
from symrnn.scan.op import Scan, ScanInfo

__all__ = ["IfElse", "Scan", "ScanInfo", "Until", "foldl", "foldr", "ifelse", "map", "reduce", "scan", "until"]
