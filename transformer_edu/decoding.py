"""From next-token probabilities to an output sentence: greedy decoding, sampling, beam search (paper section 6.1).

Given the source x and a target prefix y_1 .. y_{t-1}, the decoder gives P(y_t | y_<t, x). Decoding builds
the output one token at a time from these distributions:

- greedy: take the most probable token at every step. Fast, but myopic: a likely first word can lead to an
  unlikely sentence.
- sampling: draw each token from softmax(logits / temperature), optionally only among the top_k most
  probable (Fan et al. 2018) or the top_p nucleus (Holtzman et al. 2020). Not used in the paper (it
  translates); later practice for open-ended generation.
- beam search: keep the `beam_size` most probable prefixes at every step. Section 6.1 of the paper uses beam
  size 4 and length penalty alpha = 0.6, sets the maximum output length to input length + 50 and
  terminates early when possible. The length penalty is Wu et al. (2016, GNMT): a finished hypothesis Y is
  ranked by log P(Y | x) / lp(Y), with lp(Y) = ((5 + |Y|) / 6) ** alpha; alpha = 0 ranks by probability
  alone, which favours short outputs. |Y| counts the generated tokens, EOS included, BOS not.

No method generates PAD or BOS: PAD only fills a row after its EOS and BOS only starts it, so their
probabilities are set to 0 at every step (greedy and sampling choose among the other tokens; beam search
masks them after the log-softmax, so its scores stay the model's own log P).

Every function encodes the source once. With use_cache=True each step feeds the decoder only the newest
token and reuses the keys and values of earlier positions (KVCache); use_cache=False re-runs the decoder
over the whole prefix: the same tokens, more time (benchmarks/kv_cache.py). Outputs are (B, L) ids that
start with BOS; after its EOS a sequence is filled with PAD. The model is in eval mode while decoding.

max_len, the most tokens generated after BOS, defaults for every function here (and for evaluation.predict)
to the input length S (the width of src_ids) + 50, as in section 6.1, at most config.max_len: the model has
positions for config.max_len target tokens only. A max_len given explicitly above config.max_len is an
error, not silently lowered. A source row made only of padding is a ValueError, as in Transformer.encode.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_int, check_model, check_number, check_token_ids, trusted
from .devices import model_device
from .kv_cache import KVCache
from .masks import causal_mask, padding_mask

EXTRA_LENGTH = 50  # section 6.1: maximum output length = input length + 50 (capped at config.max_len)


@contextmanager
def inference(model: nn.Module):
    """No dropout and no autograd while decoding; the model's train/eval mode is restored afterwards.
    inference_mode skips more bookkeeping than no_grad (about 10% faster per step on the small preset);
    tensors made inside it are cloned before they are returned, so callers get ordinary tensors."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def default_max_len(src_length: int, config_max_len: int) -> int:
    """The max_len every decoding function uses when given None: input length + 50, at most config.max_len."""
    return min(src_length + EXTRA_LENGTH, config_max_len)


def check_decoding(model, src_ids, max_len, bos_id=None, eos_id=None, pad_id=None) -> tuple[int, int, int, int]:
    """Validate what every decoding function takes; return max_len (default_max_len when None) and the
    bos, eos and pad ids (the model's config.bos_id, eos_id, pad_id when None). The ids' values are checked
    by model.encode, which every decoding function calls once, first."""
    check_model(model)
    check_token_ids(src_ids, name="src_ids")
    config = model.config
    if max_len is None:
        max_len = default_max_len(src_ids.shape[1], config.max_len)
    check_int("max_len", max_len, 1, config.max_len,
              f" (the model's config.max_len is {config.max_len}; None means input length + {EXTRA_LENGTH}, "
              f"at most that)")
    ids = {"bos_id": config.bos_id if bos_id is None else bos_id, "eos_id": config.eos_id if eos_id is None else eos_id,
           "pad_id": config.pad_id if pad_id is None else pad_id}
    for name, value in ids.items():
        check_int(name, value, 0, config.tgt_vocab_size - 1, " (a target vocabulary id)")
    return max_len, ids["bos_id"], ids["eos_id"], ids["pad_id"]


def decoder_src_mask(src_mask: Tensor) -> Tensor | None:
    """None when the source has no padding: attending to every memory position needs no masking work."""
    return None if bool(src_mask.all()) else src_mask


def never_generated(bos_id: int, eos_id: int, pad_id: int, device) -> Tensor:
    """The ids no decoding method may choose: PAD (it only fills the row after EOS) and BOS (it only starts
    the row). An id equal to eos_id stays allowed, since a sequence must be able to end."""
    return torch.tensor(sorted({pad_id, bos_id} - {eos_id}), dtype=torch.long, device=device)


def next_logits(model: nn.Module, prefix: Tensor, memory: Tensor, src_mask: Tensor | None,
                cache: KVCache | None) -> Tensor:
    """Logits for the token after each prefix. Shapes: prefix (N, t) -> (N, V).

    Only the causal mask is used: a prefix holds PAD only after its EOS, where the outputs are ignored,
    and the cached path never masks earlier positions either, so both paths compute the same numbers.
    It runs the model trusted (checks.py): the decoding loops that call it make these inputs themselves, from
    a source that model.encode has checked once, so decode's checks would only repeat at every step.
    """
    with trusted():
        if cache is None:  # the naive way: the whole prefix again
            return model.decode(prefix, memory, src_mask, causal_mask(prefix.shape[1], prefix.device))[:, -1]
        return model.decode(prefix[:, -1:], memory, src_mask, cache=cache)[:, -1]  # (N, 1, V) -> (N, V)


def _generate(model, src_ids, max_len, choose, bos_id, eos_id, pad_id, use_cache, stop_at_eos) -> Tensor:
    """The loop greedy decoding and sampling share; `choose` maps logits (B, V) to next ids (B,)."""
    b, device = src_ids.shape[0], src_ids.device
    with inference(model):
        src_mask = padding_mask(src_ids, model.config.pad_id)  # (B, 1, 1, S)
        memory = model.encode(src_ids, src_mask)  # (B, S, D), once (it checks src_ids)
        src_mask = decoder_src_mask(src_mask)
        ys = torch.full((b, 1), bos_id, dtype=torch.long, device=device)  # (B, 1)
        finished = torch.zeros(b, dtype=torch.bool, device=device)  # (B,)
        cache = model.new_cache() if use_cache else None
        never = never_generated(bos_id, eos_id, pad_id, device)
        for _ in range(max_len):
            logits = next_logits(model, ys, memory, src_mask, cache)  # (B, V)
            token = choose(logits.index_fill(-1, never, float("-inf")))  # (B,)
            if stop_at_eos:
                token = token.masked_fill(finished, pad_id)  # a finished sequence only pads
                finished = finished | (token == eos_id)
            ys = torch.cat([ys, token[:, None]], dim=1)  # (B, t + 1)
            if stop_at_eos and bool(finished.all()):
                break
    return ys.clone()


def tempered_probabilities(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / temperature) over the last axis, for every finite temperature > 0. Shapes: (..., V).

    Dividing first can overflow: in float32, logits / 1e-40 is inf, and softmax then computes inf - inf =
    NaN. Here each row's largest logit is subtracted first, so every value is <= 0, and exactly 0 at the
    largest; divided by a tiny temperature, the others become huge negative numbers or -inf, whose exp is 0.
    So the limit is exact: as temperature -> 0 all the probability goes to the largest logit, the token
    greedy decoding takes (shared equally if several tie exactly: greedy takes the lowest id of those).
    The division runs in float64, which holds every positive Python float (float32 turns 1e-46 into 0); the
    rest in the logits' dtype, or float32 for float16 and bfloat16 (as softmax computes them). softmax
    subtracts the maximum itself too, so at temperature 1 this is softmax(logits) bit for bit.
    """
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    shifted = logits - logits.amax(dim=-1, keepdim=True)  # (..., V): <= 0, and 0 at the largest logit
    return torch.softmax((shifted.double() / temperature).to(logits.dtype), dim=-1)  # -inf stays -inf: p = 0


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """-inf for every logit below the k-th largest (ties with it kept). Shapes: (..., V) -> (..., V)."""
    kth_best = logits.topk(k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(probs: Tensor, p: float) -> Tensor:
    """Nucleus (Holtzman et al. 2020): keep the smallest set of most probable tokens whose probability reaches
    p, and every token tied with the least probable of them; 0 elsewhere (not renormalised). Shapes: (..., V)."""
    ranked = probs.sort(dim=-1, descending=True).values  # (..., V)
    before = F.pad(ranked.cumsum(dim=-1)[..., :-1], (1, 0))  # (..., V): mass of the more probable tokens
    n_kept = (before < p).sum(dim=-1, keepdim=True)  # (..., 1), at least 1
    return probs.masked_fill(probs < ranked.gather(-1, n_kept - 1), 0.0)


def next_token_probabilities(logits: Tensor, temperature: float, top_k: int | None = None,
                             top_p: float | None = None) -> Tensor:
    """The distribution sample() and gpt.generate() draw from: top_k on the logits, softmax(logits /
    temperature), then top_p on that (Hugging Face's order), renormalised. Shapes: (..., V) -> (..., V)."""
    if top_k is not None:
        logits = top_k_filter(logits, top_k)  # dividing by a temperature keeps the order
    probs = tempered_probabilities(logits, temperature)  # (..., V)
    if top_p is not None:
        probs = top_p_filter(probs, top_p)
        probs = probs / probs.sum(dim=-1, keepdim=True)  # (..., V): the kept tokens' share, renormalised
    return probs


def greedy_decode(model: nn.Module, src_ids: Tensor, max_len: int | None = None, bos_id: int | None = None,
                  eos_id: int | None = None, pad_id: int | None = None, use_cache: bool = True,
                  stop_at_eos: bool = True) -> Tensor:
    """Most probable token (never PAD or BOS) at each step. Shapes: src_ids (B, S) -> ids (B, 1 + n),
    n <= max_len tokens after BOS. Stops once every sequence has produced EOS; stop_at_eos=False treats EOS
    as any other token and always generates max_len tokens (for timing). max_len None = input length S + 50,
    at most config.max_len; bos_id, eos_id, pad_id None = the model's config.bos_id, eos_id, pad_id. For the
    attention behind each choice, run model(src_ids, ids, tgt_mask=causal_mask(L), return_attention=True) on
    the result: by causality, position t recomputes step t exactly."""
    max_len, bos_id, eos_id, pad_id = check_decoding(model, src_ids, max_len, bos_id, eos_id, pad_id)
    src_ids = src_ids.to(model_device(model))  # ids from a tokenizer are on the CPU
    return _generate(model, src_ids, max_len, lambda logits: logits.argmax(dim=-1),
                     bos_id, eos_id, pad_id, use_cache, stop_at_eos)


def sample(model: nn.Module, src_ids: Tensor, max_len: int | None = None, temperature: float = 1.0,
           top_k: int | None = None, generator: torch.Generator | None = None, bos_id: int | None = None,
           eos_id: int | None = None, pad_id: int | None = None, use_cache: bool = True,
           stop_at_eos: bool = True, top_p: float | None = None) -> Tensor:
    """Draw each token from softmax(logits / temperature), keeping only the top_k most probable (ties at the
    k-th value are kept) and then the top_p nucleus (see next_token_probabilities); PAD and BOS get
    probability 0 first, so top_k counts the other tokens.
    Temperature < 1 sharpens, > 1 flattens. Every finite temperature > 0 works, down to the smallest float
    (5e-324): as it goes to 0 sampling becomes greedy decoding (see tempered_probabilities), and a huge one
    (1e300) draws uniformly among the tokens allowed. Pass a torch.Generator to make the draws reproducible.
    max_len as in greedy_decode; shapes too."""
    max_len, bos_id, eos_id, pad_id = check_decoding(model, src_ids, max_len, bos_id, eos_id, pad_id)
    src_ids = src_ids.to(model_device(model))  # ids from a tokenizer are on the CPU
    check_number("temperature (1e300 already draws uniformly among the allowed tokens, 1e-300 already decodes "
                 "greedily)", temperature, 0, low_open=True)
    if top_k is not None:
        check_int("top_k", top_k, 1, model.config.tgt_vocab_size, " (None keeps the whole vocabulary)")
    if top_p is not None:
        check_number("top_p (None keeps the whole vocabulary)", top_p, 0, 1, low_open=True)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")

    def choose(logits: Tensor) -> Tensor:
        probs = next_token_probabilities(logits, temperature, top_k, top_p)  # (B, V)
        return draw(probs, generator)  # (B,)

    return _generate(model, src_ids, max_len, choose, bos_id, eos_id, pad_id, use_cache, stop_at_eos)


def draw(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One token per row of probs (B, V), drawn with `generator`: (B,) ids on probs' device. A generator
    made with torch.Generator() lives on the CPU, and torch.multinomial refuses a generator on another
    device than its input, so the draw then happens on the generator's device and the ids move back:
    the same seed gives the same tokens on a CPU and on a GPU (given the same probabilities)."""
    if generator is None or generator.device == probs.device:
        return torch.multinomial(probs, 1, generator=generator)[:, 0]  # (B,)
    return torch.multinomial(probs.to(generator.device), 1, generator=generator)[:, 0].to(probs.device)


@dataclass
class DecodingStep:
    """One step of greedy decoding, for display: what the decoder saw and what it proposed."""
    prefix: list[int]  # the target ids fed so far, starting with BOS
    top_ids: list[int]  # the most probable next tokens, best first (PAD and BOS are never proposed)
    top_probs: list[float]  # their probabilities under the model (not renormalized after leaving out PAD, BOS)
    chosen: int  # the token appended (top_ids[0])


def decode_step_by_step(model: nn.Module, src_ids: Tensor, max_len: int | None = None, top: int = 3,
                        bos_id: int | None = None, eos_id: int | None = None) -> list[DecodingStep]:
    """Greedy decoding of one sentence (src_ids (1, S)), returning every step; the last prefix plus its
    chosen token is greedy_decode's output (max_len as there)."""
    max_len, bos_id, eos_id, pad_id = check_decoding(model, src_ids, max_len, bos_id, eos_id)
    if src_ids.shape[0] != 1:
        raise ValueError(f"decode_step_by_step takes one sentence, src_ids of shape (1, S), got {tuple(src_ids.shape)}")
    check_int("top", top, 1, model.config.tgt_vocab_size, " (at most the vocabulary size)")
    steps, ys = [], [bos_id]
    with inference(model):
        src_mask = padding_mask(src_ids, model.config.pad_id)  # (1, 1, 1, S)
        memory = model.encode(src_ids, src_mask)  # (1, S, D)
        src_mask = decoder_src_mask(src_mask)
        cache = model.new_cache()
        never = never_generated(bos_id, eos_id, pad_id, src_ids.device)
        for _ in range(max_len):
            prefix = torch.tensor([ys], device=src_ids.device)  # (1, t)
            probs = torch.softmax(next_logits(model, prefix, memory, src_mask, cache)[0], dim=-1)  # (V,)
            probs = probs.index_fill(0, never, 0.0)  # as greedy_decode: PAD and BOS are never chosen
            top_probs, top_ids = probs.topk(top)  # (top,) each
            steps.append(DecodingStep(list(ys), top_ids.tolist(), top_probs.tolist(), int(probs.argmax())))
            ys.append(steps[-1].chosen)
            if ys[-1] == eos_id:
                break
    return steps
