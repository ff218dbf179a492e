"""Checkers for chapter 10, the full Transformer (paper sections 3.4 and 3 as a whole)."""
from __future__ import annotations

import torch

from ..config import TransformerConfig
from ..masks import padding_mask
from ..model import Transformer, count_parameters
from ._check import Feedback, call_learner, checker, compare_tensors, correct, not_yet


# --- Exercise 1: the parameter count of the whole model -------------------------------------------------------

def _reference_count(config: TransformerConfig) -> int:
    with torch.device("meta"):  # sizes only, no memory
        return count_parameters(Transformer(config))


@checker
def check_parameter_formula(count_fn) -> Feedback:
    """`count_fn(vocab_size, d_model, d_ff, n_layers)` should count a Transformer with shared embeddings
    (one matrix for both embeddings and the output layer), n_layers encoder and n_layers decoder layers."""
    cases = [(37000, 512, 2048, 6), (100, 16, 64, 2), (37000, 1024, 4096, 6)]
    for vocab, d_model, d_ff, n in cases:
        config = TransformerConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, d_model=d_model, n_heads=8,
                                   d_ff=d_ff, n_encoder_layers=n, n_decoder_layers=n)
        expected = _reference_count(config)
        got, error = call_learner(count_fn, vocab, d_model, d_ff, n)
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the count as an int")
        if got == expected:
            continue
        where = f"for V={vocab}, d_model={d_model}, d_ff={d_ff}, N={n}"
        embedding = vocab * d_model
        if got == expected + embedding:
            return not_yet(f"{where}: you counted the vocabulary matrix twice; the output layer shares it with "
                           f"the embeddings")
        if got == expected + 2 * embedding:
            return not_yet(f"{where}: you counted three vocabulary matrices; source, target and output share one")
        if got == expected - n * (4 * d_model * d_model + 4 * d_model + 2 * d_model):
            return not_yet(f"{where}: the decoder layers have a second attention (encoder-decoder) and a third "
                           f"LayerNorm")
        if got == expected - embedding:
            return not_yet(f"{where}: the shared V x D matrix is missing")
        return not_yet(f"{where} your count is {got - expected:+,} off. Count one shared V x D matrix, N encoder "
                       f"layers (attention, FFN, 2 LayerNorms) and N decoder layers (2 attentions, FFN, "
                       f"3 LayerNorms)", answer=f"Expected {expected:,}.")
    return correct(f"the base model has {_reference_count(TransformerConfig.base()):,} parameters with "
                   f"V = 37,000: V D + N (12 D^2 + 4 D F + 2 F + 24 D).")


# --- Exercise 2: predict, then check: what an untrained tied model predicts --------------------------------

TIED_CHOICES = {
    "a": "about 1 time in V, like any other token",
    "b": "much more often than 1 time in V",
    "c": "never",
}


def _copy_rates(vocab_size: int = 100) -> tuple[float, float]:
    """Fraction of positions whose top logit is the token just read, for untrained tied and untied models."""
    rates = []
    for share in (True, False):
        torch.manual_seed(0)
        model = Transformer(TransformerConfig.small(vocab_size=vocab_size, share_embeddings=share)).eval()
        g = torch.Generator().manual_seed(0)
        src = torch.randint(4, vocab_size, (32, 10), generator=g)
        tgt = torch.randint(4, vocab_size, (32, 9), generator=g)
        with torch.no_grad():
            top = model(src, tgt).argmax(dim=-1)  # (B, T)
        rates.append((top == tgt).float().mean().item())
    return rates[0], rates[1]


@checker
def check_tied_prediction(prediction) -> Feedback:
    """`prediction`: "a", "b" or "c" (TIED_CHOICES): how often an untrained tied model ranks first the token it
    has just read."""
    if not isinstance(prediction, str) or prediction.strip().lower() not in TIED_CHOICES:
        return not_yet(f"write your prediction as one of the letters {sorted(TIED_CHOICES)}, then run the cell")
    tied, untied = _copy_rates()
    result = (f"The experiment (V = 100, so 1 in V is 1%): the tied model's top token was the token just read at "
              f"{tied:.0%} of the positions, an untied model's at {untied:.0%}.")
    if prediction.strip().lower() == "b":
        return correct(f"{result} The residual connections carry the input's embedding (times sqrt(d_model)) up "
                       f"to the decoder's output, and the tied output layer scores each token by the dot product "
                       f"of that output with the token's own embedding row, so the token just read tends to score "
                       f"high before any training. Training has to unlearn this copying; an untied output layer "
                       f"has no such link.")
    return not_yet("think about the path from the decoder's input to its output: what do the residual connections "
                   "pass up, and with which vectors does a tied output layer compare the result?",
                   answer=f"Answer b. {result}")


# --- Exercise 3: find the bug in a forward pass ----------------------------------------------------------------

def buggy_transformer_forward(model, src, tgt):
    """model(src, tgt) from the model's parts (dropout off). One bug."""
    src_mask = padding_mask(src, model.config.pad_id)  # (B, 1, 1, S)
    tgt_mask = padding_mask(tgt, model.config.pad_id)  # (B, 1, 1, T)
    memory = model.encoder(model.src_position(model.src_embed(src)), src_mask)
    y = model.tgt_position(model.tgt_embed(tgt))  # (B, T, D)
    h = model.decoder(y, memory, src_mask, tgt_mask)  # (B, T, D)
    return h @ model.output.weight.T  # (B, T, V): logits


def _forward_case():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.small(vocab_size=20)).eval()
    src = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 11, 2, 0]])  # (B, S), the second padded
    tgt = torch.tensor([[1, 12, 13, 14], [1, 15, 16, 0]])  # (B, T), the second padded
    return model, src, tgt


@checker
def check_forward_fix(forward_fn) -> Feedback:
    """`forward_fn(model, src, tgt)` should give model(src, tgt)'s logits at every real (not PAD) target
    position."""
    model, src, tgt = _forward_case()
    real = tgt != model.config.pad_id  # (B, T)
    with torch.no_grad():
        expected = model(src, tgt)
        got, error = call_learner(forward_fn, model, src.clone(), tgt.clone())
        if error is not None:
            return error
        if got is None:
            return not_yet("your function returned None: return the logits, shape (B, T, V)")
        same_bug = buggy_transformer_forward(model, src, tgt)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if torch.allclose(got[real], same_bug[real], atol=1e-6):
            return not_yet("this still has the bug: the logits agree with model(src, tgt) only at the last real "
                           "position of each target. What can the other positions see that they should not? Compare the two masks "
                           "with what chapter 9 says each attention must hide",
                           answer="The target mask must be causal as well as hide padding: "
                                  "tgt_mask = target_mask(tgt, model.config.pad_id), shape (B, 1, T, T).")
        if torch.allclose(got[real], expected[real] * model.config.d_model ** 0.5, atol=1e-4):
            return not_yet("the logits are multiplied by sqrt(d_model): that factor belongs to the embedding "
                           "lookup only, not to the output layer")
        problem = compare_tensors("the logits at real target positions", got[real], expected[real], atol=1e-5)
    else:
        problem = compare_tensors("the logits", got, expected, atol=1e-5)
    if problem is not None:
        return problem
    return correct("the decoder's self-attention needs the causal mask combined with target padding "
                   "(target_mask); a padding mask alone lets every position read the tokens after it, as the "
                   "encoder may but the decoder must not.")
