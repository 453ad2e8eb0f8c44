"""Building blocks shared by the corpus models (shaped like torchvision.ops.misc and friends)."""

import logging
from typing import Callable, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

logger = logging.getLogger(__name__)


def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    """Round `v` to the nearest multiple of `divisor`, never going down by more than 10%."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding."""
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ConvNormActivation(nn.Sequential):
    """Conv2d -> norm -> activation, as one Sequential (no forward of its own)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: Optional[int] = None,
        groups: int = 1,
        norm_layer: Optional[Callable[..., nn.Module]] = nn.BatchNorm2d,
        activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU,
        dilation: int = 1,
        inplace: Optional[bool] = True,
        bias: Optional[bool] = None,
    ) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers: List[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al.): channel attention from a global average."""

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: Callable[..., nn.Module] = nn.ReLU,
        scale_activation: Callable[..., nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input: Tensor) -> Tensor:
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input: Tensor) -> Tensor:
        scale = self._scale(input)
        return scale * input


def _log_api_usage_once(obj: object) -> None:
    """Eager-only telemetry; scripted code never sees it (guarded by is_scripting)."""
    name = getattr(obj, "__qualname__", type(obj).__name__)
    logger.debug("tscheck corpus: %s used", name)


def stochastic_depth(input: Tensor, p: float, mode: str, training: bool = True) -> Tensor:
    """Randomly drop whole residual branches ("row") or the whole batch ("batch")."""
    if not torch.jit.is_scripting() and not torch.jit.is_tracing():
        _log_api_usage_once(stochastic_depth)
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input

    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input: Tensor) -> Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"


@torch.jit.script
def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle, scripted at import like many library helpers."""
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, -1, height, width)


def global_pool(x: Tensor, kind: str = "avg") -> Tensor:
    if kind == "avg":
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
    return F.adaptive_max_pool2d(x, 1).flatten(1)


@torch.jit.interface
class ActivationInterface(nn.Module):
    """Any module mapping a tensor to a tensor; lets a scripted model swap its activation."""

    # Parameter names are part of the interface: torch's activations call theirs `input`.
    def forward(self, input: Tensor) -> Tensor:  # an interface: only the signature is compiled
        pass


class GatedActivation(nn.Module):
    act: ActivationInterface

    def __init__(self, act: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.act = act if act is not None else nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.act(x))


def to_batch(images: Union[Tensor, List[Tensor]]) -> Tensor:
    """Accept one NCHW tensor or a list of CHW tensors (of one size)."""
    if isinstance(images, Tensor):
        return images
    return torch.stack(images)


try:  # an optional fused kernel, the way many repositories probe for apex
    from apex.normalization import FusedLayerNorm as _FusedLayerNorm  # type: ignore[import-not-found]
except ImportError:
    _FusedLayerNorm = None

HAS_FUSED_LAYER_NORM = _FusedLayerNorm is not None
