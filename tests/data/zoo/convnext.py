"""A timm-style ConvNeXt: channels-last LayerNorm subclass, layer scale as an optional
parameter, stochastic depth, stages with gradient checkpointing, a norm + MLP classifier head."""

from functools import partial
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import DropPath, Mlp, checkpoint_seq


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


class GlobalResponseNorm(nn.Module):
    """Global Response Normalization layer (ConvNeXt-V2), channels last."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_g = x.norm(p=2, dim=(1, 2), keepdim=True)
        x_n = x_g / (x_g.mean(dim=-1, keepdim=True) + self.eps)
        return x + torch.addcmul(self.bias.view(1, 1, 1, -1), self.weight.view(1, 1, 1, -1), x * x_n)


class ConvNeXtBlock(nn.Module):
    def __init__(
        self,
        in_chs: int,
        out_chs: Optional[int] = None,
        kernel_size: int = 7,
        stride: int = 1,
        mlp_ratio: float = 4,
        conv_bias: bool = True,
        use_grn: bool = False,
        ls_init_value: Optional[float] = 1e-6,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        out_chs = out_chs or in_chs
        self.conv_dw = nn.Conv2d(
            in_chs,
            out_chs,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=in_chs,
            bias=conv_bias,
        )
        self.norm = nn.LayerNorm(out_chs, eps=1e-6)
        self.mlp = Mlp(out_chs, int(mlp_ratio * out_chs), act_layer=nn.GELU)
        self.grn = GlobalResponseNorm(int(mlp_ratio * out_chs)) if use_grn else nn.Identity()
        self.gamma = nn.Parameter(ls_init_value * torch.ones(out_chs)) if ls_init_value else None
        if in_chs != out_chs or stride != 1:
            self.shortcut = nn.Sequential(
                nn.AvgPool2d(stride, ceil_mode=True) if stride > 1 else nn.Identity(),
                nn.Conv2d(in_chs, out_chs, 1),
            )
        else:
            self.shortcut = nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_dw(x)
        x = x.permute(0, 2, 3, 1)
        x = self.norm(x)
        x = self.mlp(x)
        x = x.permute(0, 3, 1, 2)
        if self.gamma is not None:
            x = x.mul(self.gamma.reshape(1, -1, 1, 1))
        x = self.drop_path(x) + self.shortcut(shortcut)
        return x


class ConvNeXtStage(nn.Module):
    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 2,
        depth: int = 2,
        drop_path_rates: Optional[List[float]] = None,
        ls_init_value: float = 1.0,
        use_grn: bool = False,
    ) -> None:
        super().__init__()
        self.grad_checkpointing = False
        if in_chs != out_chs or stride > 1:
            self.downsample = nn.Sequential(
                LayerNorm2d(in_chs),
                nn.Conv2d(in_chs, out_chs, kernel_size=stride, stride=stride),
            )
            in_chs = out_chs
        else:
            self.downsample = nn.Identity()

        drop_path_rates = drop_path_rates or [0.0] * depth
        stage_blocks = []
        for i in range(depth):
            stage_blocks.append(
                ConvNeXtBlock(
                    in_chs=in_chs,
                    out_chs=out_chs,
                    drop_path=drop_path_rates[i],
                    ls_init_value=ls_init_value,
                    use_grn=use_grn,
                )
            )
            in_chs = out_chs
        self.blocks = nn.Sequential(*stage_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return x


class NormMlpClassifierHead(nn.Module):
    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_size: Optional[int] = None,
        pool_type: str = "avg",
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.hidden_size = hidden_size
        self.num_features = hidden_size or in_features
        self.use_conv = not pool_type
        self.global_pool = nn.AdaptiveAvgPool2d(1) if pool_type == "avg" else nn.AdaptiveMaxPool2d(1)
        self.norm = LayerNorm2d(in_features)
        self.flatten = nn.Flatten(1)
        if hidden_size:
            self.pre_logits = nn.Sequential(nn.Linear(in_features, hidden_size), nn.Tanh())
        else:
            self.pre_logits = nn.Identity()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        x = self.norm(x)
        x = self.flatten(x)
        x = self.pre_logits(x)
        x = self.drop(x)
        if pre_logits:
            return x
        x = self.fc(x)
        return x


class ConvNeXt(nn.Module):
    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        depths: Tuple[int, ...] = (3, 3, 9, 3),
        dims: Tuple[int, ...] = (96, 192, 384, 768),
        ls_init_value: Optional[float] = 1e-6,
        head_hidden_size: Optional[int] = None,
        use_grn: bool = False,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.feature_info = []

        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, dims[0], kernel_size=4, stride=4),
            LayerNorm2d(dims[0]),
        )
        dp_rates = [
            x.tolist() for x in torch.linspace(0, drop_path_rate, sum(depths)).split(list(depths))
        ]
        stages = []
        prev_chs = dims[0]
        for i in range(len(depths)):
            stride = 1 if i == 0 else 2
            stages.append(
                ConvNeXtStage(
                    prev_chs,
                    dims[i],
                    stride=stride,
                    depth=depths[i],
                    drop_path_rates=dp_rates[i],
                    ls_init_value=ls_init_value,
                    use_grn=use_grn,
                )
            )
            prev_chs = dims[i]
            self.feature_info += [dict(num_chs=prev_chs, reduction=4 * 2**i, module=f"stages.{i}")]
        self.stages = nn.Sequential(*stages)
        self.num_features = prev_chs
        self.head = NormMlpClassifierHead(
            self.num_features,
            num_classes,
            hidden_size=head_hidden_size,
            pool_type=global_pool,
            drop_rate=self.drop_rate,
        )
        named_apply(partial(_init_weights, head_init_scale=1.0), self)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)")

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for s in self.stages:
            s.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    @torch.jit.export
    def forward_intermediates(self, x: torch.Tensor) -> List[torch.Tensor]:
        intermediates: List[torch.Tensor] = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            intermediates.append(x)
        return intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stages(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=True) if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        x = self.forward_head(x)
        return x


def _init_weights(module: nn.Module, name: Optional[str] = None, head_init_scale: float = 1.0):
    if isinstance(module, nn.Conv2d):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
        if name and "head." in name:
            module.weight.data.mul_(head_init_scale)
            module.bias.data.mul_(head_init_scale)


def named_apply(
    fn: Callable, module: nn.Module, name: str = "", depth_first: bool = True
) -> nn.Module:
    for child_name, child_module in module.named_children():
        child_name = ".".join((name, child_name)) if name else child_name
        named_apply(fn=fn, module=child_module, name=child_name, depth_first=depth_first)
    if depth_first:
        fn(module=module, name=name)
    return module


def convnext_pico(num_classes: int = 10, **kwargs) -> ConvNeXt:
    return ConvNeXt(num_classes=num_classes, depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), **kwargs)


