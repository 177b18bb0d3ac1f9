"""A minimal stand-in for ``torchvision``, used only by the book-chapter runner when the real package cannot be
imported (its PyPI wheels need a CUDA build of torch; divekit's environment has the CPU build).

It provides exactly what the image-classification-dataset chapter touches — ``datasets.FashionMNIST`` (read from
``<root>/FashionMNIST/raw`` with divekit's IDX reader, no download) and ``transforms.ToTensor/Resize/Compose`` —
so that chapter can run; it is not torchvision. Differences: images are ``uint8 [H, W]`` tensors instead of PIL
images, and ``Resize`` is bilinear with antialiasing on tensors. The runner reports chapters run this way as
``PASS (shim)``.
"""

from . import datasets, transforms

__version__ = "0.0-divekit-shim"
__all__ = ["datasets", "transforms"]
