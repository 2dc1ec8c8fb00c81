"""Property tests (hypothesis): generated model files and texts. Whatever a file holds, reading it
gives a model or a minie5 error, never another exception; whatever a text holds, embedding it
gives a finite unit vector that does not depend on its companions.

The number of examples is hypothesis' profile: "ci" here (quick), "fuzz" for tools/fuzz.py.
"""

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minie5
from minie5 import BertConfig, ConfigError, TokenizerError, WeightsError
from minie5.loading.safetensors_file import SafetensorsFile
from minie5.loading.tokenizer import Tokenizer
from tests.support.model_files import TINY_CONFIG, raw_safetensors, small_model

settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=int(os.environ.get("MINIE5_FUZZ_EXAMPLES", "2000")), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("MINIE5_HYPOTHESIS_PROFILE", "ci"))

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12)
DTYPES = st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "F64", "X9", ""])
ENTRY = st.fixed_dictionaries({"dtype": DTYPES, "shape": st.lists(st.integers(-2, 2 ** 40), max_size=3),
                               "data_offsets": st.lists(st.integers(-8, 2 ** 40), min_size=2, max_size=2)})


@given(header=st.dictionaries(st.text(min_size=1, max_size=6), ENTRY | JSON, max_size=4),
       data=st.binary(max_size=96))
def test_any_safetensors_header_reads_or_is_a_weights_error(tmp_path_factory, header, data):
    path = raw_safetensors(tmp_path_factory.mktemp("st") / "m.safetensors", json.dumps(header), data)
    try:
        file = SafetensorsFile(path)
    except WeightsError:
        return
    for name in file.tensors:  # what was accepted can be read, within the file
        assert file.raw(name).nbytes == file.tensors[name].end - file.tensors[name].begin


@given(raw=st.binary(max_size=64))
def test_any_bytes_are_a_safetensors_file_or_a_weights_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("st") / "m.safetensors"
    path.write_bytes(raw)
    with pytest.raises(WeightsError):
        SafetensorsFile(path)


CONFIG_VALUES = st.none() | st.booleans() | st.integers(-3, 2 ** 40) | st.floats() | st.text(max_size=6) | JSON


@given(changes=st.dictionaries(st.sampled_from(sorted(TINY_CONFIG)), CONFIG_VALUES, max_size=4))
def test_any_config_is_read_or_is_a_config_error(changes):
    try:
        config = BertConfig.from_dict({**TINY_CONFIG, **changes})
    except ConfigError:
        return
    assert config.num_hidden_layers >= 1 and config.hidden_size % config.num_attention_heads == 0


@pytest.fixture(scope="module")
def tokenizer_json(minilm_dir):
    return json.loads((minilm_dir / "tokenizer.json").read_text())


@settings(max_examples=max(10, settings().max_examples // 8))  # each example reads a 700 kB tokenizer
@given(path=st.sampled_from(["model.vocab", "model.type", "normalizer", "pre_tokenizer", "post_processor",
                             "model.unk_token", "truncation", "padding", "added_tokens"]),
       value=JSON | st.integers(-1, 10 ** 7))
def test_any_tokenizer_variant_loads_or_is_a_tokenizer_error(tmp_path_factory, tokenizer_json, path, value):
    data = json.loads(json.dumps(tokenizer_json))
    node = data
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    file = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    file.write_text(json.dumps(data))
    try:
        tokenizer = Tokenizer(file, 16)
    except TokenizerError:
        return
    try:
        windows = tokenizer.tokenize_windows(["summit define", ""])
    except (TokenizerError, ValueError):
        return
    assert all(0 < len(w) <= 16 for text in windows for w in text)


@pytest.fixture(scope="module")
def small(minilm_dir, tmp_path_factory):
    return minie5.load(small_model(minilm_dir, tmp_path_factory.mktemp("small")))


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)  # any Unicode but lone surrogates


@given(text=TEXT)
def test_any_text_gives_a_finite_unit_vector(small, text):
    vector = small.encode(text)
    assert vector.shape == (small.dim,) and np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector.astype(np.float64))) - 1) < 1e-5


@given(texts=st.lists(TEXT, min_size=1, max_size=12), seed=st.integers(0, 2 ** 16))
def test_a_list_is_its_items_one_by_one_in_any_order(small, texts, seed):
    together = small.encode(texts)
    alone = np.stack([small.encode(t) for t in texts])
    np.testing.assert_allclose(together, alone, rtol=0, atol=5e-7)  # float32 rounding of other batches
    order = np.random.default_rng(seed).permutation(len(texts))
    np.testing.assert_allclose(small.encode([texts[i] for i in order]), together[order], rtol=0, atol=5e-7)
