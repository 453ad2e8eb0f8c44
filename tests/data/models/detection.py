"""A single-stage detector (RetinaNet-like), shaped like torchvision.models.detection.

Shows the scripting idioms of detection code: a TorchScript class for batched images,
Dict[str, Tensor] / List[Tensor] outputs, ModuleDict heads, `torch.jit.is_scripting()`
guards around eager-only code, and @torch.jit.export / unused / ignore methods.
"""

import abc
import logging
import math
import warnings
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .layers import ConvNormActivation

logger = logging.getLogger(__name__)


class ImageList:
    """Images padded to one batch tensor, with their original sizes (a TorchScript class)."""

    def __init__(self, tensors: Tensor, image_sizes: List[Tuple[int, int]]) -> None:
        self.tensors = tensors
        self.image_sizes = image_sizes

    def to(self, device: torch.device) -> "ImageList":
        cast_tensor = self.tensors.to(device)
        return ImageList(cast_tensor, self.image_sizes)


def box_area(boxes: Tensor) -> Tensor:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    return inter / union


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression; indices of kept boxes, highest score first."""
    order = scores.argsort(descending=True)
    ious = box_iou(boxes, boxes)
    suppressed = torch.zeros(boxes.size(0), dtype=torch.bool, device=boxes.device)
    keep: List[int] = []
    for i in range(order.numel()):
        idx = int(order[i])
        if bool(suppressed[idx]):
            continue
        keep.append(idx)
        suppressed |= ious[idx] > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS per class, by offsetting each class's boxes so they never overlap."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    boxes_for_nms = boxes + offsets[:, None]
    return nms(boxes_for_nms, scores, iou_threshold)


def clip_boxes_to_image(boxes: Tensor, size: Tuple[int, int]) -> Tensor:
    height, width = size
    boxes_x = boxes[..., 0::2].clamp(min=0, max=width)
    boxes_y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((boxes_x, boxes_y), dim=-1).reshape(boxes.shape)


@torch.jit.script
def decode_boxes(rel_codes: Tensor, anchors: Tensor, weights: Tuple[float, float, float, float]) -> Tensor:
    """(dx, dy, dw, dh) deltas relative to anchors -> (x1, y1, x2, y2) boxes."""
    wx, wy, ww, wh = weights
    widths = anchors[:, 2] - anchors[:, 0]
    heights = anchors[:, 3] - anchors[:, 1]
    ctr_x = anchors[:, 0] + 0.5 * widths
    ctr_y = anchors[:, 1] + 0.5 * heights
    dx = rel_codes[:, 0] / wx
    dy = rel_codes[:, 1] / wy
    clip = math.log(1000.0 / 16)
    dw = (rel_codes[:, 2] / ww).clamp(max=clip)
    dh = (rel_codes[:, 3] / wh).clamp(max=clip)
    pred_ctr_x = dx * widths + ctr_x
    pred_ctr_y = dy * heights + ctr_y
    pred_w = torch.exp(dw) * widths
    pred_h = torch.exp(dh) * heights
    return torch.stack(
        (pred_ctr_x - 0.5 * pred_w, pred_ctr_y - 0.5 * pred_h, pred_ctr_x + 0.5 * pred_w, pred_ctr_y + 0.5 * pred_h),
        dim=1,
    )


class AnchorGenerator(nn.Module):
    """One set of anchors per feature map (one size per level, several aspect ratios)."""

    cell_anchors: List[Tensor]

    def __init__(self, sizes: Tuple[int, ...] = (32, 64), aspect_ratios: Tuple[float, ...] = (0.5, 1.0, 2.0)) -> None:
        super().__init__()
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        self.cell_anchors = [self.generate_anchors(s, aspect_ratios) for s in sizes]

    @staticmethod
    def generate_anchors(size: int, aspect_ratios: Tuple[float, ...]) -> Tensor:
        ratios = torch.as_tensor(aspect_ratios)
        h_ratios = torch.sqrt(ratios)
        w_ratios = 1 / h_ratios
        ws = w_ratios * size
        hs = h_ratios * size
        base = torch.stack([-ws, -hs, ws, hs], dim=1) / 2
        return base.round()

    def num_anchors_per_location(self) -> List[int]:
        return [int(a.size(0)) for a in self.cell_anchors]

    def grid_anchors(self, grid_sizes: List[List[int]], strides: List[List[int]]) -> List[Tensor]:
        anchors = []
        torch._assert(
            len(grid_sizes) == len(strides) == len(self.cell_anchors),
            "Anchors should be Tuple[Tuple[int]] because each feature map could potentially have different sizes",
        )
        for size, stride, base_anchors in zip(grid_sizes, strides, self.cell_anchors):
            grid_height, grid_width = size
            stride_height, stride_width = stride
            device = base_anchors.device
            shifts_x = torch.arange(0, grid_width, dtype=torch.int32, device=device) * stride_width
            shifts_y = torch.arange(0, grid_height, dtype=torch.int32, device=device) * stride_height
            shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
            shift_x = shift_x.reshape(-1)
            shift_y = shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + base_anchors.view(1, -1, 4)).reshape(-1, 4))
        return anchors

    def forward(self, image_list: ImageList, feature_maps: List[Tensor]) -> List[Tensor]:
        grid_sizes = [list(feature_map.shape[-2:]) for feature_map in feature_maps]
        image_size = image_list.tensors.shape[-2:]
        strides = [[image_size[0] // g[0], image_size[1] // g[1]] for g in grid_sizes]
        anchors_over_all_feature_maps = self.grid_anchors(grid_sizes, strides)
        anchors: List[Tensor] = []
        for _ in range(len(image_list.image_sizes)):
            anchors.append(torch.cat(anchors_over_all_feature_maps))
        return anchors


class Backbone(nn.Module):
    """A tiny two-level conv backbone; returns named feature maps like IntermediateLayerGetter."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.stem = ConvNormActivation(3, width, stride=2)
        self.stage1 = ConvNormActivation(width, width * 2, stride=2)
        self.stage2 = ConvNormActivation(width * 2, width * 4, stride=2)
        self.out_channels = width * 4
        self.lateral = nn.ModuleDict(
            {"p1": nn.Conv2d(width * 2, self.out_channels, 1), "p2": nn.Conv2d(width * 4, self.out_channels, 1)}
        )

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        c1 = self.stage1(self.stem(x))
        c2 = self.stage2(c1)
        p2 = self.lateral["p2"](c2)
        p1 = self.lateral["p1"](c1) + F.interpolate(p2, size=c1.shape[-2:], mode="nearest")
        return {"p1": p1, "p2": p2}


class DetectionHead(nn.Module, metaclass=abc.ABCMeta):
    """What every head of the detector implements: an abstract base, never scripted itself
    (scripting a subclass compiles only the subclass's forward)."""

    def __init__(self, in_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_anchors = num_anchors

    @abc.abstractmethod
    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """Map the feature pyramid to per-anchor outputs."""
        ...

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, num_anchors={self.num_anchors}"


class ClassificationHead(DetectionHead):
    def __init__(self, in_channels: int, num_anchors: int, num_classes: int, prior_probability: float = 0.01) -> None:
        super().__init__(in_channels, num_anchors)
        self.conv = nn.Sequential(ConvNormActivation(in_channels, in_channels, norm_layer=None))
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3, stride=1, padding=1)
        torch.nn.init.normal_(self.cls_logits.weight, std=0.01)
        torch.nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_probability) / prior_probability))
        self.num_classes = num_classes

    def forward(self, x: List[Tensor]) -> Tensor:
        all_cls_logits = []
        for features in x:
            cls_logits = self.cls_logits(self.conv(features))
            # Permute classification output from (N, A * K, H, W) to (N, HWA, K).
            n, _, h, w = cls_logits.shape
            cls_logits = cls_logits.view(n, -1, self.num_classes, h, w)
            cls_logits = cls_logits.permute(0, 3, 4, 1, 2)
            cls_logits = cls_logits.reshape(n, -1, self.num_classes)
            all_cls_logits.append(cls_logits)
        return torch.cat(all_cls_logits, dim=1)


class RegressionHead(DetectionHead):
    def __init__(self, in_channels: int, num_anchors: int) -> None:
        super().__init__(in_channels, num_anchors)
        self.conv = nn.Sequential(ConvNormActivation(in_channels, in_channels, norm_layer=None))
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)

    def forward(self, x: List[Tensor]) -> Tensor:
        all_bbox_regression = []
        for features in x:
            bbox_regression = self.bbox_reg(self.conv(features))
            n, _, h, w = bbox_regression.shape
            bbox_regression = bbox_regression.view(n, -1, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4)
            all_bbox_regression.append(bbox_regression)
        return torch.cat(all_bbox_regression, dim=1)


class Detector(nn.Module):
    __annotations__ = {"box_weights": Tuple[float, float, float, float]}

    def __init__(
        self,
        num_classes: int,
        min_size: int = 64,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 100,
        topk_candidates: int = 1000,
    ) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.anchor_generator = AnchorGenerator()
        num_anchors = self.anchor_generator.num_anchors_per_location()[0]
        channels = self.backbone.out_channels
        self.head = nn.ModuleDict(
            {
                "cls_logits": ClassificationHead(channels, num_anchors, num_classes),
                "bbox_regression": RegressionHead(channels, num_anchors),
            }
        )
        self.min_size = min_size
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.box_weights = (1.0, 1.0, 1.0, 1.0)
        # used only on torchscript mode
        self._has_warned = False

    def batch_images(self, images: List[Tensor], size_divisible: int = 32) -> ImageList:
        max_h = max([int(img.shape[-2]) for img in images])
        max_w = max([int(img.shape[-1]) for img in images])
        stride = float(size_divisible)
        max_h = int(math.ceil(float(max_h) / stride) * stride)
        max_w = int(math.ceil(float(max_w) / stride) * stride)
        batched = images[0].new_full([len(images), images[0].shape[0], max_h, max_w], 0)
        sizes: List[Tuple[int, int]] = []
        for i, img in enumerate(images):
            batched[i, :, : img.shape[-2], : img.shape[-1]].copy_(img)
            sizes.append((img.shape[-2], img.shape[-1]))
        return ImageList(batched, sizes)

    @torch.jit.ignore
    def _check_inputs(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]]) -> None:
        """Eager-only validation with friendly messages (Python: isinstance on tuples, f-string specs)."""
        for i, img in enumerate(images):
            if not isinstance(img, (torch.Tensor,)) or img.dim() != 3:
                raise ValueError(f"images[{i}] must be a CHW tensor, got {type(img).__name__}")
        if targets is not None:
            for target in targets:
                boxes = target["boxes"]
                degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
                if degenerate.any():
                    bad = boxes[degenerate][0].tolist()
                    raise ValueError(f"degenerate box {bad!r}: widths and heights must be > {0:.1f}")

    @torch.jit.unused
    def compute_loss(
        self, targets: List[Dict[str, Tensor]], head_outputs: Dict[str, Tensor], anchors: List[Tensor]
    ) -> Dict[str, Tensor]:
        """Training-only; kept in Python (it sorts with a key function)."""
        losses = {}
        order = sorted(range(len(targets)), key=lambda i: -int(targets[i]["boxes"].shape[0]))
        cls_loss = head_outputs["cls_logits"].new_zeros(())
        for i in order:
            labels = torch.zeros_like(head_outputs["cls_logits"][i])
            cls_loss = cls_loss + F.binary_cross_entropy_with_logits(head_outputs["cls_logits"][i], labels)
        losses["classification"] = cls_loss / max(1, len(order))
        losses["bbox_regression"] = head_outputs["bbox_regression"].abs().mean() * 0.0
        return losses

    @torch.jit.unused
    def eager_outputs(
        self, losses: Dict[str, Tensor], detections: List[Dict[str, Tensor]]
    ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
        if self.training:
            return losses, detections  # type: ignore[return-value]
        return losses, detections

    @torch.jit.export
    def postprocess_detections(
        self, head_outputs: Dict[str, Tensor], anchors: List[Tensor], image_sizes: List[Tuple[int, int]]
    ) -> List[Dict[str, Tensor]]:
        class_logits = head_outputs["cls_logits"]
        box_regression = head_outputs["bbox_regression"]
        num_classes = class_logits.shape[-1]
        detections: List[Dict[str, Tensor]] = []
        for index in range(len(image_sizes)):
            image_shape = image_sizes[index]
            scores = torch.sigmoid(class_logits[index]).flatten()
            keep_idxs = scores > self.score_thresh
            scores = scores[keep_idxs]
            topk_idxs = torch.where(keep_idxs)[0]
            num_topk = min(self.topk_candidates, int(topk_idxs.size(0)))
            scores, idxs = scores.topk(num_topk)
            topk_idxs = topk_idxs[idxs]
            anchor_idxs = torch.div(topk_idxs, num_classes, rounding_mode="floor")
            labels = topk_idxs % num_classes
            boxes = decode_boxes(box_regression[index][anchor_idxs], anchors[index][anchor_idxs], self.box_weights)
            boxes = clip_boxes_to_image(boxes, image_shape)
            keep = batched_nms(boxes, scores, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            detections.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return detections

    def forward(
        self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
    ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
        if not torch.jit.is_scripting():
            self._check_inputs(images, targets)
            logger.debug("detector input sizes: %s", [tuple(img.shape[-2:]) for img in images])
        if self.training:
            if targets is None:
                torch._assert(False, "targets should not be none when in training mode")
            else:
                for target in targets:
                    boxes = target["boxes"]
                    torch._assert(
                        len(boxes.shape) == 2 and boxes.shape[-1] == 4,
                        f"Expected target boxes to be a tensor of shape [N, 4], got {boxes.shape}.",
                    )

        image_list = self.batch_images(images)
        features = self.backbone(image_list.tensors)
        feature_list = list(features.values())

        head_outputs: Dict[str, Tensor] = {}
        for name, head in self.head.items():
            head_outputs[name] = head(feature_list)

        anchors = self.anchor_generator(image_list, feature_list)

        losses: Dict[str, Tensor] = {}
        detections: List[Dict[str, Tensor]] = []
        if self.training:
            if targets is not None:
                losses = self.compute_loss(targets, head_outputs, anchors)
        else:
            detections = self.postprocess_detections(head_outputs, anchors, image_list.image_sizes)

        if torch.jit.is_scripting():
            if not self._has_warned:
                warnings.warn("RetinaNet always returns a (Losses, Detections) tuple in scripting")
                self._has_warned = True
            return losses, detections
        return self.eager_outputs(losses, detections)
