"""sentence-transformers' `encode` keywords, as LangChain's HuggingFaceEmbeddings and most tutorials
pass them, translated to minie5's. Those with a meaning here keep sentence-transformers' semantics;
the rest are refused with the minie5 way to get the same thing, never silently ignored."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Translated:
    normalize: bool | None = None
    progress: object = None
    as_list: bool = False  # convert_to_numpy=False: a list of 1-D arrays, as sentence-transformers returns


def translate(keywords: dict, normalize, progress) -> Translated:
    """minie5's arguments for the sentence-transformers keywords in `keywords` (consumed)."""
    out = Translated(normalize, progress)
    if "normalize_embeddings" in keywords:
        value = keywords.pop("normalize_embeddings")
        if normalize is not None and value != normalize:
            raise ValueError("normalize and normalize_embeddings disagree: pass one of them")
        out.normalize = bool(value)
    if "show_progress_bar" in keywords:
        value = keywords.pop("show_progress_bar")
        if progress is None and value:
            out.progress = True
    if "convert_to_tensor" in keywords and keywords.pop("convert_to_tensor"):
        raise ValueError("convert_to_tensor: minie5 returns NumPy arrays and never imports torch; "
                         "torch.from_numpy(model.encode(texts)) makes a tensor without copying")
    if "convert_to_numpy" in keywords:
        out.as_list = not keywords.pop("convert_to_numpy")
    if "device" in keywords:
        device = keywords.pop("device")
        if device not in (None, "cpu"):
            raise ValueError(f"device={device!r}: minie5 runs on the CPU only; choose its cores with "
                             "minie5.load(..., threads=N)")
    if "output_value" in keywords:
        value = keywords.pop("output_value")
        if value not in (None, "sentence_embedding"):
            raise ValueError(f"output_value={value!r}: minie5's encode gives sentence embeddings; every "
                             "token's vector is in Model.trace(texts)['encoder.layer.{L-1}.output.LayerNorm']")
    if keywords:
        name = next(iter(keywords))
        raise TypeError(f"encode() got an unexpected keyword argument {name!r}")
    return out
