import pytest
import torch

from transformer_edu.exercises import ch14

GOOD_MAP = {
    "attention.self.query": "self_attn.w_q",
    "attention.self.key": "self_attn.w_k",
    "attention.self.value": "self_attn.w_v",
    "attention.output.dense": "self_attn.w_o",
    "attention.output.LayerNorm": "self_attn_norm",
    "intermediate.dense": "feed_forward.w_1",
    "output.dense": "feed_forward.w_2",
    "output.LayerNorm": "ff_norm",
}


def test_name_map_checker_accepts_the_right_map():
    assert ch14.check_name_map(dict(GOOD_MAP))


@pytest.mark.parametrize("changes, words", [
    ({"output.LayerNorm": "self_attn_norm", "attention.output.LayerNorm": "ff_norm"},
     "LayerNorms are swapped"),
    ({"intermediate.dense": "feed_forward.w_2", "output.dense": "feed_forward.w_1"}, "feed-forward layers are swapped"),
    ({"attention.output.dense": "feed_forward.w_2"}, "W^O"),
    ({"attention.self.query": "self_attn.query"}, "not a module of our EncoderLayer"),
    ({"attention.self.query": "self_attn.w_k"}, "should map to 'self_attn.w_q'"),
])
def test_name_map_checker_names_the_mistake(changes, words):
    feedback = ch14.check_name_map({**GOOD_MAP, **changes})
    assert not feedback and words in feedback.message


def test_name_map_checker_on_incomplete_or_wrong_type():
    partial = dict(GOOD_MAP)
    del partial["output.dense"]
    assert "have no entry" in ch14.check_name_map(partial).message
    assert "should be a dict" in ch14.check_name_map(None).message
    assert "not one of BertLayer" in ch14.check_name_map({**GOOD_MAP, "pooler.dense": "w_o"}).message


def good_head_dim(hidden_size, num_heads):
    if hidden_size % num_heads:
        raise ValueError(f"{num_heads} heads cannot split {hidden_size} dimensions")
    return hidden_size // num_heads


def test_head_dim_checker():
    assert ch14.check_head_dim(good_head_dim)
    assert "float" in ch14.check_head_dim(lambda d, h: d / h).message
    assert "SPLIT" in ch14.check_head_dim(lambda d, h: d * h).message
    assert "raise ValueError" in ch14.check_head_dim(lambda d, h: d // h).message
    assert "returned None" in ch14.check_head_dim(lambda d, h: None).message
    def asserts(d, h):
        assert d % h == 0
        return d // h

    assert "raise ValueError instead" in ch14.check_head_dim(asserts).message


def good_previous_token(weights):
    return torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1).mean(dim=-1)


def test_previous_token_checker():
    assert ch14.check_previous_token_score(good_previous_token)
    nxt = ch14.check_previous_token_score(lambda w: torch.diagonal(w, offset=1, dim1=-2, dim2=-1).mean(-1))
    assert not nxt and "NEXT" in nxt.message
    assert "itself" in ch14.check_previous_token_score(lambda w: torch.diagonal(w, dim1=-2, dim2=-1).mean(-1)).message
    by_s = ch14.check_previous_token_score(
        lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).sum(-1) / w.shape[-1])
    assert "S - 1" in by_s.message
    assert "shape" in ch14.check_previous_token_score(lambda w: w.mean()).message
    assert "torch.Tensor" in ch14.check_previous_token_score(lambda w: None).message
