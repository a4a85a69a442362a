"""``scan``: symbolic loops, their gradient (backpropagation through time) and checkpointing."""

from symrnn.scan.basic import Until, scan, until
from symrnn.scan.op import Scan, ScanInfo

__all__ = ["Scan", "ScanInfo", "Until", "scan", "until"]
