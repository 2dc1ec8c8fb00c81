"""sentence-transformers' `encode` keywords, as LangChain's HuggingFaceEmbeddings, BEIR and most
tutorials pass them, translated to minie5's, and BEIR's way of joining a title to its text. Those
with a meaning here keep sentence-transformers' semantics; the rest are refused with the minie5 way
to get the same thing, never silently ignored."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Translated:
    normalize: bool | None = None
    progress: object = None
    as_list: bool = False  # convert_to_numpy=False: a list of 1-D arrays, as sentence-transformers returns
    as_tensor: bool = False  # convert_to_tensor=True: a torch tensor (torch imported only then)


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
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise ValueError("convert_to_tensor=True needs torch, which is not installed; minie5 returns NumPy arrays "
                             "(convert_to_tensor=False), and torch.from_numpy(vectors) makes a tensor of them")
        out.as_tensor = True
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


def join_title(doc: dict) -> str:
    """A BEIR document as one text, joined as BEIR's encoders join it: (title + " " + text).strip()
    where it has a title, else its text stripped."""
    title = doc.get("title") or ""
    return (title + " " + doc.get("text", "")).strip() if title else doc.get("text", "").strip()
