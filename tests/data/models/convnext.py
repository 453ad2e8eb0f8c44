"""ConvNeXt (Liu et al., "A ConvNet for the 2020s"), torchvision-shaped, with the extras that
production code grows: an EMA of feature statistics, named outputs, properties, and helpers that
are Python-only on purpose."""

from functools import partial
from typing import Any, Callable, List, NamedTuple, Optional, Sequence

import torch
from torch import nn, Tensor
from torch.nn import functional as F

from .layers import ConvNormActivation, StochasticDepth


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (inherits weight/bias/eps from nn.LayerNorm)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


class Permute(nn.Module):
    def __init__(self, dims: List[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    def __init__(
        self,
        dim: int,
        layer_scale: float,
        stochastic_depth_prob: float,
        norm_layer: Optional[Callable[..., nn.Module]] = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-6)

        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input: Tensor) -> Tensor:
        result = self.layer_scale * self.block(input)
        result = self.stochastic_depth(result)
        result += input
        return result


class CNBlockConfig:
    # Stores information listed at Section 3 of the ConvNeXt paper
    def __init__(self, input_channels: int, out_channels: Optional[int], num_layers: int) -> None:
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self) -> str:
        s = self.__class__.__name__ + "("
        s += "input_channels={input_channels}"
        s += ", out_channels={out_channels}"
        s += ", num_layers={num_layers}"
        s += ")"
        return s.format(**self.__dict__)


class ConvNeXtOutput(NamedTuple):
    logits: Tensor
    pooled: Tensor


class FeatureEMA(nn.Module):
    """Exponential moving average of pooled features, updated in training (a buffer + a counter)."""

    def __init__(self, dim: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(dim))
        self.steps = 0

    def forward(self, pooled: Tensor) -> Tensor:
        if self.training:
            with torch.no_grad():
                batch_mean = pooled.detach().mean(dim=0)
                self.mean.mul_(1.0 - self.momentum).add_(batch_mean, alpha=self.momentum)
            self.steps += 1
        return pooled - self.mean


class ConvNeXt(nn.Module):
    __jit_unused_properties__ = ["num_parameters"]

    def __init__(
        self,
        block_setting: List[CNBlockConfig],
        stochastic_depth_prob: float = 0.0,
        layer_scale: float = 1e-6,
        num_classes: int = 1000,
        block: Optional[Callable[..., nn.Module]] = None,
        norm_layer: Optional[Callable[..., nn.Module]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()

        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        elif not (isinstance(block_setting, Sequence) and all([isinstance(s, CNBlockConfig) for s in block_setting])):
            raise TypeError("The block_setting should be List[CNBlockConfig]")

        if block is None:
            block = CNBlock

        if norm_layer is None:
            norm_layer = partial(LayerNorm2d, eps=1e-6)

        layers: List[nn.Module] = []

        # Stem
        firstconv_output_channels = block_setting[0].input_channels
        layers.append(
            ConvNormActivation(
                3,
                firstconv_output_channels,
                kernel_size=4,
                stride=4,
                padding=0,
                norm_layer=norm_layer,
                activation_layer=None,
                bias=True,
            )
        )

        total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
        stage_block_id = 0
        for cnf in block_setting:
            # Bottlenecks
            stage: List[nn.Module] = []
            for _ in range(cnf.num_layers):
                # adjust stochastic depth probability based on the depth of the stage block
                sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                # Downsampling
                layers.append(
                    nn.Sequential(
                        norm_layer(cnf.input_channels),
                        nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2),
                    )
                )

        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

        lastblock = block_setting[-1]
        lastconv_output_channels = (
            lastblock.out_channels if lastblock.out_channels is not None else lastblock.input_channels
        )
        self.classifier = nn.Sequential(
            norm_layer(lastconv_output_channels), nn.Flatten(1), nn.Linear(lastconv_output_channels, num_classes)
        )
        self.ema = FeatureEMA(lastconv_output_channels)
        self.act = F.gelu
        self.temperature = 1.0
        self._last_channels = lastconv_output_channels

        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def out_channels(self) -> int:
        return self._last_channels

    @property
    def num_parameters(self) -> int:
        """Eager-only (listed in __jit_unused_properties__): a generator over .parameters()."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @staticmethod
    def _check_input(x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError("expected an NCHW batch, got " + str(x.dim()) + " dims")
        assert all([s > 0 for s in x.shape]), "empty input"

    @torch.jit.export
    def forward_features(self, x: Tensor, *, return_stages: bool) -> List[Tensor]:
        self._check_input(x)
        stages: List[Tensor] = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if return_stages and 0 < i < len(self.features) - 1:
                stages.append(x)
        stages.append(x)
        return stages

    def forward(self, x: Tensor, temperature: Optional[float] = None) -> ConvNeXtOutput:
        features = self.forward_features(x, return_stages=False)[-1]
        pooled = self.avgpool(features)
        logits = self.classifier(pooled)
        scale = getattr(self, "temperature", 1.0)
        if temperature is not None:
            scale = temperature
        pooled = self.ema(pooled.flatten(1))
        del features
        return ConvNeXtOutput(logits / scale, self.act(pooled))

    @torch.jit.export
    def stage_shapes(self, x: Tensor) -> List[List[int]]:
        """Shapes of every second stage output ("%d stages" in the message below)."""
        outs = self.forward_features(x, return_stages=True)
        if len(outs) == 0:
            raise RuntimeError("%d stages" % len(outs))
        return [list(o.shape) for o in outs[::2]]


def convnext_atto(num_classes: int = 10, **kwargs: Any) -> ConvNeXt:
    block_setting = [
        CNBlockConfig(16, 32, 1),
        CNBlockConfig(32, 64, 1),
        CNBlockConfig(64, None, 1),
    ]
    return ConvNeXt(block_setting, stochastic_depth_prob=0.1, num_classes=num_classes, **kwargs)
