"""ONNX export of the torch model and int8 dynamic quantization for CPU inference."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from classifiers.modeling import ConciergeModel

__all__ = ["ONNX_INPUTS", "ONNX_OUTPUTS", "export_onnx", "quantize_int8"]

ONNX_INPUTS = ("input_ids", "attention_mask")
ONNX_OUTPUTS = ("intent_logits", "severity", "sentiment_logits")


class _Graph(nn.Module):
    """The traced graph: the model's three outputs as a plain tuple."""

    def __init__(self, model: ConciergeModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.intent_logits, out.severity, out.sentiment_logits


def export_onnx(model: ConciergeModel, path: Path, *, opset: int = 17) -> Path:
    """Write ``model`` as fp32 ONNX with dynamic batch and sequence axes."""
    was_training = model.training
    graph = _Graph(model).eval()  # a new Module starts in training mode; export would restore that
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.tensor([[101, 2073, 2003, 2026, 2344, 102], [101, 7592, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    dynamic = {name: {0: "batch", 1: "sequence"} for name in ONNX_INPUTS}
    dynamic.update({name: {0: "batch"} for name in ONNX_OUTPUTS})
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter warns about traced shape arithmetic that is correct here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (ids, mask),
            str(path),
            input_names=list(ONNX_INPUTS),
            output_names=list(ONNX_OUTPUTS),
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
            do_constant_folding=True,
        )
    model.train(was_training)
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantization of the weights (activations stay float): ~4x smaller, ~2-3x faster
    on CPU, accuracy within noise for this model."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs an advice about pre-processing through the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return target
