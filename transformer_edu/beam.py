"""Beam search with the GNMT length penalty (paper section 6.1): beam size 4, alpha = 0.6, maximum output
length = input length + 50 (here at most config.max_len), "terminate early when possible".

Greedy decoding and sampling, and the helpers shared with them, are in decoding.py; its docstring explains
the three methods side by side.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from .checks import check_int, check_number
from .decoding import check_decoding, decoder_src_mask, inference, never_generated, next_logits
from .devices import model_device
from .masks import padding_mask


def lp(length: int, alpha: float) -> float:
    """The length penalty lp(Y) = ((5 + |Y|) / 6) ** alpha (Wu et al., 2016); 1 for |Y| = 1 or alpha = 0."""
    return ((5 + length) / 6) ** alpha


def beam_search(model: nn.Module, src_ids: Tensor, max_len: int | None = None, beam_size: int = 4,
                length_penalty: float = 0.6, bos_id: int | None = None, eos_id: int | None = None,
                pad_id: int | None = None, use_cache: bool = True, return_scores: bool = False):
    """The best hypothesis per sentence under log P(Y | x) / lp(Y). Shapes: src_ids (B, S) -> ids (B, 1 + n)
    [, scores (B,) the normalized log-probabilities]. All B x beam_size hypotheses run as one batch.
    max_len None = input length S + 50, at most config.max_len, and ids None = the model's config, as for
    greedy_decode.

    At each step every live hypothesis is extended by every token except PAD and BOS, and the beam_size
    best extensions (by log P) are kept: those ending in EOS are finished (ranked with the length penalty
    and set aside), the others are the new live hypotheses. With beam_size=1 this is greedy decoding.
    (fairseq and Hugging Face also keep the next-best extensions that do not end in EOS, so beam_size
    hypotheses always stay live; here a finished hypothesis leaves its slot empty for one step, which is
    what makes beam_size=1 exactly greedy.)

    When to stop is not spelled out in the paper ("terminate early when possible"). A sentence is done
    when no live hypothesis can still beat its best finished one (the bound in step 3), or at max_len,
    where the live hypotheses compete as they are. So stopping early never changes the result: it is the
    hypothesis the same search run to max_len would return. The rule of fairseq and of Hugging Face's
    early_stopping=True, "done once beam_size hypotheses have finished", is not used: it can return a
    short, worse hypothesis while a better one is still live (chapter 12 measures it on the dates model).
    """
    max_len, bos_id, eos_id, pad_id = check_decoding(model, src_ids, max_len, bos_id, eos_id, pad_id)
    src_ids = src_ids.to(model_device(model))  # ids from a tokenizer are on the CPU
    check_int("beam_size", beam_size, 1, model.config.tgt_vocab_size, " (at most the vocabulary size)")
    alpha = length_penalty  # GNMT's alpha
    check_number("length_penalty (alpha; the paper uses 0.6)", alpha, 0)
    (B, _), K, device = src_ids.shape, beam_size, src_ids.device
    never = never_generated(bos_id, eos_id, pad_id, device)
    with inference(model):
        src_mask = padding_mask(src_ids, model.config.pad_id)  # (B, 1, 1, S)
        memory = model.encode(src_ids, src_mask).repeat_interleave(K, dim=0)  # (B*K, S, D): a copy per beam
        src_mask = decoder_src_mask(src_mask.repeat_interleave(K, dim=0))  # (B*K, 1, 1, S) or None
        ys = torch.full((B * K, 1), bos_id, dtype=torch.long, device=device)  # (B*K, 1)
        scores = torch.full((B, K), float("-inf"), dtype=memory.dtype, device=device)  # log P of each live prefix
        scores[:, 0] = 0.0  # the K beams start identical, so only the first is extended at step 1
        first_row = torch.arange(B, device=device)[:, None] * K  # (B, 1) where each sentence's beams start
        best: list[Tensor | None] = [None] * B
        best_score = torch.full((B,), float("-inf"), dtype=memory.dtype, device=device)  # (B,)
        done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
        cache = model.new_cache() if use_cache else None
        for step in range(1, max_len + 1):  # step = |Y| of the extensions made now
            log_probs = torch.log_softmax(next_logits(model, ys, memory, src_mask, cache), dim=-1)  # (B*K, V)
            log_probs = log_probs.index_fill(-1, never, float("-inf"))  # after the softmax: scores stay log P
            vocab = log_probs.shape[-1]
            extended = (scores[:, :, None] + log_probs.view(B, K, vocab)).view(B, K * vocab)  # (B, K*V)
            top_scores, top_index = extended.topk(K, dim=1)  # (B, K) the K best extensions
            beam, token = top_index // vocab, top_index % vocab  # (B, K) each
            # 1. Those ending in EOS are finished hypotheses, ranked with the length penalty.
            ends = (token == eos_id) & top_scores.isfinite() & ~done[:, None]  # (B, K)
            normalized = top_scores / lp(step, alpha)  # (B, K)
            for b, j in ends.nonzero().tolist():
                if normalized[b, j] > best_score[b]:
                    best_score[b] = normalized[b, j]
                    best[b] = torch.cat([ys[b * K + int(beam[b, j])], token[b, j:j + 1]])
            # 2. The others are the live hypotheses; a finished one leaves its row empty (-inf) for a step.
            scores = top_scores.masked_fill(token == eos_id, float("-inf"))  # (B, K)
            origin = (first_row + beam).view(-1)  # (B*K,) the row each one extends
            ys = torch.cat([ys[origin], token.view(-1, 1)], dim=1)  # (B*K, step + 1)
            if cache is not None:
                cache.select(origin)
            # 3. The bound. A live hypothesis with log P = s after `step` tokens ends at some length L in
            #    [step + 1, max_len] (EOS at L, or cut at max_len) with log P' <= s: each token multiplies P
            #    by at most 1. Its score is log P' / lp(L) <= s / lp(L), as lp(L) > 0. With alpha >= 0,
            #    lp(L) >= 1 grows with L, and s <= 0, so a larger L divides s by a larger number, which
            #    brings it closer to 0: s / lp(L) is largest at L = max_len. (Were s > 0, it would be
            #    largest at L = step + 1; log P <= 0 rules that out.) So no live hypothesis can end above
            #    max(s) / lp(max_len). With no live hypothesis left (all -inf) the bound is -inf: done too.
            bound = scores.max(dim=1).values / lp(max_len, alpha)  # (B,)
            done |= best_score >= bound
            if bool(done.all()):
                break
        for b in range(B):  # a sentence still searching at max_len: its live hypotheses compete too
            if not done[b] or best[b] is None:
                j = int(scores[b].argmax())
                if best[b] is None or scores[b, j] / lp(max_len, alpha) > best_score[b]:
                    best_score[b] = scores[b, j] / lp(max_len, alpha)
                    best[b] = ys[b * K + j]
    ids = pad_sequence(best, batch_first=True, padding_value=pad_id)  # (B, 1 + n)
    return (ids, best_score.clone()) if return_scores else ids
