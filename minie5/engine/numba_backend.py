"""The fast engine: the forward pass as NumPy matrix products and Numba kernels on packed tokens.

Per encoder layer, with x the [M, H] packed hidden states of a batch:

    qkv = x @ W_qkv^T        one product for query, key and value: [M, 3H]
    attention(qkv^T)         per text and head, at the text's true length           -> ctx [M, H]
    x = LN(ctx @ W_o + b + x)                                       add_bias_residual_layer_norm
    h = GELU(x @ W_1 + b)                                           add_bias_gelu       [M, F]
    x = LN(h @ W_2 + b + x)                                         add_bias_residual_layer_norm

The products go to kernels.linear, a Numba kernel with one arithmetic for every row (so a text's
vector does not depend on its batch), its weights packed at load in groups of 16 columns, or, for
long batches on machines where it is faster, to OpenBLAS through NumPy (Numba's own np.dot would
need SciPy, and calls the same library); with dtype="int8", to kernels.int8 (weights rounded at
load, each product's input rounded per token), with dtype="bfloat16" to kernels.bfloat16; on a CPU
with AMX, bfloat16 and int8 go to the tile kernels kernels.amx_bfloat16 and kernels.amx_int8
(dispatch.py chooses each dtype's kernel);
everything between them is a kernel from kernels/.
Attention reads query, key and value through a transposed view, a row per channel (see
kernels.self_attention). Buffers are reused from batch to batch. The pass ends with pooling; the
pooled vectors go back to the text pipeline in float64, unnormalised.
"""

from __future__ import annotations

import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..loading.config import BertConfig
from ..reference.padding import pad_batch
from . import dispatch, kernels
from .kernels import amx_bfloat16, amx_emulator, amx_int8, bfloat16, int8
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

    def __init__(self, params: dict, config: BertConfig, threads: ThreadLimits, deterministic: bool = False,
                 weights: str = "float32"):
        self.config = config
        self.threads = threads
        # Every product through kernels.linear: one arithmetic for every row, so a text's vector is the
        # same bits alone or in any batch. OpenBLAS is faster on many rows but rounds its edge tiles
        # differently from its main tiles, so a row's result depends on the batch around it.
        self.deterministic = deterministic
        # "int8": the products' weights rounded to int8 at load (kernels/int8.py) and their inputs
        # per token; "bfloat16": both rounded to bfloat16 (kernels/bfloat16.py). A row's arithmetic
        # never depends on its batch in either, so both are deterministic too.
        # dispatch.choose: AMX tiles, else AVX-512 BF16 / VNNI, else float32 (decided before compiling).
        self.choice = dispatch.choose(weights)
        kernel = self.choice.kernel
        self._amx = kernel.startswith("kernels.amx_")
        # The AMX products' tiles: None for the CPU's own, or the emulator's ($MINIE5_AMX=emulate).
        self._tiles = amx_emulator.tile_files() if kernel.endswith("(emulated)") else None
        self._int8_product = {"kernels.int8": int8.linear_int8,
                              "kernels.int8 (portable)": int8.linear_int8_portable}.get(kernel)
        self._bfloat16_product = bfloat16.linear_bfloat16 if kernel == "kernels.bfloat16" else None
        # Without their instructions, both run float32 instead, exactly as dtype="float32" runs
        # (deterministic only if asked): without VNNI the portable int8 loops run at a tenth of
        # kernels.linear's float32 rate (docs/engine-guide.md, "int8"), so float32 is both faster and
        # more exact there; and forcing deterministic=True would hold long batches to kernels.linear,
        # slower than float32's OpenBLAS where that wins: no dtype may run slower than float32.
        if self.choice.runs != weights:
            warnings.warn(f"dtype={weights!r}: this CPU (or NUMBA_CPU_NAME / NUMBA_CPU_FEATURES) {self.choice.why}: "
                          f"running dtype='float32' instead", RuntimeWarning, stacklevel=4)
            weights = "float32"
        # The VNNI int8 kernel's input is rounded by the kernel that writes it (LayerNorm, GELU);
        # AMX's, in blocks of 64, by the product itself.
        self._fused_int8_rounding = weights == "int8" and not self._amx
        self.weights = weights
        emb = params["embeddings"]
        self.word = emb["word_embeddings"]["weight"]
        self.position = emb["position_embeddings"]["weight"]
        self.token_type = emb["token_type_embeddings"]["weight"]
        self.embeddings_norm = (emb["LayerNorm"]["weight"], emb["LayerNorm"]["bias"])
        pack = {"float32": kernels.pack_weight, "int8": amx_int8.pack_weight if self._amx else int8.pack_weight,
                "bfloat16": amx_bfloat16.pack_weight if self._amx else bfloat16.pack_weight}[weights]
        self.layers = [_Layer(p, pack) for p in params["encoder"]["layer"]]
        self._buffers: dict[str, np.ndarray] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads.threads, thread_name_prefix="minie5-blas")

    def embed(self, ids: list[np.ndarray], pooling: str,
              token_types: list[np.ndarray] | None = None) -> np.ndarray:  # B ragged -> [B, H] float64
        with _FORWARD_LOCK, self.threads.applied():  # limits are process-wide: set them under the lock
            offsets, x = self._forward(ids, keep=None, token_types=token_types)
            out = np.empty((len(ids), self.config.hidden_size), dtype=np.float64)
            kernels.POOLINGS[pooling](x, offsets, out)
        return out

    def token_states(self, ids: list[np.ndarray], head):
        """Run a batch and hand its last layer's token vectors, packed [M, H] float32 with each
        text's rows offsets[s]:offsets[s+1], to `head(x, offsets)` while the forward lock is held;
        return what it returns. For heads that read every token (minie5.sparse's masked-LM head,
        minie5.multi_vector's projection): x is a buffer the next pass overwrites, and the head's
        own products go through `product` under the same lock."""
        with _FORWARD_LOCK, self.threads.applied():
            offsets, x = self._forward(ids, keep=None)
            return head(x, offsets)

    def pack(self, weight: np.ndarray):  # [N, K] float32 -> this engine's packed weight
        """A head's [out, in] weight packed as this engine packs its layers' (float32, int8 or bfloat16)."""
        return {"float32": kernels.pack_weight, "int8": int8.pack_weight, "bfloat16": bfloat16.pack_weight}[
            self.weights](np.ascontiguousarray(weight, dtype=np.float32))

    def product(self, a: np.ndarray, weight, out: np.ndarray) -> None:  # [M, K] @ [N, K]^T -> out [M, N]
        """out = a @ weight^T for a weight from `pack`, as the layers' products run; call it only
        from a `token_states` head (it needs the forward lock)."""
        self._matmul(a, weight, out)

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

    def _matmul(self, a: np.ndarray, weight,
                out: np.ndarray, rounded: tuple | None = None) -> None:  # [M, K] @ [N, K]^T -> [M, N]
        """out = a @ weight^T on `threads` cores, weight in torch.nn.Linear's [out, in] layout.

        kernels.linear, whose arithmetic per output never depends on the batch, takes every product
        with deterministic=True, and otherwise a few rows, or any number where it is the faster of
        the two (measured once per process, see _linear_is_faster). The rest go to OpenBLAS as
        single-threaded calls on blocks of rows, one per thread of our own pool. OpenBLAS's own
        threads would be simpler, but they spin for a while after each product, and on a small
        machine that steals the cores the next kernel needs. An int8 weight goes to kernels.int8
        (`rounded`: a already rounded by the kernel that wrote it, see _rounded), a bfloat16 one to
        kernels.bfloat16, a's rows rounded first.

        The kernels write whole groups of 16 columns to a C-contiguous array; where `out` is not
        one (a width not a multiple of 16), they write to a work array, copied."""
        if isinstance(weight, kernels.PackedWeight) and not (
                self.deterministic or a.shape[0] <= LINEAR_ROWS or self._linear_is_faster()):
            self._openblas(a, weight.dense, out[:, :weight.rows])  # a head's out may hold the padding columns
            return
        M = a.shape[0]
        direct = out.flags.c_contiguous and out.shape[1] == weight.padded_rows
        target = out if direct else self._buffer("product_out", M, weight.padded_rows)
        if isinstance(weight, int8.QuantizedWeight):
            self._int8_matmul(a, weight, target, rounded)
        elif isinstance(weight, amx_bfloat16.AmxBFloat16Weight):
            rounded_a = self._buffer(f"amx_bfloat16_x{a.shape[1]}", M, weight.padded_cols, np.uint16)
            bfloat16.round_rows(a, rounded_a)
            amx_bfloat16.linear_amx_bfloat16(rounded_a, weight.packed, target, self._tiles)
        elif isinstance(weight, amx_int8.AmxInt8Weight):
            Kp = weight.padded_cols
            xq = self._buffer(f"amx_int8_x{Kp}", M, Kp, np.int8)
            xs = self._buffer(f"amx_int8_scales{Kp}", M, Kp // amx_int8.BLOCK)
            amx_int8.quantize_rows(a, xq, xs)
            amx_int8.linear_amx_int8(xq, xs, weight.packed, weight.scales, target, self._tiles)
        elif isinstance(weight, bfloat16.BFloat16Weight):
            K = a.shape[1]
            rounded_a = self._buffer(f"bfloat16_x{K}", M, K + K % 2, np.uint16)
            bfloat16.round_rows(a, rounded_a)
            self._bfloat16_product(rounded_a, weight.packed, target)
        else:
            kernels.linear(a, weight.packed, target)
        if not direct:
            out[:] = target[:, :weight.rows]

    def _rounded(self, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """With dtype="int8", where a product's [rows, cols] input is rounded to (xq, xs as
        int8.quantize_rows fills them), by the kernel that writes it or by _int8_matmul; (None,
        None) otherwise. One pair per width: each input is rounded just before the product that
        reads it, so the products of one width can share it."""
        if not self._fused_int8_rounding:
            return None, None
        blocks = -(-cols // int8.BLOCK)
        return (self._buffer(f"int8_x{cols}", rows, blocks * int8.BLOCK, np.uint8),
                self._buffer(f"int8_scales{cols}", rows, blocks))

    def _int8_matmul(self, a: np.ndarray, weight: int8.QuantizedWeight, out: np.ndarray,
                     rounded: tuple | None = None) -> None:  # out: [M, Np], C-contiguous
        """out = a @ weight^T with int8 products: a's rows rounded to int8 in blocks of 32, then
        kernels.int8."""
        if rounded is None:
            rounded = self._rounded(a.shape[0], a.shape[1])
            kernels.quantize_rows(a, *rounded)
        xq, xs = rounded
        self._int8_product(xq, xs, weight.packed, weight.scales, weight.start, out)

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
            packed = kernels.pack_weight(weight)
            products = {"linear": lambda: kernels.linear(x, packed.packed, out),
                        "openblas": lambda: self._openblas(x, weight, out)}
            seconds = {name: [] for name in products}
            for _ in range(3):
                for name, product in products.items():
                    start = time.perf_counter()
                    product()
                    seconds[name].append(time.perf_counter() - start)
            _LINEAR_IS_FASTER[key] = min(seconds["linear"]) <= min(seconds["openblas"])
        return _LINEAR_IS_FASTER[key]

    def products(self) -> str:
        """Which code computes the products of long batches: "kernels.linear" or "openblas". The
        first call in a process may time both (see _linear_is_faster), as a pass would run them."""
        if self.weights in ("int8", "bfloat16"):
            return self.choice.kernel
        if self.deterministic:
            return "kernels.linear"
        with _FORWARD_LOCK, self.threads.applied():
            return "kernels.linear" if self._linear_is_faster() else "openblas"

    def _buffer(self, name: str, rows: int, cols: int, dtype=np.float32) -> np.ndarray:
        """A C-contiguous [rows, cols] work array (float32 unless said), carved from storage reused
        across batches (only under the lock) and grown when a batch needs more."""
        storage = self._buffers.get(name)
        if storage is None or storage.size < rows * cols:
            storage = self._buffers[name] = np.empty(max(rows * cols, 1 << 16), dtype=dtype)
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
        # The products store 16 columns of a row at once, so they write query, key and value a row
        # per token, and attention reads them through the transposed view, a row per channel.
        qkv = self._buffer("qkv", M, 3 * H)
        ctx = self._buffer("ctx", M, H)
        y, h = self._buffer("y", M, H), self._buffer("h", M, F)
        kernels.embeddings_layer_norm(input_ids, positions, types, self.word, self.position, self.token_type,
                                      *self.embeddings_norm, eps, x)
        if keep is not None:
            keep.append(x.copy())
        # With dtype="int8", LayerNorm and GELU also round their output for the product after them.
        rounded_x, rounded_h = self._rounded(M, H), self._rounded(M, F)
        if rounded_x[0] is not None:
            kernels.quantize_rows(x, *rounded_x)
        for layer in self.layers:
            self._matmul(x, layer.qkv_weight, qkv, rounded_x)
            self._self_attention(qkv, layer.qkv_bias, offsets, N, ctx)
            self._matmul(ctx, layer.attention_output_weight, y)  # rounded by _int8_matmul
            kernels.add_bias_residual_layer_norm(y, layer.attention_output_bias, x, *layer.attention_norm, eps,
                                                 *rounded_x)
            self._feed_forward(layer, x, h, y, rounded_x, rounded_h)
            kernels.add_bias_residual_layer_norm(y, layer.output_bias, x, *layer.output_norm, eps, *rounded_x)
            if keep is not None:
                keep.append(x.copy())
        return offsets, x

    def _feed_forward(self, layer: _Layer, x: np.ndarray, h: np.ndarray, y: np.ndarray, rounded_x: tuple,
                      rounded_h: tuple) -> None:  # x [M, H] -> y [M, H], before the bias and residual
        """BERT's GELU feed-forward; a family with a gated one (NomicBERT's SwiGLU) overrides this."""
        self._matmul(x, layer.intermediate_weight, h, rounded_x)
        kernels.add_bias_gelu(h, layer.intermediate_bias, *rounded_h)
        self._matmul(h, layer.output_weight, y, rounded_h)

    def _self_attention(self, qkv: np.ndarray, qkv_bias: np.ndarray, offsets: np.ndarray, num_heads: int,
                        ctx: np.ndarray) -> None:  # [M, 3H] -> ctx [M, H]
        """BERT's attention; a family whose scores differ (MPNet's relative bias) overrides this."""
        with numba.parallel_chunksize(1):  # texts differ in length: hand out (text, head) pairs one by one
            kernels.self_attention(qkv.T, qkv_bias, offsets, num_heads, ctx)


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
    """One encoder layer's weights as the engine's products take them: query, key and value
    stacked into one [3H, H] matrix, and each product's weight packed by `pack`: for kernels.linear
    (kernels.pack_weight), or rounded and packed for an int8 or bfloat16 kernel (amx_*.pack_weight,
    int8.pack_weight, bfloat16.pack_weight). Biases and LayerNorms stay float32."""

    def __init__(self, p: dict, pack=kernels.pack_weight):
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
        for name in ("qkv_weight", "attention_output_weight", "intermediate_weight", "output_weight"):
            setattr(self, name, pack(getattr(self, name)))

