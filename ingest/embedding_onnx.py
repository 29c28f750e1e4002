"""The embedding model on ONNX Runtime, exported locally from the packaged weights.

``POLICYQA_EMBEDDING_BACKEND=onnx`` (fp32) or ``onnx-int8`` (dynamic int8 quantization of
the weights). On first use the sentence-transformers model's transformer is exported with
``torch.onnx`` into ``DATA_DIR/models/`` (a few seconds, no download), fused with
ONNX Runtime's transformer optimizer and, for ``onnx-int8``, quantized. Pooling and
normalisation are done here, as the model's own modules do them (mean pooling, L2).

sentence-transformers' own ONNX backend needs ``optimum-onnx``, which requires
transformers < 4.58 while sentence-transformers 6.2 runs on transformers 5: hence this
small exporter instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_model(model: Any, folder: Path, quantize: bool) -> Path:
    """Export the sentence-transformers model's transformer to ONNX (cached by weights):
    exported, optimised by ONNX Runtime's BERT fusions, and quantized when asked."""
    transformer = model[0].auto_model.eval()
    digest = hashlib.sha256()
    for name, tensor in sorted(transformer.state_dict().items())[:4]:
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes()[:4096])
    stem = f"{transformer.config.model_type}-{digest.hexdigest()[:12]}"
    final = folder / f"{stem}{'.int8' if quantize else ''}.onnx"
    if final.exists():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    raw, fused = folder / f"{stem}.raw.onnx", folder / f"{stem}.onnx"
    _export(model, transformer, raw)
    if not fused.exists():
        _optimise(raw, fused, transformer.config)
    raw.unlink(missing_ok=True)
    if quantize:
        _quantize(fused, final)
    logger.info("exported embedding model to %s", final)
    return final


def _export(model: Any, transformer: Any, raw: Path) -> None:
    """The transformer's token embeddings as an ONNX graph (dynamic batch and length)."""
    import torch

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = model.tokenizer(
        ["an example", "a second, longer example"], padding=True, return_tensors="pt"
    )
    # The TorchScript exporter (deprecated since torch 2.9, still in the pinned 2.13) needs
    # no onnxscript and gives a graph ONNX Runtime's BERT optimizer knows how to fuse.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LastHidden(transformer),
            tuple(sample[name] for name in INPUTS),
            str(raw),
            input_names=list(INPUTS),
            output_names=["token_embeddings"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")
            },
            opset_version=17,
            dynamo=False,
        )


def _optimise(raw: Path, fused: Path, config: Any) -> None:
    """ONNX Runtime's BERT graph fusions (attention, layer norm, GELU)."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(raw),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
        opt_level=1,
    )
    optimized.save_model_to_file(str(fused))


def _quantize(fused: Path, final: Path) -> None:
    """Dynamic int8 quantization of the weights, per channel."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fused),
        str(final),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


class OnnxRunner:
    """Tokenise, run the exported transformer, mean-pool and normalise."""

    def __init__(
        self, model: Any, onnx_path: Path, batch_size: int, threads: int | None = None
    ) -> None:
        """``threads``: the session's intra-op threads (None: one per core)."""
        import onnxruntime as ort

        pooling = model[1]
        if getattr(pooling, "pooling_mode", None) != "mean":
            raise ValueError("the ONNX backend supports mean-pooling models only")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = model.tokenizer
        self._max_tokens = int(model.max_seq_length)
        self._batch_size = batch_size

    def run(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per text: its pooled unit vector, its token vectors and their character offsets."""
        results: list[Any] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            encoded = self._tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self._max_tokens,
                return_offsets_mapping=True,
                return_tensors="np",
            )
            feeds = {name: encoded[name].astype(np.int64) for name in INPUTS}
            hidden = self._session.run(None, feeds)[0]
            mask = encoded["attention_mask"].astype(np.float32)[..., None]
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for row, i in enumerate(batch):
                length = int(encoded["attention_mask"][row].sum())
                results[i] = (
                    pooled[row],
                    hidden[row, :length],
                    encoded["offset_mapping"][row, :length],
                )
        return results
