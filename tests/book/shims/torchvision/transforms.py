"""``ToTensor``, ``Resize`` and ``Compose`` on ``uint8 [H, W]`` (or ``[C, H, W]``) tensors."""

from __future__ import annotations

import torch
from torch.nn import functional as F


class ToTensor:
    """``uint8 [H, W]`` → ``float32 [1, H, W]`` in [0, 1] (``[H, W, C]`` → ``[C, H, W]``)."""

    def __call__(self, pic: torch.Tensor) -> torch.Tensor:
        pic = torch.as_tensor(pic)
        if pic.dim() == 2:
            pic = pic[None]
        elif pic.dim() == 3 and pic.shape[-1] in (1, 3, 4) and pic.shape[0] not in (1, 3, 4):
            pic = pic.permute(2, 0, 1)
        return pic.float().div(255) if pic.dtype == torch.uint8 else pic.float()


class Resize:
    """Resize to ``size`` (int: the shorter side; (h, w): exactly), bilinear with antialiasing."""

    def __init__(self, size) -> None:
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        img = torch.as_tensor(img)
        squeeze = img.dim() == 2
        x = img[None, None] if squeeze else img[None]
        h, w = x.shape[-2:]
        if isinstance(self.size, int):
            short = min(h, w)
            size = (round(h * self.size / short), round(w * self.size / short))
        else:
            size = tuple(self.size)
        out = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
        if img.dtype == torch.uint8:
            out = out.round().clamp(0, 255).to(torch.uint8)
        return out[0, 0] if squeeze else out[0]


class Compose:
    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img
