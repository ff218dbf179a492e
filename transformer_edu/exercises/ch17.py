"""Checkers for chapter 17, what changed since 2017 (each change is later than the paper; the chapter cites them).

The expected answers come from the package's own GPT (built here, small and untrained: its parameters and its
key/value cache are counted, not computed from a formula) and from rotary.apply_rotary, so a checker and the
model it describes cannot disagree. A wrong answer gets a hint, never the expected number.
"""
from __future__ import annotations

from functools import lru_cache

import torch

from ..gpt import GPT, GPTConfig
from ..model import count_parameters
from ..rotary import apply_rotary
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet

# Configurations the checkers try: different widths, heads, depths, vocabularies and contexts, so that an
# answer tuned to one of them (the chapter's) does not pass.
_CONFIGS = (
    dict(vocab_size=88, d_model=128, n_heads=4, d_ff=512, n_layers=4, max_len=64),  # the chapter's model
    dict(vocab_size=50, d_model=48, n_heads=6, d_ff=100, n_layers=3, max_len=32),
    dict(vocab_size=30, d_model=64, n_heads=8, d_ff=96, n_layers=2, max_len=20),
)


def _config(values: dict, **changes) -> GPTConfig:
    return GPTConfig(**{**values, "dropout": 0.0, **changes})


def _describe(config: GPTConfig) -> str:
    return (f"GPTConfig(vocab_size={config.vocab_size}, d_model={config.d_model}, n_heads={config.n_heads}, "
            f"n_kv_heads={config.n_kv_heads}, d_ff={config.d_ff}, n_layers={config.n_layers}, "
            f"max_len={config.max_len})")


@lru_cache(maxsize=None)  # a config is frozen, hence a key; each model is built once per session
def _measured_cache_bytes(config: GPTConfig) -> int:
    """Bytes a float32 model keeps in its KVCache per token, measured on a real cache after 3 tokens."""
    with torch.random.fork_rng():  # the reader's random numbers are left as they were
        model = GPT(config).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 3, dtype=torch.long), cache=cache)
    kept = sum(c.k.numel() * c.k.element_size() + c.v.numel() * c.v.element_size() for c in cache.caches.values())
    return kept // 3


def _call(fn, call: str, *args):
    """(result, None), or (None, Feedback) naming the call if the learner's function raised."""
    try:
        return fn(*args), None
    except Exception as exc:  # the learner's code: report, do not crash
        return None, not_yet(f"{call} raised {exc!r}")


def _whole(got) -> bool:
    """True for an int, or a float with no fractional part (4096.0); False for NaN, inf, bool and the rest."""
    if isinstance(got, bool):
        return False
    return isinstance(got, int) or isinstance(got, float) and got.is_integer()


def _as_int(got, call: str) -> tuple[int | None, Feedback | None]:
    if got is None:
        return None, not_yet("your function returned None: return the number of bytes, an int")
    if not _whole(got):
        return None, not_yet(f"{call} should return a whole number of bytes, got {got!r}")
    return int(got), None


@checker
def check_kv_cache_bytes(bytes_fn) -> Feedback:
    """`bytes_fn(config, bytes_per_number)` should return how many bytes a GPT with this GPTConfig keeps in its
    key/value cache for ONE token of ONE sequence, every layer included, when each number takes
    bytes_per_number bytes (4 for float32, 2 for float16 or bfloat16)."""
    # the first case tells the usual mistakes apart (3 layers, 4 bytes: no factor of the answer is repeated)
    cases = [(_config(values, n_kv_heads=kv), 4) for values in (_CONFIGS[1], _CONFIGS[0], _CONFIGS[2])
             for kv in (None, 2, 1)]
    cases += [(_config(_CONFIGS[1], n_kv_heads=3), 2), (_config(_CONFIGS[2], n_kv_heads=4), 2)]
    for config, size in cases:
        expected = _measured_cache_bytes(config) * size // 4  # measured in float32, 4 bytes a number
        call = f"bytes_fn({_describe(config)}, {size})"
        got, problem = _call(bytes_fn, call, config, size)
        if problem is None:
            got, problem = _as_int(got, call)
        if problem is not None:
            return problem
        if got == expected:
            continue
        h, h_kv, d_k, n = config.n_heads, config.n_kv_heads or config.n_heads, config.d_k, config.n_layers
        if got * 2 == expected:
            return not_yet(f"{call}: yours is half the size. The cache keeps two tensors per attention layer, the "
                           f"keys AND the values")
        if h_kv != h and got == expected * h // h_kv:
            return not_yet(f"{call}: with n_kv_heads={h_kv} only {h_kv} key/value heads are projected and kept, "
                           f"not one per query head (n_heads={h}); n_kv_heads=None means as many as n_heads")
        if got * n == expected:
            return not_yet(f"{call}: every one of the {n} layers keeps its own keys and values")
        if got == expected // size:
            return not_yet(f"{call}: that counts numbers, not bytes; multiply by bytes_per_number")
        if got == expected * config.max_len:
            return not_yet(f"{call}: that is the cache of a full context of max_len tokens; the question asks "
                           f"for one token")
        if got == n * 2 * config.d_model * size and h_kv != h:
            return not_yet(f"{call}: one token's keys take H_kv x d_k numbers per layer, which is d_model only "
                           f"when every query head has its own key/value head")
        return not_yet(f"{call}: yours is {'too large' if got > expected else 'too small'}. Per layer, the cache "
                       f"keeps keys and values of shape (B, H_kv, S, d_k) (see MultiHeadAttention.split_heads)",
                       answer=f"Expected {expected:,} bytes.")
    return correct("the cache grows with layers x 2 x H_kv x d_k numbers per token. Multi-query attention divides "
                   "it by n_heads, grouped-query attention by n_heads / n_kv_heads; the query heads stay.")


OPTIONS = {  # the one change each option makes to a GPTConfig
    "rms": dict(norm="rms"),
    "learned": dict(positional="learned"),
    "rope": dict(positional="rope"),
    "gqa2": dict(n_kv_heads=2),
    "mqa": dict(n_kv_heads=1),
    "sdpa": dict(attention_kernel="sdpa"),
    "untied": dict(share_embeddings=False),
    "swiglu": dict(activation="swiglu"),
    "pre_ln": dict(norm_first=True, final_norm=True),
}

_HINTS = {
    "rms": "RMSNorm keeps LayerNorm's gain and drops its shift (the bias). Count the norms: how many does one "
           "block have, and how many numbers does each lose?",
    "learned": "learned positions replace the fixed sinusoid table by a trained one: one row of d_model numbers "
               "for each position the model can see (max_len of them). The sinusoids themselves are not trained",
    "rope": "count what rotary positions add: the angles are computed from the position and the sinusoid "
            "frequencies, as the paper's table is. Is anything trained?",
    "gqa2": "with 2 key/value heads, W^K and W^V map d_model to 2 x d_k numbers instead of d_model, in every "
            "layer; their biases shrink the same way. W^Q and W^O do not change",
    "mqa": "with 1 key/value head, W^K and W^V map d_model to d_k numbers instead of d_model, in every layer; "
           "their biases shrink the same way. W^Q and W^O do not change",
    "sdpa": "the fused kernel computes equation 1 in one call. Does a way of computing need weights?",
    "untied": "an untied output layer gets a (vocab_size x d_model) matrix of its own (no bias: see "
              "init_weights in model.py); the embedding keeps its matrix",
    "swiglu": "with the same d_ff, SwiGLU adds the gate's projection V (d_model x d_ff) and its bias (d_ff) to "
              "every layer's feed-forward network",
    "pre_ln": "pre-LN moves each LayerNorm, it does not add any inside the blocks; but a pre-LN stack ends in one "
              "more LayerNorm (final_norm), with a gain and a shift",
}


@lru_cache(maxsize=None)
def _parameter_count(config: GPTConfig) -> int:
    with torch.random.fork_rng():  # building a model draws its weights: leave the reader's generator alone
        return count_parameters(GPT(config))


def _parameter_change(values: dict, option: str) -> int:
    return _parameter_count(_config(values, **OPTIONS[option])) - _parameter_count(_config(values))


@checker
def check_parameter_change(change_fn) -> Feedback:
    """`change_fn(option, config)` should return how many trainable parameters a GPT gains (positive) or loses
    (negative) when the one change named by `option` (a key of OPTIONS) is made to `config`, a GPTConfig with
    the paper's choices (post-LN, LayerNorm, sinusoids, ReLU, tied output layer, one key/value head per head)."""
    for values in _CONFIGS:
        config = _config(values)
        for option in OPTIONS:
            expected = _parameter_change(values, option)
            call = f"change_fn({option!r}, {_describe(config)})"
            got, problem = _call(change_fn, call, option, config)
            if problem is not None:
                return problem
            if got is None:
                return not_yet(f"{call} returned None: return a whole number (0 if nothing changes)")
            if not _whole(got):
                return not_yet(f"{call} should return a whole number of parameters, got {got!r}")
            if int(got) == expected:
                continue
            if expected != 0 and int(got) == -expected:
                return not_yet(f"{call}: the sign is wrong. Return new minus old: an option that removes "
                               f"parameters gives a negative number")
            return not_yet(f"{call} is not right yet. Hint: {_HINTS[option]}.", answer=f"Expected {expected:+,}.")
    return correct("six options change the count: RMSNorm (-2 N D), learned positions (+max_len D), "
                   "fewer key/value heads (-2 N (D + 1)(H - H_kv) d_k), untying (+V D), SwiGLU (+N (D + 1) F) "
                   "and pre-LN's final norm (+2 D). Rotary positions and the fused kernel change how the model "
                   "computes, not what it learns.")


def _rotate_half_reference(x: torch.Tensor, start: int) -> torch.Tensor:
    """Pairs (x_i, x_i+d/2) rotated, computed by moving them next to each other and calling apply_rotary."""
    d = x.shape[-1]
    interleave = torch.stack([torch.arange(d // 2), torch.arange(d // 2, d)], dim=1).flatten()  # 0, d/2, 1, ...
    rotated = apply_rotary(x[..., interleave], start)  # adjacent pairs, the package's layout
    return rotated[..., torch.argsort(interleave)]  # back to the halves layout


@checker
def check_rotate_half(rotate_fn) -> Feedback:
    """`rotate_fn(x, start)` should rotate queries or keys x (..., L, d_k) in the GPT-NeoX / Hugging Face LLaMA
    layout: feature i pairs with feature i + d_k / 2 (not with i + 1), and the pair at position start + m turns
    by the angle (start + m) * theta_i, theta_i = 10000^(-2i / d_k), as in rotary.py."""
    generator = torch.Generator().manual_seed(17)
    for shape, start in [((6, 8), 0), ((2, 3, 5, 16), 4), ((1, 4, 7, 32), 11)]:
        x = torch.randn(*shape, dtype=torch.float64, generator=generator)
        expected = _rotate_half_reference(x, start)
        got, problem = call_learner(rotate_fn, x.clone(), start)
        if problem is not None:
            return problem
        if isinstance(got, torch.Tensor) and got.shape == x.shape:
            if torch.allclose(got, apply_rotary(x, start), atol=1e-9):
                return not_yet("that is rotary.py's layout: pairs of ADJACENT features (2i, 2i + 1). In the "
                               "rotate-half layout feature i pairs with feature i + d_k / 2")
            if start and torch.allclose(got, _rotate_half_reference(x, 0), atol=1e-9):
                return not_yet(f"the positions start at `start` = {start}, not at 0: row m is position start + m")
            if torch.equal(got, x):
                return not_yet("you returned x unchanged: only position 0 is not rotated; position m turns each "
                               "pair by the angle m theta_i")
            keeps_lengths = torch.allclose(got.norm(dim=-1), x.norm(dim=-1), atol=1e-9)
            if keeps_lengths and not torch.allclose(got, expected, atol=1e-9):
                return not_yet("every vector keeps its length, so you rotate; but some angle or direction is off. "
                               "The first half (x_i) becomes x_i cos - x_(i+d/2) sin, the second half "
                               "x_i sin + x_(i+d/2) cos, with the angle (start + m) 10000^(-2i/d_k)")
        problem = compare_tensors(f"rotate_fn(x, {start}) for x of shape {shape}", got, expected, atol=1e-9,
                                  hint="Pair i is (x_i, x_(i+d/2)): work on the two halves of the last axis, "
                                       "with cos and sin from rotary_angles(L, d_k, start).")
        if problem is not None:
            return problem
    return correct("the two layouts differ only by a fixed permutation of the d_k features. Applied to queries "
                   "and keys alike it leaves every dot product, hence every attention score, unchanged, so a "
                   "checkpoint moves between them by permuting the output rows of W^Q and W^K.")


# --- Exercise 4: find the bug in a pre-LN block -----------------------------------------------------------------


def buggy_pre_ln_block(x: torch.Tensor, block, mask):
    """One pre-LN block (GPT-2's order), from a Block's own sub-layers:
    x (B, L, D) -> (B, L, D). (Exercise 4: this version has a bug.)"""
    x = block.self_attn_norm(x)
    x = x + block.self_attn(x, x, x, mask)  # normalize, attend, add
    x = block.ff_norm(x)
    return x + block.feed_forward(x)  # (B, L, D)


def _post_ln_block(x, block, mask):
    x = block.self_attn_norm(x + block.self_attn(x, x, x, mask))
    return block.ff_norm(x + block.feed_forward(x))


def _pre_ln_block_without_mask(x, block, mask):
    h = block.self_attn_norm(x)
    x = x + block.self_attn(h, h, h)
    return x + block.feed_forward(block.ff_norm(x))


@checker
def check_pre_ln_block(block_fn) -> Feedback:
    """`block_fn(x, block, mask)` should compute what `block(x, mask)` computes for a Block built with
    norm_first=True: x + SelfAttention(LayerNorm(x)), then x + FFN(LayerNorm(x)), from the block's modules."""
    from ..block import Block
    from ..masks import causal_mask

    with torch.random.fork_rng():
        torch.manual_seed(17)
        block = Block(16, 2, 32, causal=True, norm_first=True, dropout=0.0).double().eval()
        with torch.no_grad():
            for norm in (block.self_attn_norm, block.ff_norm):  # gains and shifts far from 1 and 0
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_()
    x = 2 * torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(17), dtype=torch.float64) + 1
    mask = causal_mask(5)
    with torch.no_grad():
        expected = block(x, mask)  # (B, L, D)
        got, error = call_learner(block_fn, x.clone(), block, mask)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the block's output, (B, L, D)")
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not torch.allclose(got, expected):
            for wrong, hint in [
                (buggy_pre_ln_block, "still the bug of buggy_pre_ln_block: the normalized vector replaces x on the "
                                     "residual path. Which vector should each sub-layer's output be added to?"),
                (_post_ln_block, "that is the paper's post-LN order, LayerNorm(x + Sublayer(x)); pre-LN normalizes "
                                 "the input of each sub-layer instead"),
                (_pre_ln_block_without_mask, "the order is right, but the mask is not passed to the attention: "
                                             "every position sees the future"),
            ]:
                if torch.allclose(got, wrong(x, block, mask), atol=1e-10):
                    return not_yet(hint)
        problem = compare_tensors("your block's output", got, expected, atol=1e-10)
    if problem is not None:
        return not_yet(problem.message + " Each sub-layer reads LayerNorm(x) and its output is added to x itself.")
    return correct("x + Sublayer(LayerNorm(x)) for each sub-layer: the residual path carries x un-normalized from "
                   "the first block to the last, where the final norm (final_norm=True) normalizes it once. With "
                   "that identity path, as Xiong et al. (2020) showed, the gradients are well behaved at "
                   "initialization, and training needs no warm-up.")
