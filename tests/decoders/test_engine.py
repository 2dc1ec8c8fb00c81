"""The decoder engine (engine/decoder_backend.py): each kernel against its reference twin, then the
whole pass against the golden files (float32) and against float32 (int8, bfloat16)."""

import warnings

import numpy as np
import pytest

import minie5
from minie5.engine.kernels.gated_feed_forward import ACTIVATION_CODES, glu
from minie5.engine.kernels.grouped_query_attention import grouped_query_attention
from minie5.engine.kernels.last_token_pool import last_token_pool
from minie5.engine.kernels.rms_norm import add_rms_norm, rms_norm
from minie5.engine.kernels.rotary import qk_norm_rotary
from minie5.reference import gated_feed_forward as gff
from minie5.reference import grouped_query_attention as gqa
from minie5.reference.last_token_pool import last_token_pool as reference_last_token_pool
from minie5.reference.padding import pad_batch
from minie5.reference.rms_norm import rms_norm as reference_rms_norm
from minie5.reference.rotary import apply_rotary, rotary_cos_sin

rng = np.random.default_rng(1)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_rms_norm_kernels(offset):
    x, y, w = f32(5, 64, scale=3), f32(5, 64), f32(64)
    out = np.empty_like(x)
    rms_norm(x, w, 1e-6, offset, out)
    np.testing.assert_allclose(out, reference_rms_norm(x, w, 1e-6, offset), rtol=1e-5, atol=1e-5)
    residual = x.copy()
    add_rms_norm(residual, y, w, 1e-6, offset, out)
    np.testing.assert_allclose(residual, x + y, rtol=1e-6)
    np.testing.assert_allclose(out, reference_rms_norm(x + y, w, 1e-6, offset), rtol=1e-5, atol=1e-5)


def test_qk_norm_rotary_kernel():
    N, Nkv, D, T = 4, 2, 16, 6
    qkv = f32(T, (N + 2 * Nkv) * D, scale=2)
    q_norm, k_norm = f32(D), f32(D)
    cos, sin = rotary_cos_sin(np.arange(T), D, 10000.0)
    expected = qkv.copy()
    for start, heads, weight in ((0, N, q_norm), (N * D, Nkv, k_norm)):
        block = qkv[:, start:start + heads * D].reshape(T, heads, D).transpose(1, 0, 2)[None]  # [1, n, T, D]
        turned = apply_rotary(reference_rms_norm(block, weight, 1e-6), cos[None], sin[None])
        expected[:, start:start + heads * D] = turned[0].transpose(1, 0, 2).reshape(T, heads * D)
    qk_norm_rotary(qkv, np.arange(T), cos, sin, q_norm, k_norm, N, Nkv, 1e-6, 0.0)
    np.testing.assert_allclose(qkv, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["silu", "gelu_pytorch_tanh"])
def test_glu_kernel(activation):
    gate_up = f32(7, 2 * 24, scale=2)
    out = np.empty((7, 24), np.float32)
    glu(gate_up, ACTIVATION_CODES[activation], out)
    np.testing.assert_allclose(out, gff.glu(gate_up[:, :24], gate_up[:, 24:], activation), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal,window", [(True, 0), (False, 0), (True, 3), (False, 3)])
def test_grouped_query_attention_kernel(causal, window):
    N, Nkv, D = 4, 2, 8
    lengths = [5, 2, 7]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    qkv = f32(offsets[-1], (N + 2 * Nkv) * D, scale=2)
    out = np.empty((offsets[-1], N * D), np.float32)
    grouped_query_attention(qkv, offsets, N, Nkv, np.float32(D ** -0.5), causal, window, out)
    for s, (start, end) in enumerate(zip(offsets[:-1], offsets[1:])):
        rows = qkv[start:end][None]  # [1, T, ...]
        q, k, v = (rows[..., a * D:b * D].reshape(1, end - start, -1, D).transpose(0, 2, 1, 3)
                   for a, b in ((0, N), (N, N + Nkv), (N + Nkv, N + 2 * Nkv)))
        mask = gqa.attention_mask_4d(np.ones((1, end - start)), causal, window or None)
        expected = gqa.grouped_query_attention(q, k, v, mask, D ** -0.5)[0].transpose(1, 0, 2).reshape(end - start, -1)
        np.testing.assert_allclose(out[start:end], expected, rtol=1e-5, atol=1e-5, err_msg=f"text {s}")


def test_last_token_pool_kernel():
    ids = [np.arange(3), np.arange(1), np.arange(4)]
    hidden = f32(8, 5)
    offsets = np.array([0, 3, 4, 8])
    out = np.empty((3, 5))
    last_token_pool(hidden, offsets, out)
    _, mask = pad_batch(ids)
    padded = np.zeros((3, 4, 5), np.float32)
    padded[mask > 0] = hidden
    np.testing.assert_array_equal(out, reference_last_token_pool(padded, mask))


MODELS = ["qwen3-embedding-random", "embeddinggemma-random"]


@pytest.mark.parametrize("name", MODELS)
def test_engine_hidden_states_and_vectors_match_golden(decoder_model, name):
    folder, golden, meta = decoder_model(name)
    model = minie5.load(folder)
    ids = list(np.split(golden["input_ids"], np.cumsum(golden["lengths"])[:-1]))
    states, mask = model.backend.hidden_states(ids)
    error = np.abs(np.stack([s[mask > 0] for s in states]) - golden["hidden_states"]).max(axis=(1, 2))
    assert (error < 1e-4 * np.abs(golden["hidden_states"]).max()).all(), error
    np.testing.assert_allclose(model.encode(meta["texts"], batch_size=3), golden["embeddings"], atol=2e-6)
    np.testing.assert_allclose(model.encode(meta["queries"], prompt_name="query"), golden["query_embeddings"],
                               atol=2e-6)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dtype,min_cosine", [("int8", 0.999), ("bfloat16", 0.9999)])
def test_engine_low_precision_against_float32(decoder_model, name, dtype, min_cosine):
    folder, golden, meta = decoder_model(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = minie5.load(folder, dtype=dtype)
    vectors = model.encode(meta["texts"])
    cosine = (vectors * golden["embeddings"]).sum(axis=1)  # both unit length
    assert cosine.min() > min_cosine, cosine
    if model.backend.weights != dtype:  # the CPU lacks the instructions: float32, said so
        assert any(dtype in str(w.message) for w in caught)
    else:
        assert cosine.min() < 1 - 1e-7  # really rounded


def write_bfloat16(tensors: dict, path):
    """A model.safetensors of `tensors` stored in bfloat16, as Qwen3-Embedding ships (written by hand:
    the safetensors package's NumPy API has no bfloat16)."""
    import json

    from minie5.reference.bfloat16 import round_bfloat16

    header, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        data = round_bfloat16(value).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(chunks))


def test_bfloat16_checkpoint_runs_on_both_backends(decoder_model, tmp_path):
    import shutil

    from minie5.loading.safetensors_file import SafetensorsFile

    folder, golden, meta = decoder_model("qwen3-embedding-random")
    shutil.copytree(folder, tmp_path / "bf16")
    file = SafetensorsFile(folder / "model.safetensors")
    write_bfloat16({name: file.float_tensor(name) for name in file.tensors}, tmp_path / "bf16" / "model.safetensors")
    for model, min_cosine in ((minie5.load(tmp_path / "bf16", dtype="int8"), 0.995),  # bf16 weights, int8 products
                              (minie5.load(tmp_path / "bf16"), 0.999),
                              (minie5.load(tmp_path / "bf16", backend="numpy"), 0.999)):
        cosine = (model.encode(meta["texts"][:3]) * golden["embeddings"][:3]).sum(axis=1)
        assert cosine.min() > min_cosine, (model, cosine)


def test_int8_loads_without_a_float32_copy_of_the_weights(tmp_path):
    """24 layers of a narrow Qwen3 stored in bfloat16: loading it for int8 must never hold the
    float32 weights, only one matrix at a time while it is rounded."""
    import json
    import shutil
    import tracemalloc

    from tests.support import random_decoder

    config = {**random_decoder.QWEN3_EMBEDDING_CONFIG, "hidden_size": 256, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 64, "intermediate_size": 768, "num_hidden_layers": 24}
    folder = tmp_path / "narrow"
    folder.mkdir()
    weights = random_decoder.random_weights(config, 5)
    write_bfloat16(weights, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copyfile(random_decoder.GOLDEN / "bpe" / "tokenizer.json", folder / "tokenizer.json")
    float32_bytes = 4 * sum(value.size for value in weights.values())
    del weights
    minie5.load(folder, dtype="int8")  # compiled and warm: what follows measures loading alone
    tracemalloc.start()
    model = minie5.load(folder, dtype="int8")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.5 * float32_bytes, f"load took {peak / 1e6:.0f} MB; float32 weights: {float32_bytes / 1e6:.0f} MB"
    assert np.isfinite(model.encode(["a text"])).all()
