"""Model files made to break minie5, as a careless packager or an attacker would make them: each
gives a minie5 error naming the file and the problem, never a crash, an out-of-bounds read or a
silently different vector (docs/reliability.md lists every case)."""

import json
import time

import numpy as np
import pytest

import minie5
from minie5 import ConfigError, TokenizerError, WeightsError
from minie5.loading.safetensors_file import SafetensorsFile
from minie5.loading.tokenizer import Tokenizer
from tests.support.cli import run_cli
from tests.support.model_files import raw_safetensors, small_model

F32x4 = np.arange(4, dtype="<f4").tobytes()  # 16 bytes


def entry(begin, end, shape=(4,), dtype="F32"):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


@pytest.mark.parametrize("header, data, message", [
    ('{"a": ' + json.dumps(entry(0, 16)) + ', "a": ' + json.dumps(entry(16, 32)) + "}", F32x4 * 2,
     "names tensor 'a' twice"),
    (json.dumps({"a": entry(0, 16), "b": entry(8, 24)}), F32x4 + F32x4[:8], "overlaps the tensor before it"),
    (json.dumps({"a": entry(0, 16), "b": entry(20, 36)}), F32x4 * 2 + b"\0" * 4, "leaves a gap before it"),
    (json.dumps({"a": entry(0, 16)}), F32x4 + b"\0" * 8, "the rest is not accounted for"),
    (json.dumps({"a": entry(0, 16, shape=(2 ** 62, 2 ** 62))}), F32x4, f"needs {4 * 2 ** 124}"),
    (json.dumps({"a": entry(0, 16, shape=(4.0,))}), F32x4, "malformed shape"),
    (json.dumps({"a": entry(True, 16)}), F32x4, "malformed shape"),
    ('{"a": ' + "[" * 50000 + "]" * 50000 + "}", b"", "nested too deeply"),
    ('{"a": {"b": ' * 3000 + "1" + "}" * 6000, b"", "nested too deeply"),
    (json.dumps({"a": {"dtype": 7, "shape": [4], "data_offsets": [0, 16]}}), F32x4, "malformed dtype"),
    (json.dumps({"__metadata__": {"k": 1}}), b"", "__metadata__ must map strings to strings"),
    ('[' + json.dumps(entry(0, 16)) + ']', F32x4, "does not start with '{'"),
])
def test_safetensors_rules_are_enforced(tmp_path, header, data, message):
    path = raw_safetensors(tmp_path / "m.safetensors", header, data)
    with pytest.raises(WeightsError, match="m.safetensors: .*" + message.replace("(", r"\(")):
        SafetensorsFile(path)


def test_a_valid_hand_made_file_still_reads(tmp_path):
    path = raw_safetensors(tmp_path / "m.safetensors", json.dumps({"b": entry(16, 32), "a": entry(0, 16)}),
                           F32x4 * 2)
    np.testing.assert_array_equal(SafetensorsFile(path).float_tensor("b"), np.arange(4))


def test_absurd_layer_count_fails_at_once(tmp_path, minilm_dir):
    model = small_model(minilm_dir, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(dict(config, num_hidden_layers=10 ** 9)))
    for attempt in (lambda: minie5.load(model), lambda: minie5.describe(model)):
        start = time.perf_counter()
        with pytest.raises(WeightsError, match="asks for 1000000000 layers"):
            attempt()
        assert time.perf_counter() - start < 2
    result = run_cli("info", model)
    assert result.returncode == 1 and "asks for 1000000000 layers" in result.stderr


def test_config_that_is_not_text_or_not_a_file(tmp_path, minilm_dir):
    model = small_model(minilm_dir, tmp_path / "m")
    (model / "config.json").write_bytes(b'{"model_type": "\xff\xfe"}')
    with pytest.raises(ConfigError, match="config.json: not UTF-8 text"):
        minie5.load(model)
    (model / "config.json").unlink()
    (model / "config.json").mkdir()
    with pytest.raises(ConfigError, match="config.json: is a directory"):
        minie5.load(model)


@pytest.mark.parametrize("bad_id", [40000, 10 ** 6])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_tokenizer_id_past_the_vocabulary_is_refused(tmp_path, minilm_dir, bad_id, backend):
    """The vocabulary has its usual 30522 entries, but one of them points past the table."""
    model = small_model(minilm_dir, tmp_path / "m")
    tokenizer = json.loads((model / "tokenizer.json").read_text())
    tokenizer["model"]["vocab"]["summit"] = bad_id
    (model / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(TokenizerError, match=f"tokenizer.json: token 'summit' has id {bad_id}, outside"):
        minie5.load(model, backend=backend)
    result = run_cli("embed", "-m", model, "summit define")
    assert result.returncode == 1 and f"has id {bad_id}, outside" in result.stderr


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_token_ids_are_checked_before_any_kernel(tmp_path, minilm_dir, backend):
    model = minie5.load(small_model(minilm_dir, tmp_path / "m"), backend=backend)
    good = model.tokenizer.tokenize(["a b"])[0]
    with pytest.raises(ValueError, match="ids\\[1\\] holds token id 30522, outside the vocabulary"):
        model.encode_tokens([good, np.array([101, 30522, 102])])
    with pytest.raises(ValueError, match="ids\\[0\\] holds token id -1"):
        model.encode_tokens([np.array([101, -1, 102])])
    with pytest.raises(ValueError, match="ids\\[0\\] has 513 tokens"):
        model.encode_tokens([np.full(513, 1000)])


@pytest.mark.parametrize("how", ["argument", "sentence_bert_config", "config"])
def test_a_limit_with_no_room_for_text_is_refused(tmp_path, minilm_dir, how):
    model = small_model(minilm_dir, tmp_path / "m", **({"max_position_embeddings": 2} if how == "config" else {}))
    if how == "sentence_bert_config":
        (model / "sentence_bert_config.json").write_text('{"max_seq_length": 2}')
    with pytest.raises((TokenizerError, WeightsError, ConfigError), match="no room for text|max_length|position"):
        minie5.load(model, **({"max_length": 2} if how == "argument" else {}))


def test_chunk_windows_never_pass_the_limit(tmp_path, minilm_dir):
    model = minie5.load(small_model(minilm_dir, tmp_path / "m"), max_length=3)
    text = "the committee met again to review the proposal " * 75  # 600 words
    assert all(len(w) <= 3 for w in model.tokenizer.tokenize_windows([text])[0])
    vector = model.encode(text, long="chunk")
    assert np.isfinite(vector).all() and abs(np.linalg.norm(vector) - 1) < 1e-5


def test_windows_are_checked_whatever_the_tokenizer_library_does(tmp_path, minilm_dir):
    tokenizer = Tokenizer(minilm_dir / "tokenizer.json", 8)
    tokenizer.max_length = 4  # as if the library had ignored the limit it was given
    with pytest.raises(TokenizerError, match="texts\\[0\\] gave a window of 8 tokens; the limit is 4"):
        tokenizer.tokenize_windows(["one two three four five six seven eight"])
