"""Choose the device and numeric settings once per process (house style G11)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    """Where and how models run.

    Attributes
    ----------
    device : torch.device
        ``cuda`` when available, else ``cpu``.
    amp_dtype : torch.dtype or None
        ``torch.bfloat16`` autocast on CUDA (no loss scaling needed, unlike fp16); None on CPU.
    channels_last : bool
        NHWC memory format on CUDA, where cuDNN convolutions are faster with it.
    pin_memory : bool
        Page-locked host buffers for faster host-to-GPU copies.
    """

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    pin_memory: bool

    def autocast(self) -> torch.autocast:
        """An autocast context: bf16 on CUDA, disabled on CPU."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """Move an image batch ``(N, C, H, W)`` to the device in the chosen memory format."""
        images = images.to(self.device, non_blocking=self.pin_memory)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


@functools.lru_cache(maxsize=1)
def runtime() -> Runtime:
    """The process-wide :class:`Runtime`, decided on first call."""
    if torch.cuda.is_available():
        return Runtime(torch.device("cuda"), torch.bfloat16, channels_last=True, pin_memory=True)
    return Runtime(torch.device("cpu"), None, channels_last=False, pin_memory=False)
