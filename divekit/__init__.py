"""divekit: a hands-on deep learning toolkit for PyTorch.

Importing the package is cheap: submodules (and torch) load only when used.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
