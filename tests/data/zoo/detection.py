"""A torchvision-style one-stage detector: frozen batch norm backbone, a TorchScript box coder
class held as an attribute, per-level heads over List[Tensor], Optional training targets,
`torch.jit.is_scripting()` / `@torch.jit.unused` for the eager-only return convention."""

import math
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        num_batches_tracked_key = prefix + "num_batches_tracked"
        if num_batches_tracked_key in state_dict:
            del state_dict[num_batches_tracked_key]
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"


class BoxCoder:
    """Encodes boxes as (dx, dy, dw, dh) regression targets and decodes them back."""

    def __init__(
        self, weights: Tuple[float, float, float, float], bbox_xform_clip: float = math.log(1000.0 / 16)
    ) -> None:
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode_single(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        wx, wy, ww, wh = self.weights
        ex_widths = proposals[:, 2] - proposals[:, 0]
        ex_heights = proposals[:, 3] - proposals[:, 1]
        ex_ctr_x = proposals[:, 0] + 0.5 * ex_widths
        ex_ctr_y = proposals[:, 1] + 0.5 * ex_heights
        gt_widths = reference_boxes[:, 2] - reference_boxes[:, 0]
        gt_heights = reference_boxes[:, 3] - reference_boxes[:, 1]
        gt_ctr_x = reference_boxes[:, 0] + 0.5 * gt_widths
        gt_ctr_y = reference_boxes[:, 1] + 0.5 * gt_heights
        dx = wx * (gt_ctr_x - ex_ctr_x) / ex_widths
        dy = wy * (gt_ctr_y - ex_ctr_y) / ex_heights
        dw = ww * torch.log(gt_widths / ex_widths)
        dh = wh * torch.log(gt_heights / ex_heights)
        return torch.stack((dx, dy, dw, dh), dim=1)

    def decode_single(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        boxes = boxes.to(rel_codes.dtype)
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights
        wx, wy, ww, wh = self.weights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = torch.clamp(rel_codes[:, 2::4] / ww, max=self.bbox_xform_clip)
        dh = torch.clamp(rel_codes[:, 3::4] / wh, max=self.bbox_xform_clip)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        pred_w = torch.exp(dw) * widths[:, None]
        pred_h = torch.exp(dh) * heights[:, None]
        c_to_c_h = torch.tensor(0.5, dtype=pred_ctr_y.dtype, device=pred_h.device) * pred_h
        c_to_c_w = torch.tensor(0.5, dtype=pred_ctr_x.dtype, device=pred_w.device) * pred_w
        x1 = pred_ctr_x - c_to_c_w
        y1 = pred_ctr_y - c_to_c_h
        x2 = pred_ctr_x + c_to_c_w
        y2 = pred_ctr_y + c_to_c_h
        return torch.stack((x1, y1, x2, y2), dim=2).flatten(1)


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter / (area1[:, None] + area2 - inter)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression; returns kept indices sorted by decreasing score."""
    order = scores.argsort(descending=True)
    keep: List[int] = []
    suppressed = torch.zeros(order.numel(), dtype=torch.bool)
    ious = box_iou(boxes[order], boxes[order])
    for i in range(order.numel()):
        if bool(suppressed[i]):
            continue
        keep.append(int(order[i]))
        suppressed = suppressed | (ious[i] > iou_threshold)
    return torch.tensor(keep, dtype=torch.long)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)


class TinyBackbone(nn.Module):
    """Two strided stages with frozen norms; returns an ordered dict of feature maps."""

    def __init__(self, out_channels: int = 16) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stage1 = nn.Sequential(
            nn.Conv2d(3, out_channels, 3, stride=2, padding=1, bias=False),
            FrozenBatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.stage2 = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1, bias=False),
            FrozenBatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = OrderedDict()
        x = self.stage1(x)
        out["0"] = x
        x = self.stage2(x)
        out["1"] = x
        return out


class DetectionHead(nn.Module):
    """Shared conv tower per level, then class logits and box regression per anchor."""

    def __init__(self, in_channels: int, num_anchors: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, padding=1), nn.GroupNorm(4, in_channels), nn.ReLU()
        )
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, 3, padding=1)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, 3, padding=1)
        prior_probability = 0.01
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_probability) / prior_probability))

    def forward(self, x: List[Tensor]) -> Dict[str, Tensor]:
        all_cls_logits = []
        all_bbox_regression = []
        for features in x:
            t = self.conv(features)
            cls_logits = self.cls_logits(t)
            N, _, H, W = cls_logits.shape
            cls_logits = cls_logits.view(N, -1, self.num_classes, H, W)
            cls_logits = cls_logits.permute(0, 3, 4, 1, 2).reshape(N, -1, self.num_classes)
            all_cls_logits.append(cls_logits)
            bbox = self.bbox_reg(t).view(N, -1, 4, H, W).permute(0, 3, 4, 1, 2).reshape(N, -1, 4)
            all_bbox_regression.append(bbox)
        return {
            "cls_logits": torch.cat(all_cls_logits, dim=1),
            "bbox_regression": torch.cat(all_bbox_regression, dim=1),
        }


class OneStageDetector(nn.Module):
    __annotations__ = {"box_coder": BoxCoder}

    def __init__(
        self,
        num_classes: int = 3,
        anchor_size: float = 8.0,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 20,
        topk_candidates: int = 100,
    ) -> None:
        super().__init__()
        self.backbone = TinyBackbone(16)
        self.head = DetectionHead(16, 1, num_classes)
        self.box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.anchor_size = anchor_size
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self._has_warned = False

    def anchors_for(self, features: List[Tensor], image_size: Tuple[int, int]) -> Tensor:
        anchors: List[Tensor] = []
        for f in features:
            h, w = f.shape[-2], f.shape[-1]
            stride_y = image_size[0] // h
            stride_x = image_size[1] // w
            ys = (torch.arange(h, dtype=torch.float32) + 0.5) * stride_y
            xs = (torch.arange(w, dtype=torch.float32) + 0.5) * stride_x
            cy, cx = torch.meshgrid(ys, xs, indexing="ij")
            half = self.anchor_size / 2
            boxes = torch.stack([cx - half, cy - half, cx + half, cy + half], dim=-1)
            anchors.append(boxes.reshape(-1, 4))
        return torch.cat(anchors, dim=0)

    def compute_loss(
        self, targets: List[Dict[str, Tensor]], head_outputs: Dict[str, Tensor], anchors: Tensor
    ) -> Dict[str, Tensor]:
        cls_losses = []
        box_losses = []
        for i, target in enumerate(targets):
            logits = head_outputs["cls_logits"][i]
            if target["boxes"].numel() == 0:
                cls_losses.append(logits.sigmoid().sum() * 0.0)
                box_losses.append(logits.sum() * 0.0)
                continue
            iou = box_iou(target["boxes"], anchors)
            best, matched = iou.max(dim=0)
            positive = best > 0.5
            gt_classes = torch.zeros_like(logits)
            gt_classes[positive, target["labels"][matched[positive]]] = 1.0
            cls_losses.append(F.binary_cross_entropy_with_logits(logits, gt_classes, reduction="sum"))
            regression = head_outputs["bbox_regression"][i][positive]
            wanted = self.box_coder.encode_single(target["boxes"][matched[positive]], anchors[positive])
            box_losses.append(F.l1_loss(regression, wanted, reduction="sum"))
        return {
            "classification": torch.stack(cls_losses).mean(),
            "bbox_regression": torch.stack(box_losses).mean(),
        }

    def postprocess_detections(
        self, head_outputs: Dict[str, Tensor], anchors: Tensor, image_sizes: List[Tuple[int, int]]
    ) -> List[Dict[str, Tensor]]:
        detections: List[Dict[str, Tensor]] = []
        for index in range(len(image_sizes)):
            scores_all = torch.sigmoid(head_outputs["cls_logits"][index]).flatten()
            keep_idxs = scores_all > self.score_thresh
            scores = scores_all[keep_idxs]
            topk_idxs = torch.where(keep_idxs)[0]
            num_topk = min(self.topk_candidates, topk_idxs.size(0))
            scores, idxs = scores.topk(num_topk)
            topk_idxs = topk_idxs[idxs]
            num_classes = head_outputs["cls_logits"].shape[-1]
            anchor_idxs = torch.div(topk_idxs, num_classes, rounding_mode="floor")
            labels = topk_idxs % num_classes
            boxes = self.box_coder.decode_single(
                head_outputs["bbox_regression"][index][anchor_idxs], anchors[anchor_idxs]
            )
            height, width = image_sizes[index]
            boxes = torch.stack(
                [boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                 boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)],
                dim=1,
            )
            keep = batched_nms(boxes, scores, labels, self.nms_thresh)[: self.detections_per_img]
            detections.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return detections

    @torch.jit.unused
    def eager_outputs(
        self, losses: Dict[str, Tensor], detections: List[Dict[str, Tensor]]
    ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
        if self.training:
            return losses
        return detections

    def forward(
        self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
    ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
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

        original_image_sizes: List[Tuple[int, int]] = []
        for img in images:
            val = img.shape[-2:]
            torch._assert(
                len(val) == 2,
                f"expecting the last two dimensions of the Tensor to be H and W instead got {img.shape[-2:]}",
            )
            original_image_sizes.append((val[0], val[1]))

        max_h = max([s[0] for s in original_image_sizes])
        max_w = max([s[1] for s in original_image_sizes])
        batch = torch.zeros(len(images), 3, max_h, max_w, dtype=images[0].dtype)
        for i, img in enumerate(images):
            batch[i, :, : img.shape[-2], : img.shape[-1]].copy_(img)

        features = list(self.backbone(batch).values())
        head_outputs = self.head(features)
        anchors = self.anchors_for(features, (max_h, max_w))

        losses: Dict[str, Tensor] = {}
        detections: List[Dict[str, Tensor]] = []
        if self.training:
            if targets is None:
                torch._assert(False, "targets should not be none when in training mode")
            else:
                losses = self.compute_loss(targets, head_outputs, anchors)
        else:
            detections = self.postprocess_detections(head_outputs, anchors, original_image_sizes)

        if torch.jit.is_scripting():
            if not self._has_warned:
                warnings.warn("OneStageDetector always returns a (Losses, Detections) tuple in scripting")
                self._has_warned = True
            return losses, detections
        return self.eager_outputs(losses, detections)
