"""BERT on one page: a text's embedding from config.json, model.safetensors and tokenizer.json, in
plain NumPy. minie5/reference/ is the annotated version of this page (padding, masks, every
architecture minie5 runs); tests/reference/test_one_page.py holds this page to it.

    python docs/bert_one_page.py MODEL_FOLDER "query: how tall is everest"
"""

import json
import math
import sys

import numpy as np
from tokenizers import Tokenizer

erf = np.vectorize(math.erf)  # NumPy has no erf; slow, but plain


def load_safetensors(path):
    """{name: array}: an 8-byte header length, a JSON header of dtypes, shapes and offsets, the bytes."""
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        data = f.read()
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    return {name.removeprefix("bert."): np.frombuffer(data[t["data_offsets"][0]:t["data_offsets"][1]],
                                                        dtypes[t["dtype"]]).reshape(t["shape"])
            for name, t in header.items() if name != "__metadata__"}


def layer_norm(x, W, name, eps):  # over the last axis, then scaled and shifted
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]


def linear(x, W, name):  # PyTorch's Linear: weight is [out, in]
    return x @ W[name + ".weight"].T + W[name + ".bias"]


def gelu(x):  # exact GELU, x * P(Z <= x) for a standard normal Z
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def bert(ids, W, config):  # one text's token ids [T] -> its last hidden states [T, H]
    T, H, heads, eps = len(ids), config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    D = H // heads
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T]
         + W["embeddings.token_type_embeddings.weight"][0])  # what, where, which segment
    x = layer_norm(x, W, "embeddings.LayerNorm", eps)
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (linear(x, W, p + "attention.self." + n).reshape(T, heads, D).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))  # [heads, T, D] each
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(D)  # [heads, T, T]: how much each token looks at each
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)  # softmax over the keys
        context = (probs @ v).transpose(1, 0, 2).reshape(T, H)  # the heads side by side again
        x = layer_norm(x + linear(context, W, p + "attention.output.dense"), W, p + "attention.output.LayerNorm", eps)
        h = gelu(linear(x, W, p + "intermediate.dense"))  # [T, 4H]
        x = layer_norm(x + linear(h, W, p + "output.dense"), W, p + "output.LayerNorm", eps)
    return x


def embed(text, folder, max_length=512):
    """The unit vector of `text`: its tokens' last hidden states, averaged, scaled to length 1."""
    config = json.load(open(f"{folder}/config.json"))
    W = {name: w.astype(np.float64) for name, w in load_safetensors(f"{folder}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_padding()  # a tokenizer.json may pad to a fixed length: the mean would count the pads
    tokenizer.enable_truncation(max_length)
    vector = bert(np.array(tokenizer.encode(text).ids), W, config).mean(axis=0)
    return vector / np.linalg.norm(vector)


if __name__ == "__main__":
    print(embed(sys.argv[2], sys.argv[1]))
