"""model.safetensors: every tensor checked at load, errors naming the file and the tensor."""

import warnings

import numpy as np
import pytest

import minie5
from minie5 import BertConfig, WeightsError
from minie5.loading.weights import expected_shapes, load_weights
from tests.support.model_files import TINY_CONFIG, copy_model, to_bf16_bits, write_safetensors
from tests.support.random_bert import random_weights

CONFIG = BertConfig.from_dict(TINY_CONFIG)


@pytest.fixture
def tiny():
    """Weights of a 2-layer, 8-wide BERT, including the pooler and the position_ids buffer."""
    weights = random_weights(TINY_CONFIG, seed=1)
    weights["embeddings.position_ids"] = np.arange(16)[None]
    return weights


def test_loads_every_tensor_as_stored(tmp_path, tiny):
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    params = load_weights(path, CONFIG)
    query = params["encoder"]["layer"][1]["attention"]["self"]["query"]
    np.testing.assert_array_equal(query["weight"], tiny["encoder.layer.1.attention.self.query.weight"])
    np.testing.assert_array_equal(params["embeddings"]["LayerNorm"]["bias"], tiny["embeddings.LayerNorm.bias"])
    assert len(params["encoder"]["layer"]) == 2 and query["weight"].dtype == np.float32


def test_bert_prefix_is_accepted(tmp_path, tiny):
    path = write_safetensors(tmp_path / "m.safetensors", {"bert." + k: v for k, v in tiny.items()},
                             {"bert.embeddings.position_ids": "I64"})
    params = load_weights(path, CONFIG)
    np.testing.assert_array_equal(params["embeddings"]["word_embeddings"]["weight"],
                                  tiny["embeddings.word_embeddings.weight"])


def test_half_precision_tensors_load_as_float32(tmp_path, tiny):
    dtypes = {name: ("F16" if i % 2 else "BF16") for i, name in enumerate(tiny)}
    dtypes["embeddings.position_ids"] = "I64"
    params = load_weights(write_safetensors(tmp_path / "m.safetensors", tiny, dtypes), CONFIG)
    f16 = params["encoder"]["layer"][0]["attention"]["self"]["query"]["bias"]
    name = "encoder.layer.0.attention.self.query.bias"
    expected = (tiny[name].astype(np.float16) if dtypes[name] == "F16"
                else (to_bf16_bits(tiny[name]).astype(np.uint32) << 16).view(np.float32))
    assert f16.dtype == np.float32
    np.testing.assert_array_equal(f16, expected.astype(np.float32))
    for name, dtype in dtypes.items():
        if name in expected_shapes(CONFIG):
            *path, leaf = name.split(".")
            node = params
            for part in path:
                node = node[int(part)] if part.isdigit() else node[part]
            np.testing.assert_allclose(node[leaf], tiny[name], rtol=2 ** -8 if dtype == "BF16" else 2 ** -11,
                                       atol=1e-7, err_msg=name)


def test_bf16_model_embeds_close_to_float32(tmp_path, minilm_dir, minilm):
    source = copy_model(minilm_dir, tmp_path / "f32")
    from minie5.loading.safetensors_file import SafetensorsFile
    file = SafetensorsFile(source / "model.safetensors")
    weights = {name: file.float_tensor(name) for name in file.tensors}
    bf16 = copy_model(minilm_dir, tmp_path / "bf16", weights, {name: "BF16" for name in weights})
    texts = ["query: how much protein should a female eat", "passage: the summit of a mountain"]
    cos = np.sum(minie5.load(bf16, backend="numpy").encode(texts) * minilm.encode(texts), axis=1)
    assert cos.min() > 0.99


def test_missing_tensor_is_named(tmp_path, tiny):
    del tiny["encoder.layer.1.output.dense.weight"]
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    with pytest.raises(WeightsError, match=f"{path}: missing tensor encoder.layer.1.output.dense.weight"):
        load_weights(path, CONFIG)


def test_wrong_shape_is_named(tmp_path, tiny):
    tiny["encoder.layer.0.intermediate.dense.weight"] = np.zeros((8, 16), np.float32)  # transposed
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    with pytest.raises(WeightsError, match=r"'encoder.layer.0.intermediate.dense.weight' has shape \[8, 16\], "
                                           r"expected \[16, 8\]"):
        load_weights(path, CONFIG)


def test_wrong_dtype_is_named(tmp_path, tiny):
    path = write_safetensors(tmp_path / "m.safetensors", tiny,
                             {"embeddings.position_ids": "I64", "embeddings.LayerNorm.weight": "I64"})
    with pytest.raises(WeightsError, match="'embeddings.LayerNorm.weight': has dtype I64, expected a floating-point"):
        load_weights(path, CONFIG)


def test_non_finite_weights_are_refused(tmp_path, tiny):
    tiny["encoder.layer.1.output.LayerNorm.weight"][3] = np.nan
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    with pytest.raises(WeightsError, match="'encoder.layer.1.output.LayerNorm.weight' contains NaN"):
        load_weights(path, CONFIG)


def test_unknown_tensors_are_reported_and_known_extras_are_not(tmp_path, tiny):
    tiny["cls.predictions.bias"] = np.zeros(50, np.float32)  # a pre-training head: expected, quiet
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_weights(path, CONFIG)
    tiny["encoder.layer.2.output.dense.weight"] = np.zeros((8, 16), np.float32)  # a third layer?
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    with pytest.warns(UserWarning, match="ignoring 1 tensor.*encoder.layer.2.output.dense.weight"):
        load_weights(path, CONFIG)


def test_truncated_file_is_reported(tmp_path, tiny):
    path = write_safetensors(tmp_path / "m.safetensors", tiny, {"embeddings.position_ids": "I64"})
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=f"{path}: tensor .* the file is truncated"):
        load_weights(path, CONFIG)


@pytest.mark.parametrize("content", [b"", b"\x00" * 4, b"GIF89a" + b"\x00" * 100,
                                     b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}"])
def test_not_a_safetensors_file_is_reported(tmp_path, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=f"{path}: not a safetensors file"):
        load_weights(path, CONFIG)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(WeightsError, match="no such file"):
        load_weights(tmp_path / "model.safetensors", CONFIG)


def test_a_folder_with_other_weights_says_how_to_convert(tmp_path, minilm_dir):
    folder = copy_model(minilm_dir, tmp_path / "m")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(WeightsError, match=r"model.safetensors: no such file; the folder has pytorch_model.bin "
                                           r"instead.*save_pretrained\(.*safe_serialization=True"):
        minie5.load(folder)
    with pytest.raises(WeightsError, match="pytorch_model.bin instead"):
        minie5.describe(folder)
