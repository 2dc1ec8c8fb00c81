"""The fast engine: the forward pass as NumPy matrix products and Numba kernels on packed tokens.

Per encoder layer, with x the [M, H] packed hidden states of a batch:

    qkv_t = W_qkv x^T        one product for query, key and value: [3H, M], a row per channel
    attention(qkv_t)         per text and head, at the text's true length           -> ctx [M, H]
    x = LN(ctx @ W_o + b + x)                                       add_bias_residual_layer_norm
    h = GELU(x @ W_1 + b)                                           add_bias_gelu       [M, F]
    x = LN(h @ W_2 + b + x)                                         add_bias_residual_layer_norm

The products go to kernels.linear, a Numba kernel with one arithmetic for every row (so a text's
vector does not depend on its batch), or, for long batches on machines where it is faster, to
OpenBLAS through NumPy (Numba's own np.dot would need SciPy, and calls the same library); everything
between them is a kernel from kernels.py. Attention reads its input transposed, a row per channel
(see kernels.self_attention), which the product writes for free. Weights stay in torch.nn.Linear's
[out, in] layout, and buffers are reused from batch to batch. The pass ends with pooling; the
pooled vectors go back to the text pipeline in float64, unnormalised.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..loading.config import BertConfig
from ..reference.padding import pad_batch
from . import kernels
from .threads import ThreadLimits

# One forward pass at a time per process. Each pass already keeps every core it is given busy, so
# running two at once would only oversubscribe them; and Numba's default "workqueue" threading
# layer must never be entered from two Python threads at once.
_FORWARD_LOCK = threading.Lock()
_LINEAR_IS_FASTER: dict[tuple, bool] = {}  # (threads, hidden, intermediate) -> measured once per process
MIN_ROWS_PER_THREAD = 32  # below this a product is too small to be worth splitting
# Up to this many tokens, products always go to kernels.linear: OpenBLAS spends longer packing the
# weights than multiplying, and its calls compete with Numba's threads still spinning after the
# kernel before (docs/engine-guide.md has the measurements).
LINEAR_ROWS = 256


class NumbaBackend:
    """The fast forward pass behind the `Backend` interface: packed tokens, float32."""

    name = "numba"
    pads_batches = False  # a batch costs its real tokens, not its length times its size
    dtype = np.dtype(np.float32)
    max_batch_tokens = 16384  # ~15 kB of buffers per token: about 250 MB at most

    def __init__(self, params: dict, config: BertConfig, threads: ThreadLimits, deterministic: bool = False):
        self.config = config
        self.threads = threads
        # Every product through kernels.linear: one arithmetic for every row, so a text's vector is the
        # same bits alone or in any batch. OpenBLAS is faster on many rows but rounds its edge tiles
        # differently from its main tiles, so a row's result depends on the batch around it.
        self.deterministic = deterministic
        emb = params["embeddings"]
        self.word = emb["word_embeddings"]["weight"]
        self.position = emb["position_embeddings"]["weight"]
        self.token_type = emb["token_type_embeddings"]["weight"]
        self.embeddings_norm = (emb["LayerNorm"]["weight"], emb["LayerNorm"]["bias"])
        self.layers = [_Layer(p) for p in params["encoder"]["layer"]]
        self._buffers: dict[str, np.ndarray] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads.threads, thread_name_prefix="minie5-blas")

    def embed(self, ids: list[np.ndarray], pooling: str,
              token_types: list[np.ndarray] | None = None) -> np.ndarray:  # B ragged -> [B, H] float64
        with _FORWARD_LOCK, self.threads.applied():  # limits are process-wide: set them under the lock
            offsets, x = self._forward(ids, keep=None, token_types=token_types)
            out = np.empty((len(ids), self.config.hidden_size), dtype=np.float64)
            kernels.POOLINGS[pooling](x, offsets, out)
        return out

    def hidden_states(self, ids: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """The embeddings' output and every layer's, padded to [B, T, H] with a mask, as the NumPy
        backend returns them (for comparison; the engine itself never pads)."""
        states: list[np.ndarray] = []
        with _FORWARD_LOCK, self.threads.applied():  # limits are process-wide: set them under the lock
            offsets, _ = self._forward(ids, keep=states)
        _, mask = pad_batch(ids)
        padded = []
        for packed in states:
            state = np.zeros(mask.shape + (packed.shape[1],), dtype=np.float32)
            state[mask > 0] = packed
            padded.append(state)
        return padded, mask

    def _matmul(self, a: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:  # [M, K] @ [N, K]^T -> [M, N]
        """out = a @ weight^T on `threads` cores, weight in torch.nn.Linear's [out, in] layout.

        kernels.linear, whose arithmetic per output never depends on the batch, takes every product
        with deterministic=True, and otherwise a few rows, or any number where it is the faster of
        the two (measured once per process, see _linear_is_faster). The rest go to OpenBLAS as
        single-threaded calls on blocks of rows, one per thread of our own pool. OpenBLAS's own
        threads would be simpler, but they spin for a while after each product, and on a small
        machine that steals the cores the next kernel needs."""
        if self.deterministic or a.shape[0] <= LINEAR_ROWS or self._linear_is_faster():
            kernels.linear(a, weight, out)
        else:
            self._openblas(a, weight, out)

    def _openblas(self, a: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
        openblas_matmul(a, weight, out, self._pool, self.threads.threads)

    def _linear_is_faster(self) -> bool:
        """Whether kernels.linear beats OpenBLAS on a large product on this machine, timed once per
        process on this model's widest product (1,024 rows, best of three each). Called inside a
        pass (under the forward lock, with the pass's thread limits), so it is measured as a pass
        runs it. Which one wins depends on the CPU and on the OpenBLAS build (numpy's OpenBLAS held
        to its AVX2 kernels by OPENBLAS_CORETYPE=Haswell loses; its AVX-512 kernels win)."""
        if numba.config.DISABLE_JIT:  # the kernel runs as plain Python: no contest, and no time to waste timing it
            return False
        key = (self.threads.threads, self.config.hidden_size, self.config.intermediate_size)
        if key not in _LINEAR_IS_FASTER:
            rng = np.random.default_rng(0)
            H, F = self.config.hidden_size, self.config.intermediate_size
            x, weight = rng.standard_normal((1024, H), dtype=np.float32), rng.standard_normal((F, H), dtype=np.float32)
            out = np.empty((1024, F), dtype=np.float32)
            products = {"linear": kernels.linear, "openblas": self._openblas}
            seconds = {name: [] for name in products}
            for _ in range(3):
                for name, product in products.items():
                    start = time.perf_counter()
                    product(x, weight, out)
                    seconds[name].append(time.perf_counter() - start)
            _LINEAR_IS_FASTER[key] = min(seconds["linear"]) <= min(seconds["openblas"])
        return _LINEAR_IS_FASTER[key]

    def products(self) -> str:
        """Which code computes the products of long batches: "kernels.linear" or "openblas". The
        first call in a process may time both (see _linear_is_faster), as a pass would run them."""
        if self.deterministic:
            return "kernels.linear"
        with _FORWARD_LOCK, self.threads.applied():
            return "kernels.linear" if self._linear_is_faster() else "openblas"

    def _buffer(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A C-contiguous [rows, cols] float32 work array, carved from storage reused across
        batches (only under the lock) and grown when a batch needs more."""
        storage = self._buffers.get(name)
        if storage is None or storage.size < rows * cols:
            storage = self._buffers[name] = np.empty(max(rows * cols, 1 << 16), dtype=np.float32)
        return storage[:rows * cols].reshape(rows, cols)

    def _forward(self, ids: list[np.ndarray], keep: list | None,
                 token_types: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        config = self.config
        H, F, N = config.hidden_size, config.intermediate_size, config.num_attention_heads
        eps = config.layer_norm_eps
        lengths = np.fromiter((len(seq) for seq in ids), dtype=np.int64, count=len(ids))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        M = int(offsets[-1])
        input_ids = np.concatenate(ids).astype(np.int64)
        positions = packed_position_ids(input_ids, offsets, config)
        # Segment ids: all 0 for single texts; a cross-encoder's pairs bring their own (0, then 1).
        types = np.zeros(M, np.int64) if token_types is None else np.concatenate(token_types).astype(np.int64)
        # Every kernel runs on all the pass's threads (set by ThreadLimits.applied), even for a
        # single short text: Numba's threads spin briefly between kernels (see threads.py), so
        # waking them costs less than the work they take over.
        x = self._buffer("x", M, H)
        qkv_t, ctx = self._buffer("qkv_t", 3 * H, M), self._buffer("ctx", M, H)
        y, h = self._buffer("y", M, H), self._buffer("h", M, F)
        kernels.embeddings_layer_norm(input_ids, positions, types, self.word, self.position, self.token_type,
                                      *self.embeddings_norm, eps, x)
        if keep is not None:
            keep.append(x.copy())
        for layer in self.layers:
            self._matmul(x, layer.qkv_weight, qkv_t.T)
            with numba.parallel_chunksize(1):  # texts differ in length: hand out (text, head) pairs one by one
                kernels.self_attention(qkv_t, layer.qkv_bias, offsets, N, ctx)
            self._matmul(ctx, layer.attention_output_weight, y)
            kernels.add_bias_residual_layer_norm(y, layer.attention_output_bias, x, *layer.attention_norm, eps)
            self._matmul(x, layer.intermediate_weight, h)
            kernels.add_bias_gelu(h, layer.intermediate_bias)
            self._matmul(h, layer.output_weight, y)
            kernels.add_bias_residual_layer_norm(y, layer.output_bias, x, *layer.output_norm, eps)
            if keep is not None:
                keep.append(x.copy())
        return offsets, x


def openblas_matmul(a: np.ndarray, weight: np.ndarray, out: np.ndarray, pool: ThreadPoolExecutor,
                    threads: int) -> None:  # [M, K] @ [N, K]^T -> out [M, N]
    """out = a @ weight^T as the engine asks OpenBLAS for it: single-threaded calls on `threads`
    blocks of rows, run by `pool` (OpenBLAS held to one thread by the caller); one call when the
    rows are too few to split."""
    M = a.shape[0]
    if M < MIN_ROWS_PER_THREAD * threads:
        np.matmul(a, weight.T, out=out)
        return
    bounds = [M * i // threads for i in range(threads + 1)]
    blocks = [pool.submit(np.matmul, a[r0:r1], weight.T, out=out[r0:r1]) for r0, r1 in zip(bounds[:-1], bounds[1:])]
    for block in blocks:
        block.result()


def packed_position_ids(input_ids: np.ndarray, offsets: np.ndarray, config: BertConfig) -> np.ndarray:  # [M] -> [M]
    """reference.position_ids for packed texts: each text counts from its own first token."""
    lengths = np.diff(offsets)
    if config.position_offset == 0:
        return np.arange(len(input_ids), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    real = (input_ids != config.pad_token_id).astype(np.int64)
    counts = np.cumsum(real)
    before = np.repeat(counts[offsets[:-1]] - real[offsets[:-1]], lengths)  # real tokens of earlier texts
    return (counts - before) * real + config.pad_token_id


class _Layer:
    """One encoder layer's weights as the engine's products take them: in torch.nn.Linear's
    [out, in] layout, as stored, with query, key and value stacked into one [3H, H] matrix."""

    def __init__(self, p: dict):
        attn = p["attention"]
        q, k, v = (attn["self"][name] for name in ("query", "key", "value"))
        self.qkv_weight = np.concatenate([q["weight"], k["weight"], v["weight"]])
        self.qkv_bias = np.concatenate([q["bias"], k["bias"], v["bias"]])
        self.attention_output_weight = attn["output"]["dense"]["weight"]
        self.attention_output_bias = attn["output"]["dense"]["bias"]
        self.attention_norm = (attn["output"]["LayerNorm"]["weight"], attn["output"]["LayerNorm"]["bias"])
        self.intermediate_weight = p["intermediate"]["dense"]["weight"]
        self.intermediate_bias = p["intermediate"]["dense"]["bias"]
        self.output_weight = p["output"]["dense"]["weight"]
        self.output_bias = p["output"]["dense"]["bias"]
        self.output_norm = (p["output"]["LayerNorm"]["weight"], p["output"]["LayerNorm"]["bias"])

