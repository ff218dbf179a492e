import pytest
import torch

from transformer_edu import causal_mask
from transformer_edu.exercises import ch12


def good_step(model, src_ids, prefix):
    logits = model(src_ids, prefix, tgt_mask=causal_mask(prefix.shape[1]))  # (B, t, V)
    return torch.cat([prefix, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)


def test_greedy_step_checker():
    assert ch12.check_greedy_step(good_step)
    first = ch12.check_greedy_step(
        lambda m, s, p: torch.cat([p, m(s, p)[:, 0].argmax(-1, keepdim=True)], dim=1))
    assert not first and "FIRST position" in first.message
    only_token = ch12.check_greedy_step(lambda m, s, p: m(s, p)[:, -1].argmax(-1))
    assert "only the new tokens" in only_token.message
    worst = ch12.check_greedy_step(lambda m, s, p: torch.cat([p, m(s, p)[:, -1].argmin(-1, keepdim=True)], dim=1))
    assert "LEAST probable" in worst.message
    assert "torch.Tensor" in ch12.check_greedy_step(lambda m, s, p: None).message
    assert "raised" in ch12.check_greedy_step(lambda m, s, p: m.decode(p)).message


def good_score(log_prob, length, alpha):
    return log_prob / ((5 + length) / 6) ** alpha


@pytest.mark.parametrize("wrong, words", [
    (lambda lp, n, a: lp * ((5 + n) / 6) ** a, "do not multiply"),
    (lambda lp, n, a: lp / ((5 + n) / 6), "exponent alpha is missing"),
    (lambda lp, n, a: lp / ((6 + n) / 6) ** a, "length + 1"),
    (lambda lp, n, a: lp / n ** a, "plain length normalization"),
    (lambda lp, n, a: None, "returned None"),
    (lambda lp, n, a: lp, "should be"),
])
def test_normalized_score_checker(wrong, words):
    assert ch12.check_normalized_score(good_score)
    feedback = ch12.check_normalized_score(wrong)
    assert not feedback and words in feedback.message


def good_filter(logits, k):
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@pytest.mark.parametrize("wrong, words", [
    (lambda z, k: z.masked_fill(z < z.topk(k, dim=-1).values[..., -1:], 0.0), "not 0"),
    (lambda z, k: z.masked_fill(z > z.topk(k, dim=-1, largest=False).values[..., -1:], float("-inf")), "SMALLEST"),
    (lambda z, k: torch.softmax(good_filter(z, k), dim=-1), "not probabilities"),
    (lambda z, k: z.masked_fill(z <= z.topk(k, dim=-1).values[..., -1:], float("-inf")), "exactly k"),
    (lambda z, k: good_filter(z, k) / 2, "logits changed"),
    (lambda z, k: z.topk(k, dim=-1).values, "keep the shape"),
    (lambda z, k: None, "torch.Tensor"),
])
def test_top_k_checker(wrong, words):
    assert ch12.check_top_k_filter(good_filter)
    feedback = ch12.check_top_k_filter(wrong)
    assert not feedback and words in feedback.message
