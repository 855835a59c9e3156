from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from classifiers.distill import l3_onnx_path, student_from_l3, student_from_l6
from classifiers.tokenization import base_model_path, encode_batch, load_tokenizer


def test_l3_student_reproduces_the_packaged_onnx_encoder() -> None:
    model = student_from_l3(4).eval()
    assert model.num_layers == 3
    tokenizer = load_tokenizer(base_model_path(), 32)
    ids, mask = encode_batch(tokenizer, ["where is my order", "refund the broken lamp, please"])
    session = ort.InferenceSession(str(l3_onnx_path()), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input_ids": ids, "attention_mask": mask})
    sentence = next(o for o in outputs if o.shape == (2, 384))
    with torch.inference_mode():
        pooled = model.embed(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert np.abs(pooled - sentence).max() < 1e-4


def test_l6_layers_student() -> None:
    model = student_from_l6(7)
    assert model.num_layers == 3 and model.num_intents == 7
