"""Ground truth for torch.nn's own modules: every nn.Module class defined in torch.nn.modules,
how to build it, and what torch.jit.script does with it (torch 2.13).

torch.nn's modules are written to script, so a tscheck finding in one that scripts is a false
positive. `tests/test_nn_modules.py` proves every verdict below with the real compiler
(script + save + load, one forked child per class) and that this table lists every class;
bench/accuracy.py reads it without importing torch.

A class is one of:
- scripted with `args` and accepted (`rejected is None`);
- scripted with `args` and rejected, the compiler's message containing `rejected`;
- not scripted (`skip` says why: an abstract base whose forward reads an attribute or calls a
  method that only its subclasses define, or a deprecated mixin that cannot be built alone).
Lazy modules are called once on `warmup` (their parameters exist only after the first call),
then scripted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NNClass:
    """`args` is the constructor's argument list, evaluated with `torch` and `nn` in scope."""

    module: str  # the file under torch/nn/modules, without .py
    name: str
    args: str = ""
    rejected: str | None = None  # a substring of the compiler's message; None: it scripts
    skip: str | None = None
    warmup: str | None = None  # a lazy module's first input, run before scripting

    @property
    def id(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def target(self) -> str:
        built = f"{self.name}({self.args})"
        return f"warmed_up({built}, {self.warmup})" if self.warmup else built

    @property
    def code(self) -> str:
        """The module the target is evaluated in (compile_worker.py's `code`)."""
        return (
            "import torch\nimport torch.nn as nn\n"
            f"from torch.nn.modules.{self.module} import {self.name}\n\n\n"
            "def warmed_up(module: nn.Module, x: torch.Tensor) -> nn.Module:\n"
            "    module(x)\n"
            "    return module\n"
        )


BASE = "abstract base: its forward needs an attribute or method only its subclasses define"
DEPRECATED = (
    "deprecated mixin whose constructor needs a concrete transposed convolution's arguments"
)

# torch 2.13: scripting MaxUnpool1d/2d/3d trips a compiler assert ("Expected IntList but got Int").
UNPOOL = "INTERNAL ASSERT FAILED"

_C = NNClass  # the table below is long; one letter keeps each class on one line

NN_CLASSES: tuple[NNClass, ...] = (
    # activation
    _C("activation", "Threshold", "0.1, 20.0"),
    _C("activation", "ReLU"),
    _C("activation", "RReLU"),
    _C("activation", "Hardtanh"),
    _C("activation", "ReLU6"),
    _C("activation", "Sigmoid"),
    _C("activation", "Hardsigmoid"),
    _C("activation", "Tanh"),
    _C("activation", "SiLU"),
    _C("activation", "Mish"),
    _C("activation", "Hardswish"),
    _C("activation", "ELU"),
    _C("activation", "CELU"),
    _C("activation", "SELU"),
    _C("activation", "GLU"),
    _C("activation", "GELU"),
    _C("activation", "Hardshrink"),
    _C("activation", "LeakyReLU"),
    _C("activation", "LogSigmoid"),
    _C("activation", "Softplus"),
    _C("activation", "Softshrink"),
    _C("activation", "MultiheadAttention", "8, 2"),
    _C("activation", "PReLU"),
    _C("activation", "Softsign"),
    _C("activation", "Tanhshrink"),
    _C("activation", "Softmin", "1"),
    _C("activation", "Softmax", "1"),
    _C("activation", "Softmax2d"),
    _C("activation", "LogSoftmax", "1"),
    # adaptive
    _C(
        "adaptive",
        "AdaptiveLogSoftmaxWithLoss",
        "8, 10, [4, 8]",
        rejected="Unknown type annotation",
    ),
    # batchnorm
    _C("batchnorm", "_NormBase", "4"),
    _C("batchnorm", "_BatchNorm", "4"),
    _C("batchnorm", "_LazyNormBase", skip=BASE),
    _C("batchnorm", "BatchNorm1d", "4"),
    _C("batchnorm", "LazyBatchNorm1d", warmup="torch.ones(2, 4)"),
    _C("batchnorm", "BatchNorm2d", "4"),
    _C("batchnorm", "LazyBatchNorm2d", warmup="torch.ones(2, 4, 3, 3)"),
    _C("batchnorm", "BatchNorm3d", "4"),
    _C("batchnorm", "LazyBatchNorm3d", warmup="torch.ones(2, 4, 3, 3, 3)"),
    _C(
        "batchnorm",
        "SyncBatchNorm",
        "4",
        rejected="attribute lookup is not defined on python value of type 'module'",
    ),
    # channelshuffle
    _C("channelshuffle", "ChannelShuffle", "2"),
    # container
    _C("container", "Container"),
    _C("container", "Sequential", "nn.Linear(4, 4), nn.ReLU()"),
    _C("container", "ModuleList", "[nn.Linear(4, 4)]"),
    _C("container", "ModuleDict", "{'a': nn.Linear(4, 4)}"),
    _C("container", "ParameterList", "[nn.Parameter(torch.ones(2))]"),
    _C("container", "ParameterDict", "{'a': nn.Parameter(torch.ones(2))}"),
    # conv
    _C("conv", "_ConvNd", "2, 2, (1,), (1,), (0,), (1,), False, (0,), 1, True, 'zeros'"),
    _C("conv", "Conv1d", "2, 4, 3"),
    _C("conv", "Conv2d", "2, 4, 3"),
    _C("conv", "Conv3d", "2, 4, 3"),
    _C("conv", "_ConvTransposeNd", "2, 2, (1,), (1,), (0,), (1,), True, (0,), 1, True, 'zeros'"),
    _C("conv", "ConvTranspose1d", "2, 4, 3"),
    _C("conv", "ConvTranspose2d", "2, 4, 3"),
    _C("conv", "ConvTranspose3d", "2, 4, 3"),
    _C("conv", "_ConvTransposeMixin", skip=DEPRECATED),
    _C("conv", "LazyConv1d", "4, 3", warmup="torch.ones(1, 2, 5)"),
    _C("conv", "LazyConv2d", "4, 3", warmup="torch.ones(1, 2, 5, 5)"),
    _C("conv", "LazyConv3d", "4, 3", warmup="torch.ones(1, 2, 5, 5, 5)"),
    _C("conv", "LazyConvTranspose1d", "4, 3", warmup="torch.ones(1, 2, 5)"),
    _C("conv", "LazyConvTranspose2d", "4, 3", warmup="torch.ones(1, 2, 5, 5)"),
    _C("conv", "LazyConvTranspose3d", "4, 3", warmup="torch.ones(1, 2, 5, 5, 5)"),
    # distance
    _C("distance", "PairwiseDistance"),
    _C("distance", "CosineSimilarity"),
    # dropout
    _C("dropout", "_DropoutNd"),
    _C("dropout", "Dropout"),
    _C("dropout", "Dropout1d"),
    _C("dropout", "Dropout2d"),
    _C("dropout", "Dropout3d"),
    _C("dropout", "AlphaDropout"),
    _C("dropout", "FeatureAlphaDropout"),
    # flatten
    _C("flatten", "Flatten"),
    _C("flatten", "Unflatten", "1, (2, 2)"),
    # fold
    _C("fold", "Fold", "(4, 5), (2, 2)"),
    _C("fold", "Unfold", "(2, 3)"),
    # instancenorm
    _C("instancenorm", "_InstanceNorm", "4", skip=BASE),
    _C("instancenorm", "InstanceNorm1d", "4"),
    _C("instancenorm", "LazyInstanceNorm1d", warmup="torch.ones(2, 4, 5)"),
    _C("instancenorm", "InstanceNorm2d", "4"),
    _C("instancenorm", "LazyInstanceNorm2d", warmup="torch.ones(2, 4, 5, 5)"),
    _C("instancenorm", "InstanceNorm3d", "4"),
    _C("instancenorm", "LazyInstanceNorm3d", warmup="torch.ones(2, 4, 5, 5, 5)"),
    # linear
    _C("linear", "Identity"),
    _C("linear", "Linear", "4, 2"),
    _C("linear", "NonDynamicallyQuantizableLinear", "4, 2"),
    _C("linear", "Bilinear", "4, 3, 2"),
    _C("linear", "LazyLinear", "3", warmup="torch.ones(2, 4)"),
    # loss
    _C("loss", "_Loss"),
    _C("loss", "_WeightedLoss"),
    _C("loss", "L1Loss"),
    _C("loss", "NLLLoss"),
    _C("loss", "NLLLoss2d"),
    _C("loss", "PoissonNLLLoss"),
    _C("loss", "GaussianNLLLoss", rejected="Comprehension ifs are not supported yet"),
    _C("loss", "KLDivLoss"),
    _C("loss", "MSELoss"),
    _C("loss", "BCELoss"),
    _C("loss", "BCEWithLogitsLoss"),
    _C("loss", "HingeEmbeddingLoss"),
    _C("loss", "MultiLabelMarginLoss"),
    _C("loss", "SmoothL1Loss"),
    _C("loss", "HuberLoss"),
    _C("loss", "SoftMarginLoss"),
    _C("loss", "CrossEntropyLoss"),
    _C("loss", "LinearCrossEntropyLoss", "8, 10", rejected="Failed to get source"),
    _C("loss", "MultiLabelSoftMarginLoss"),
    _C("loss", "CosineEmbeddingLoss"),
    _C("loss", "MarginRankingLoss"),
    _C("loss", "MultiMarginLoss"),
    _C("loss", "TripletMarginLoss"),
    _C(
        "loss",
        "TripletMarginWithDistanceLoss",
        rejected="keyword-only arguments with defaults",
    ),
    _C("loss", "CTCLoss"),
    # module
    _C("module", "Module"),
    # normalization
    _C("normalization", "LocalResponseNorm", "2"),
    _C(
        "normalization",
        "CrossMapLRN2d",
        "2",
        rejected="Could not export Python function call 'CrossMapLRN2d'",
    ),
    _C("normalization", "LayerNorm", "4"),
    _C("normalization", "GroupNorm", "2, 4"),
    _C("normalization", "RMSNorm", "4"),
    # padding
    _C("padding", "_CircularPadNd", skip=BASE),
    _C("padding", "CircularPad1d", "1"),
    _C("padding", "CircularPad2d", "1"),
    _C("padding", "CircularPad3d", "1"),
    _C("padding", "_ConstantPadNd", skip=BASE),
    _C("padding", "ConstantPad1d", "1, 0.5"),
    _C("padding", "ConstantPad2d", "1, 0.5"),
    _C("padding", "ConstantPad3d", "1, 0.5"),
    _C("padding", "_ReflectionPadNd", skip=BASE),
    _C("padding", "ReflectionPad1d", "1"),
    _C("padding", "ReflectionPad2d", "1"),
    _C("padding", "ReflectionPad3d", "1"),
    _C("padding", "_ReplicationPadNd", skip=BASE),
    _C("padding", "ReplicationPad1d", "1"),
    _C("padding", "ReplicationPad2d", "1"),
    _C("padding", "ReplicationPad3d", "1"),
    _C("padding", "ZeroPad1d", "1"),
    _C("padding", "ZeroPad2d", "1"),
    _C("padding", "ZeroPad3d", "1"),
    # pixelshuffle
    _C("pixelshuffle", "PixelShuffle", "2"),
    _C("pixelshuffle", "PixelUnshuffle", "2"),
    # pooling
    _C("pooling", "_MaxPoolNd", "2"),
    _C("pooling", "MaxPool1d", "2"),
    _C("pooling", "MaxPool2d", "2"),
    _C("pooling", "MaxPool3d", "2"),
    _C("pooling", "_MaxUnpoolNd"),
    _C("pooling", "MaxUnpool1d", "2", rejected=UNPOOL),
    _C("pooling", "MaxUnpool2d", "2", rejected=UNPOOL),
    _C("pooling", "MaxUnpool3d", "2", rejected=UNPOOL),
    _C("pooling", "_AvgPoolNd"),
    _C("pooling", "AvgPool1d", "2"),
    _C("pooling", "AvgPool2d", "2"),
    _C("pooling", "AvgPool3d", "2"),
    _C("pooling", "FractionalMaxPool2d", "2, output_size=3"),
    _C("pooling", "FractionalMaxPool3d", "2, output_size=3"),
    _C("pooling", "_LPPoolNd", "2.0, 2"),
    _C("pooling", "LPPool1d", "2.0, 2"),
    _C("pooling", "LPPool2d", "2.0, 2"),
    _C("pooling", "LPPool3d", "2.0, 2"),
    _C("pooling", "_AdaptiveMaxPoolNd", "2"),
    _C("pooling", "AdaptiveMaxPool1d", "2"),
    _C("pooling", "AdaptiveMaxPool2d", "2"),
    _C("pooling", "AdaptiveMaxPool3d", "2"),
    _C("pooling", "_AdaptiveAvgPoolNd", "2"),
    _C("pooling", "AdaptiveAvgPool1d", "2"),
    _C("pooling", "AdaptiveAvgPool2d", "2"),
    _C("pooling", "AdaptiveAvgPool3d", "2"),
    # rnn
    _C("rnn", "RNNBase", "'LSTM', 4, 3"),
    _C("rnn", "RNN", "4, 3"),
    _C("rnn", "LSTM", "4, 3"),
    _C("rnn", "GRU", "4, 3"),
    _C("rnn", "RNNCellBase", "4, 3, True, 1"),
    _C("rnn", "RNNCell", "4, 3"),
    _C("rnn", "LSTMCell", "4, 3"),
    _C("rnn", "GRUCell", "4, 3"),
    # sparse
    _C("sparse", "Embedding", "10, 4"),
    _C("sparse", "EmbeddingBag", "10, 4"),
    # transformer
    _C("transformer", "Transformer", "16, 2, 1, 1, 32"),
    _C("transformer", "TransformerEncoder", "nn.TransformerEncoderLayer(16, 2, 32), 2"),
    _C("transformer", "TransformerDecoder", "nn.TransformerDecoderLayer(16, 2, 32), 2"),
    _C("transformer", "TransformerEncoderLayer", "16, 2, 32"),
    _C("transformer", "TransformerDecoderLayer", "16, 2, 32"),
    # upsampling
    _C("upsampling", "Upsample", "scale_factor=2.0"),
    _C("upsampling", "UpsamplingNearest2d", "scale_factor=2.0"),
    _C("upsampling", "UpsamplingBilinear2d", "scale_factor=2.0"),
)

BY_NAME: dict[str, NNClass] = {c.name: c for c in NN_CLASSES}
