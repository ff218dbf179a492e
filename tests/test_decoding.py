import itertools
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

import transformer_edu
from transformer_edu import Transformer, TransformerConfig, causal_mask
from transformer_edu.checkpoint import load_checkpoint
from transformer_edu.checks import NonFiniteError
from transformer_edu.data import build_tokenizers, make_dataset
from transformer_edu.beam import beam_search, lp
from transformer_edu.decoding import decode_step_by_step, greedy_decode, sample, tempered_probabilities
from transformer_edu.evaluation import predict

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4
V = 12
SHIPPED = Path(transformer_edu.__file__).parent / "checkpoints" / "dates.pt"


def random_model(seed: int, **changes) -> Transformer:
    """An untrained small model in float64 (so cached and uncached logits agree to ~1e-15). An untied output
    layer gives more varied outputs than the tied one, which tends to repeat its input token."""
    torch.manual_seed(seed)
    config = TransformerConfig.small(vocab_size=V, share_embeddings=False, max_len=64, **changes)
    return Transformer(config).double().eval()


def random_source(seed: int, batch: int = 4, length: int = 6) -> torch.Tensor:
    src = torch.randint(3, V, (batch, length), generator=torch.Generator().manual_seed(seed))
    src[1, length - 2:] = PAD  # one padded sentence in every batch
    return src


def tiny_config(vocab_size: int) -> TransformerConfig:
    return TransformerConfig.small(vocab_size=vocab_size, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1,
                                   n_decoder_layers=1, max_len=64)


class TableTransformer(Transformer):
    """A real Transformer whose decoder runs as usual (so the KV cache grows and is reordered as in real
    decoding), but whose output is replaced by a fixed table: log P(next | position, previous token)."""

    def __init__(self, probs: torch.Tensor):  # probs (positions, V, V); the last row repeats beyond
        super().__init__(tiny_config(probs.shape[-1]))
        self.log_table = probs.log()

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False):
        start = 0 if cache is None else cache.length
        super().decode(tgt_ids, memory, src_mask, tgt_mask, cache=cache)
        positions = torch.arange(start, start + tgt_ids.shape[1]).clamp(max=len(self.log_table) - 1)  # (T,)
        return self.log_table[positions[None, :], tgt_ids]  # (B, T, V)


class CopyOracle(Transformer):
    """A hand-made perfect copier: at target position t it predicts source token t, then EOS where the
    source ends. Its 'memory' is a one-hot spelling of the source (needs d_model >= V)."""

    def encode(self, src_ids, src_mask=None, return_attention=False):
        return F.one_hot(src_ids, self.config.d_model).to(self.output.weight.dtype)  # (B, S, D)

    def decode(self, tgt_ids, memory, src_mask=None, tgt_mask=None, cache=None, return_attention=False):
        start = 0 if cache is None else cache.length
        super().decode(tgt_ids, memory, src_mask, tgt_mask, cache=cache)
        src = F.pad(memory.argmax(-1), (0, start + tgt_ids.shape[1]), value=PAD)  # (B, S + room)
        wanted = src[:, start:start + tgt_ids.shape[1]]  # (B, T): the source token at each position
        wanted = wanted.masked_fill(wanted == PAD, EOS)
        return 5.0 * F.one_hot(wanted, self.config.tgt_vocab_size).to(memory.dtype)  # (B, T, V)


def distribution(vocab: int = 5, **probs: float) -> torch.Tensor:
    """Named token probabilities (A=0.6, ...); the rest of the mass spread evenly over the other tokens."""
    ids = {"PAD": PAD, "BOS": BOS, "EOS": EOS, "A": A, "B": B}
    row = torch.full((vocab,), (1 - sum(probs.values())) / (vocab - len(probs)), dtype=torch.float64)
    for name, p in probs.items():
        row[ids[name]] = p
    return row


def myopic_table() -> torch.Tensor:
    """Greedy takes A (0.6) and then A, EOS: P = 0.6 * 0.5 * 0.97 = 0.291.
    The better sentence starts with the less likely B:   P(B, EOS) = 0.4 * 0.95 = 0.38."""
    table = torch.full((3, 5, 5), 0.2, dtype=torch.float64)  # uniform where the story does not go
    table[0, BOS] = distribution(A=0.6, B=0.396)
    table[1, A] = distribution(A=0.5, B=0.4, EOS=0.098)
    table[1, B] = distribution(EOS=0.95)
    table[2, A] = table[2, B] = distribution(EOS=0.97)
    return table


def normalized_log_prob(model: Transformer, src: torch.Tensor, ids: torch.Tensor, alpha: float) -> float:
    """log P(ids[1:] | src) / lp, read off a full forward pass: the beam search objective."""
    tgt = ids[None, :-1]  # (1, T)
    with torch.no_grad():
            log_probs = torch.log_softmax(model(src, tgt, tgt_mask=causal_mask(tgt.shape[1])), dim=-1)[0]  # (T, V)
    total = log_probs.gather(1, ids[1:, None]).sum()
    return total.item() / lp(len(ids) - 1, alpha)


# --- cached and naive decoding agree -------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("norm_first", [False, True])
def test_greedy_with_and_without_cache_are_identical(seed, norm_first):
    model, src = random_model(seed, norm_first=norm_first, final_norm=norm_first), random_source(seed)
    cached = greedy_decode(model, src, max_len=20, stop_at_eos=False)
    assert cached.shape == (4, 21) and len(cached.unique()) >= 3  # not a degenerate all-one-token output
    assert torch.equal(cached, greedy_decode(model, src, max_len=20, use_cache=False, stop_at_eos=False))
    assert torch.equal(greedy_decode(model, src, max_len=20), greedy_decode(model, src, max_len=20, use_cache=False))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_with_and_without_cache_are_identical(seed, alpha):
    model, src = random_model(seed), random_source(seed)
    ids, scores = beam_search(model, src, max_len=12, beam_size=3, length_penalty=alpha, return_scores=True)
    naive, naive_scores = beam_search(model, src, max_len=12, beam_size=3, length_penalty=alpha,
                                      use_cache=False, return_scores=True)
    assert torch.equal(ids, naive)
    torch.testing.assert_close(scores, naive_scores, atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", [1, 2])
def test_sampling_with_and_without_cache_are_identical(seed):
    model, src = random_model(seed), random_source(seed)
    cached = sample(model, src, max_len=15, generator=torch.Generator().manual_seed(seed))
    naive = sample(model, src, max_len=15, generator=torch.Generator().manual_seed(seed), use_cache=False)
    assert torch.equal(cached, naive)


# --- beam search ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 5])
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_size_one_is_greedy(seed, alpha):
    model, src = random_model(seed), random_source(seed)
    assert torch.equal(beam_search(model, src, max_len=15, beam_size=1, length_penalty=alpha),
                       greedy_decode(model, src, max_len=15))


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_beats_myopic_greedy(alpha):
    model, src = TableTransformer(myopic_table()).double(), torch.tensor([[3, 4, 3]])
    greedy = greedy_decode(model, src, max_len=10)
    best, score = beam_search(model, src, max_len=10, beam_size=2, length_penalty=alpha, return_scores=True)
    assert greedy.tolist() == [[BOS, A, A, EOS]]
    assert best.tolist() == [[BOS, B, EOS]]
    assert math.isclose(float(score[0]), math.log(0.396 * 0.95) / lp(2, alpha), rel_tol=1e-12)
    assert math.isclose(float(score[0]), normalized_log_prob(model, src, best[0], alpha), rel_tol=1e-12)
    assert float(score[0]) > normalized_log_prob(model, src, greedy[0], alpha)
    assert torch.equal(beam_search(model, src, max_len=10, beam_size=1, length_penalty=alpha), greedy)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_beam_search_scores_are_normalized_log_probabilities(seed, alpha):
    model, src = random_model(seed), random_source(seed)
    ids, scores = beam_search(model, src, max_len=8, beam_size=4, length_penalty=alpha, return_scores=True)
    for i, row in enumerate(ids):
        ends = (row == EOS).nonzero()
        row = row[:int(ends[0]) + 1] if len(ends) else row  # drop the padding after EOS
        assert math.isclose(float(scores[i]), normalized_log_prob(model, src[i:i + 1], row, alpha), rel_tol=1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_beam_search_of_a_batch_equals_one_sentence_at_a_time(seed):
    model, src = random_model(seed), random_source(seed)
    batched = beam_search(model, src, max_len=10, beam_size=3)
    for i in range(len(src)):
        alone = beam_search(model, src[i:i + 1, :int((src[i] != PAD).sum())], max_len=10, beam_size=3)[0]
        assert torch.equal(batched[i, :len(alone)], alone)
        assert (batched[i, len(alone):] == PAD).all()


def test_length_penalty_lets_a_longer_hypothesis_win_and_one_beam_stops_at_its_first_eos():
    table = torch.full((2, 5, 5), 0.2, dtype=torch.float64)
    table[0, BOS] = distribution(EOS=0.5, A=0.45)  # [EOS] alone: P = 0.5
    table[1, A] = distribution(EOS=0.99)  # [A, EOS]: P = 0.4455, but twice as long
    model, src = TableTransformer(table).double(), torch.tensor([[3]])
    assert beam_search(model, src, max_len=5, beam_size=2, length_penalty=0.0).tolist() == [[BOS, EOS]]
    # log(0.4455) / lp(2) = -0.594 beats log(0.5) / lp(1) = -0.693 once alpha = 2
    assert beam_search(model, src, max_len=5, beam_size=2, length_penalty=2.0).tolist() == [[BOS, A, EOS]]
    # one beam: done as soon as one hypothesis has finished, as greedy decoding is
    assert beam_search(model, src, max_len=5, beam_size=1, length_penalty=2.0).tolist() == [[BOS, EOS]]


def test_wider_beams_find_the_better_sentence_on_the_table_model():
    model, src = TableTransformer(myopic_table()).double(), torch.tensor([[3]])
    scores = [float(beam_search(model, src, max_len=6, beam_size=k, return_scores=True)[1][0]) for k in (1, 2, 4)]
    assert scores == sorted(scores)


# --- beam search: when to stop, how good the result is ---------------------------------------------------

def reference_beam_search(model: Transformer, src: torch.Tensor, beam_size: int, alpha: float,
                          max_len: int) -> tuple[list[int], float]:
    """The same search, never stopping early: one sentence, plain lists, the whole prefix rerun at every step
    until max_len (or until no hypothesis is live); then the live ones compete as they are."""
    live, finished = [([BOS], 0.0)], []
    for step in range(1, max_len + 1):
        prefixes = torch.tensor([ids for ids, _ in live])  # (n, t)
        with torch.no_grad():
            logits = model(src.expand(len(live), -1), prefixes, tgt_mask=causal_mask(prefixes.shape[1]))[:, -1]
        log_probs = torch.log_softmax(logits, dim=-1)  # (n, V)
        log_probs[:, [PAD, BOS]] = float("-inf")
        totals = torch.tensor([score for _, score in live], dtype=log_probs.dtype)[:, None] + log_probs  # (n, V)
        values, indices = totals.flatten().topk(beam_size)
        parents, live = live, []
        for value, index in zip(values.tolist(), indices.tolist()):
            parent, token = divmod(index, log_probs.shape[1])
            if value == float("-inf"):
                continue
            if token == EOS:
                finished.append((parents[parent][0] + [token], value / lp(step, alpha)))
            else:
                live.append((parents[parent][0] + [token], value))
        if not live:
            break
    finished += [(ids, score / lp(max_len, alpha)) for ids, score in live]  # empty unless max_len was reached
    return max(finished, key=lambda pair: pair[1])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_stopping_early_never_changes_the_result(seed, alpha):
    model, src = random_model(seed), random_source(seed)
    ids, scores = beam_search(model, src, max_len=10, beam_size=3, length_penalty=alpha, return_scores=True)
    for i in range(len(src)):
        expected, expected_score = reference_beam_search(model, src[i:i + 1, :int((src[i] != PAD).sum())], 3,
                                                         alpha, max_len=10)
        assert ids[i, :len(expected)].tolist() == expected and (ids[i, len(expected):] == PAD).all()
        assert math.isclose(float(scores[i]), expected_score, rel_tol=1e-9)


def confident_table(seed: int, positions: int = 12, vocab: int = 12, peak: float = 0.9) -> torch.Tensor:
    """Like a label-smoothed model: one favourite token per (position, previous token) gets `peak` more, the
    rest of the mass is spread thinly and unevenly; from a random position on, the favourite is EOS."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.rand(positions, vocab, vocab, dtype=torch.float64, generator=generator) + 0.5
    table = table / table.sum(dim=-1, keepdim=True) * (1 - peak)
    end = int(torch.randint(4, positions, (1,), generator=generator))
    for t in range(positions):
        favourite = torch.randint(3, vocab, (vocab,), generator=generator) if t < end else torch.full((vocab,), EOS)
        table[t, torch.arange(vocab), favourite] += peak
    return table


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_stopping_early_never_changes_the_result_on_confident_tables(seed, alpha):
    model, src = TableTransformer(confident_table(seed)).double(), torch.tensor([[3]])
    ids, score = beam_search(model, src, max_len=20, beam_size=4, length_penalty=alpha, return_scores=True)
    expected, expected_score = reference_beam_search(model, src, 4, alpha, max_len=20)
    assert ids[0].tolist() == expected and math.isclose(float(score[0]), expected_score, rel_tol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_finishing_beam_size_hypotheses_does_not_end_the_search(alpha):
    """Two short hypotheses finish at steps 1 and 2 while [A, A, EOS] (P = 0.77) is still live: the rule
    'done once beam_size hypotheses have finished' returned [EOS] (alpha 0) or [A, EOS] (alpha 0.6)."""
    table = torch.full((3, 5, 5), 0.2, dtype=torch.float64)
    table[0, BOS] = distribution(A=0.9, EOS=0.06, B=0.04)
    table[1, A] = distribution(A=0.9, EOS=0.06, B=0.04)
    table[2, A] = distribution(EOS=0.95, A=0.03, B=0.02)
    model, src = TableTransformer(table).double(), torch.tensor([[3]])
    ids, score = beam_search(model, src, max_len=20, beam_size=2, length_penalty=alpha, return_scores=True)
    assert ids.tolist() == [[BOS, A, A, EOS]]
    assert math.isclose(float(score[0]), math.log(0.9 * 0.9 * 0.95) / lp(3, alpha), rel_tol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_stops_before_max_len_once_no_live_hypothesis_can_win(alpha):
    model, src = TableTransformer(myopic_table()).double(), torch.tensor([[3]])
    steps, decode = [], model.decode
    model.decode = lambda *args, **kwargs: steps.append(1) or decode(*args, **kwargs)  # count decoder calls
    assert beam_search(model, src, max_len=50, beam_size=2, length_penalty=alpha).tolist() == [[BOS, B, EOS]]
    # alpha 0: after step 2 the best live log P, log 0.3, is already below log P([B, EOS]) = log 0.376.
    # alpha 0.6: the bound divides by lp(50) = 3.78, so it takes one more step (live log P then about -5.8).
    assert len(steps) == (2 if alpha == 0 else 3)


def random_table(seed: int, positions: int, vocab: int = 12) -> torch.Tensor:
    """Random next-token probabilities over PAD, BOS, EOS, A and B (PAD and BOS included, so the search must
    skip them); the other vocab - 5 tokens have probability 0, which keeps the search space small."""
    weights = -torch.rand(positions, vocab, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)).log()
    table = torch.zeros(positions, vocab, vocab, dtype=torch.float64)
    table[..., :5] = weights / weights.sum(dim=-1, keepdim=True)  # Dirichlet(1, ..., 1) rows
    return table


def best_by_enumeration(log_table: torch.Tensor, alpha: float, max_len: int) -> tuple[list[int], float]:
    """Score every output made of A, B and EOS: [BOS, n tokens, EOS] for n < max_len, or max_len tokens."""
    best = ([], float("-inf"))
    for n in range(max_len + 1):
        for tokens in itertools.product((A, B), repeat=n):
            ids = [BOS, *tokens] + ([EOS] if n < max_len else [])
            log_p = sum(float(log_table[min(t, len(log_table) - 1), ids[t], ids[t + 1]]) for t in range(len(ids) - 1))
            if log_p / lp(len(ids) - 1, alpha) > best[1]:
                best = (ids, log_p / lp(len(ids) - 1, alpha))
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_a_beam_that_keeps_every_prefix_finds_the_best_output_and_beats_greedy(seed, alpha):
    """With 2 content tokens and max_len 4, a beam of 12 keeps every prefix before the last step (3, 6, 12
    candidates), and at the last step all candidates share lp(4): beam search is then exhaustive."""
    model, src = TableTransformer(random_table(seed, positions=4)).double(), torch.tensor([[3]])
    ids, score = beam_search(model, src, max_len=4, beam_size=12, length_penalty=alpha, return_scores=True)
    expected, expected_score = best_by_enumeration(model.log_table, alpha, max_len=4)
    assert ids[0].tolist() == expected and math.isclose(float(score[0]), expected_score, rel_tol=1e-12)
    greedy = greedy_decode(model, src, max_len=4)[0]
    assert normalized_log_prob(model, src, greedy, alpha) <= float(score[0]) + 1e-12
    assert normalized_log_prob(model, src, ids[0], alpha) == pytest.approx(float(score[0]), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_a_narrow_beam_can_lose_greedys_output_and_do_worse(alpha):
    """Beam search beats greedy decoding only while greedy's prefix stays in the beam. Here greedy's [A, X]
    (P 0.128) falls out at step 2 behind [B, C] and [B, D]; those end worse, so a beam of 2 returns a worse
    output than greedy; a beam of 3 keeps [C] alive, whose [C, EOS] (P 0.25) is the best output."""
    X, C, D = 7, 5, 6
    table = torch.zeros(4, 8, 8, dtype=torch.float64)
    table[:, :, EOS] = 1.0  # every row not set below: EOS for sure
    table[0, BOS] = torch.tensor([0, 0, 0, 0.4, 0.35, 0.25, 0, 0], dtype=torch.float64)  # A, B, C
    table[1, A] = torch.tensor([0, 0, 0.1, 0, 0, 0.29, 0.29, 0.32], dtype=torch.float64)  # EOS, C, D, X
    table[1, B] = torch.tensor([0, 0, 0, 0, 0, 0.52, 0.48, 0], dtype=torch.float64)  # C, D
    table[2, C] = table[2, D] = torch.tensor([0, 0, 0.05, 0.5, 0.45, 0, 0, 0], dtype=torch.float64)  # EOS, A, B
    model, src = TableTransformer(table).double(), torch.tensor([[3]])
    greedy = greedy_decode(model, src, max_len=10)
    assert greedy.tolist() == [[BOS, A, X, EOS]]
    scores = {k: beam_search(model, src, max_len=10, beam_size=k, length_penalty=alpha, return_scores=True)
              for k in (1, 2, 3)}
    assert torch.equal(scores[1][0], greedy)
    assert scores[2][0].tolist() == [[BOS, B, C, A, EOS]]
    assert float(scores[2][1][0]) < normalized_log_prob(model, src, greedy[0], alpha)
    assert scores[3][0].tolist() == [[BOS, C, EOS]]
    assert math.isclose(float(scores[3][1][0]), math.log(0.25) / lp(2, alpha), rel_tol=1e-12)


# --- the shipped dates model ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dates():
    """The shipped checkpoint and the first 200 of its held-out dates (tests/test_checkpoint.py uses all)."""
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    model, (src_tokenizer, tgt_tokenizer), _ = load_checkpoint(SHIPPED)
    _, held_out = make_dataset("dates", 1, record["n_test"], seed=record["data_seed"])
    pairs = held_out[:200]
    src = pad_sequence([torch.tensor(src_tokenizer.encode(s)) for s, _ in pairs], batch_first=True,
                       padding_value=src_tokenizer.pad_id)  # (200, S)
    return model, src, [tgt_tokenizer.encode(target) + [tgt_tokenizer.eos_id] for _, target in pairs]


def until_eos(ids: torch.Tensor) -> list[list[int]]:
    """Each row's tokens after BOS, up to and including its first EOS (the whole row if it has none)."""
    return [row[1:row.index(EOS) + 1] if EOS in row else row[1:] for row in ids.tolist()]


def test_beam_search_reproduces_the_held_out_dates_as_greedy_decoding_does(dates):
    model, src, targets = dates
    greedy = greedy_decode(model, src)
    beam, scores = beam_search(model, src, beam_size=4, length_penalty=0.6, return_scores=True)
    assert until_eos(greedy) == targets
    assert until_eos(beam) == targets  # stopping after 4 finished hypotheses got 4 of these 200 wrong (truncated)
    assert torch.equal(beam_search(model, src, beam_size=1), greedy)
    for i in range(0, 200, 20):  # the scores are the model's log P / lp, float32
        assert math.isclose(float(scores[i]), normalized_log_prob(model, src[i:i + 1], beam[i, :len(targets[i]) + 1],
                                                                  0.6), rel_tol=1e-5)


# --- PAD and BOS are never generated -------------------------------------------------------------------

def assert_no_pad_or_bos_before_eos(ids: torch.Tensor) -> None:
    assert (ids[:, 0] == BOS).all()
    for row in ids[:, 1:].tolist():
        n = row.index(EOS) + 1 if EOS in row else len(row)
        assert PAD not in row[:n] and BOS not in row[:n] and set(row[n:]) <= {PAD}


def test_pad_and_bos_are_never_generated_even_when_most_probable():
    table = torch.zeros(1, 5, 5, dtype=torch.float64)
    table[0, :] = torch.tensor([0.3, 0.3, 0.1, 0.16, 0.14], dtype=torch.float64)  # PAD, BOS, EOS, A, B
    model, src = TableTransformer(table).double(), torch.full((200, 2), 3)
    greedy = greedy_decode(model, src[:1], max_len=6)
    assert greedy.tolist() == [[BOS, A, A, A, A, A, A]]  # the most probable token other than PAD and BOS
    beam, score = beam_search(model, src[:1], max_len=6, beam_size=3, return_scores=True)
    assert beam.tolist() == [[BOS, EOS]] and math.isclose(float(score[0]), math.log(0.1), rel_tol=1e-12)  # P stays 0.1
    draws = sample(model, src, max_len=6, generator=torch.Generator().manual_seed(0))
    top_2 = sample(model, src, max_len=6, top_k=2, generator=torch.Generator().manual_seed(0))
    for ids in (greedy, beam, draws, top_2):
        assert_no_pad_or_bos_before_eos(ids)
    assert {EOS, A, B} <= set(draws[:, 1].tolist())
    steps = decode_step_by_step(model, src[:1], max_len=2, top=3)
    assert steps[0].top_ids == [A, B, EOS] and [round(p, 6) for p in steps[0].top_probs] == [0.16, 0.14, 0.1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_models_never_generate_pad_or_bos(seed):
    model, src = random_model(seed), random_source(seed)
    for ids in (greedy_decode(model, src, max_len=12), beam_search(model, src, max_len=12, beam_size=4),
                sample(model, src, max_len=12, temperature=3.0, generator=torch.Generator().manual_seed(seed))):
        assert_no_pad_or_bos_before_eos(ids)


# --- EOS and padding -------------------------------------------------------------------------------------

@pytest.mark.parametrize("use_cache", [True, False])
def test_every_strategy_stops_at_eos_and_pads_after(use_cache):
    model = CopyOracle(tiny_config(10)).double()
    src = torch.tensor([[5, 6, 7], [8, 0, 0]])
    expected = [[BOS, 5, 6, 7, EOS], [BOS, 8, EOS, PAD, PAD]]
    assert greedy_decode(model, src, max_len=10, use_cache=use_cache).tolist() == expected
    assert beam_search(model, src, max_len=10, beam_size=3, use_cache=use_cache).tolist() == expected
    assert sample(model, src, max_len=10, temperature=0.01, use_cache=use_cache).tolist() == expected
    forced = greedy_decode(model, src, max_len=10, use_cache=use_cache, stop_at_eos=False)
    assert forced.shape == (2, 11) and forced[1, 3] == EOS  # EOS is then just another token


def test_max_len_caps_the_output_and_defaults_to_input_length_plus_50():
    model = CopyOracle(tiny_config(10)).double()
    src = torch.tensor([[5, 6, 7]])
    assert greedy_decode(model, src, max_len=2).tolist() == [[BOS, 5, 6]]
    assert beam_search(model, src, max_len=2).tolist() == [[BOS, 5, 6]]
    assert greedy_decode(model, src, stop_at_eos=False).shape == (1, 1 + 3 + 50)


def never_ending_table(vocab: int) -> torch.Tensor:
    """A model that says A or B forever: EOS (like PAD and BOS) has probability 0, so only max_len stops it."""
    table = torch.zeros(1, vocab, vocab, dtype=torch.float64)
    table[..., A] = table[..., B] = 0.5
    return table


@pytest.mark.parametrize("src_length, expected", [(3, 3 + 50), (14, 64), (30, 64)])
def test_every_entry_point_defaults_to_input_length_plus_50_at_most_config_max_len(src_length, expected):
    """config.max_len is 64: beyond it the model has no positions, so the default stops there (it raised)."""
    model = TableTransformer(never_ending_table(5)).double()
    src = torch.full((2, src_length), A)
    assert model.config.max_len == 64
    for ids in (greedy_decode(model, src), sample(model, src, generator=torch.Generator().manual_seed(0)),
                beam_search(model, src, beam_size=2)):
        assert ids.shape == (2, 1 + expected)
    assert len(decode_step_by_step(model, src[:1])) == expected


def test_predict_has_the_same_default_max_len_as_greedy_decoding():
    tokenizers = build_tokenizers("copy")
    model = TableTransformer(never_ending_table(tokenizers[1].vocab_size)).double()
    a = tokenizers[1].id_to_token(A)
    for source in ("abc", "abcdefghij" * 3):
        src = torch.tensor([tokenizers[0].encode(source)])
        assert predict(model, [source], *tokenizers) == [tokenizers[1].decode(greedy_decode(model, src)[0])]
        assert predict(model, [source], *tokenizers) == [a * min(len(source) + 50, 64)]  # A is its every token


@pytest.mark.parametrize("call", [
    lambda m, s: greedy_decode(m, s, max_len=65), lambda m, s: sample(m, s, max_len=65),
    lambda m, s: beam_search(m, s, max_len=65), lambda m, s: decode_step_by_step(m, s[:1], max_len=65)])
def test_an_explicit_max_len_above_config_max_len_is_an_error_not_lowered(call):
    with pytest.raises(ValueError, match=r"max_len must be an int in \[1, 64\] \(the model's config.max_len is 64; "
                                         r"None means input length \+ 50, at most that\), got 65"):
        call(random_model(0), random_source(0))


# --- a source of padding only -----------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m, s: greedy_decode(m, s), lambda m, s: sample(m, s), lambda m, s: beam_search(m, s),
    lambda m, s: decode_step_by_step(m, s[1:2]), lambda m, s: m.encode(s), lambda m, s: m(s, s)])
def test_a_source_of_only_padding_is_rejected_by_every_entry_point(call):
    src = random_source(0)
    src[1] = PAD  # it decoded silently into something, as if it were a sentence
    with pytest.raises(ValueError, match=r"src_ids row\(s\) \[[01]\] of the batch of shape \([14], 6\) hold only "
                                         r"padding \(pad_id 0\): every sequence needs at least one real token"):
        call(random_model(0), src)


# --- NaN and inf ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m, s: greedy_decode(m, s), lambda m, s: sample(m, s, temperature=1e-300), lambda m, s: beam_search(m, s),
    lambda m, s: decode_step_by_step(m, s[:1])])
@pytest.mark.parametrize("where, name, message", [
    (lambda m: m.decoder.layers[1].feed_forward.w_2.weight, "decoder.layers.1.feed_forward.w_2.weight",
     r"logits \(Transformer.decode's output\) holds [\d,]+ NaN among"),
    (lambda m: m.encoder.layers[0].self_attn.w_k.bias, "encoder.layers.0.self_attn.w_k.bias",
     r"memory \(Transformer.encode's output\) holds [\d,]+ NaN among")])
def test_a_nan_weight_stops_decoding_with_an_error_naming_it(call, where, name, message):
    """argmax takes the first NaN as the largest value: with PAD and BOS ruled out, EOS, so greedy decoding
    returned empty outputs; sampling raised torch's RuntimeError. Now the model's output check names the weight."""
    model = random_model(0)
    with torch.no_grad():
        where(model).view(-1)[0] = float("nan")
    with pytest.raises(NonFiniteError, match=message + rf".*in 1 tensor\(s\): {name}\. Usual causes: a training "
                                             r"run that diverged"):
        call(model, random_source(0))


def test_predict_rejects_a_source_without_tokens():
    tokenizers = build_tokenizers("copy")
    model = TableTransformer(never_ending_table(tokenizers[1].vocab_size)).double()
    with pytest.raises(ValueError, match="has no tokens"):
        predict(model, ["abc", ""], *tokenizers)


# --- sampling --------------------------------------------------------------------------------------------

def test_sampling_is_reproducible_with_a_generator_and_varies_across_seeds():
    model, src = random_model(0), random_source(0)
    draws = [sample(model, src, max_len=10, temperature=2.0, generator=torch.Generator().manual_seed(s))
             for s in (0, 0, 1)]
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tiny_temperature_and_top_1_sampling_are_greedy(seed):
    model, src = random_model(seed), random_source(seed)
    greedy = greedy_decode(model, src, max_len=15)
    assert torch.equal(sample(model, src, max_len=15, temperature=1e-6), greedy)
    assert torch.equal(sample(model, src, max_len=15, top_k=1, temperature=5.0), greedy)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_sampling_frequencies_follow_the_tempered_distribution(temperature):
    model, src = TableTransformer(myopic_table()).double(), torch.full((4000, 1), 3)
    first = sample(model, src, max_len=1, temperature=temperature, generator=torch.Generator().manual_seed(0))[:, 1]
    p = myopic_table()[0, BOS] ** (1 / temperature)
    p[[PAD, BOS]] = 0.0  # never generated
    p = p / p.sum()  # softmax(log p / T) = p^(1/T), renormalized over the tokens that may be drawn
    frequencies = torch.bincount(first, minlength=5).double() / len(first)
    torch.testing.assert_close(frequencies, p, atol=0.03, rtol=0)


def test_top_k_samples_only_the_k_most_probable_tokens():
    model, src = TableTransformer(myopic_table()).double(), torch.full((500, 1), 3)
    loose = sample(model, src, max_len=1, temperature=20.0, generator=torch.Generator().manual_seed(0))[:, 1]
    kept = sample(model, src, max_len=1, temperature=20.0, top_k=2, generator=torch.Generator().manual_seed(0))[:, 1]
    assert set(loose.tolist()) == {EOS, A, B}  # every token but PAD and BOS, which are never generated
    assert set(kept.tolist()) == {A, B}


def test_top_p_samples_only_the_nucleus():
    """The nucleus is the smallest set of most probable tokens whose probability reaches p (after PAD and BOS
    are left out): a tiny p keeps the most probable token only, which is greedy decoding; p = 1 keeps all."""
    model, src = TableTransformer(myopic_table()).double(), torch.full((500, 1), 3)
    probs = myopic_table()[0, BOS].clone()
    probs[[PAD, BOS]] = 0.0
    ranked = probs.argsort(descending=True).tolist()  # the tokens, most probable first
    tiny = sample(model, src, max_len=1, top_p=1e-9, generator=torch.Generator().manual_seed(0))[:, 1]
    assert set(tiny.tolist()) == {ranked[0]}
    first_two = float(probs[ranked[0]] + probs[ranked[1]]) / float(probs.sum())  # what the top two hold
    nucleus = sample(model, src, max_len=1, temperature=1.0, top_p=first_two - 1e-6,
                     generator=torch.Generator().manual_seed(0))[:, 1]
    assert set(nucleus.tolist()) == set(ranked[:2])
    everything = sample(model, src, max_len=1, temperature=20.0, top_p=1.0,
                        generator=torch.Generator().manual_seed(0))[:, 1]
    assert torch.equal(everything, sample(model, src, max_len=1, temperature=20.0,
                                          generator=torch.Generator().manual_seed(0))[:, 1])
    with pytest.raises(ValueError, match=r"top_p \(None keeps the whole vocabulary\) must be"):
        sample(model, src, max_len=1, top_p=0.0)


# --- sampling at the limits of the temperature ------------------------------------------------------------

TINY_TEMPERATURES = [1e-8, 1e-40, 1e-300, 5e-324]  # 5e-324: the smallest float > 0. From 1e-40 on, dividing
# float32 logits by the temperature overflowed, and torch.multinomial raised a RuntimeError about inf and NaN.


@pytest.mark.parametrize("temperature", TINY_TEMPERATURES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tiny_temperatures_sample_exactly_what_greedy_decoding_gives(temperature, dtype, seed):
    model, src = random_model(seed).to(dtype), random_source(seed)
    greedy = greedy_decode(model, src, max_len=15)
    for top_k in (None, 3):
        draws = sample(model, src, max_len=15, temperature=temperature, top_k=top_k,
                       generator=torch.Generator().manual_seed(seed))
        assert torch.equal(draws, greedy)


@pytest.mark.parametrize("temperature", [1e-40, 5e-324])
def test_tiny_temperatures_give_the_shipped_models_greedy_outputs(dates, temperature):
    model, src, _ = dates  # float32
    draws = sample(model, src, temperature=temperature, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draws, greedy_decode(model, src))


def test_a_tiny_temperature_shares_the_probability_between_exactly_tied_tokens():
    """The limit of softmax(z / T) as T -> 0 is uniform over the tokens tied for the largest logit; greedy
    decoding takes the lowest id of them."""
    table = torch.zeros(1, 5, 5, dtype=torch.float64)
    table[0, :] = distribution(A=0.4, B=0.4)  # the same float: an exact tie
    model, src = TableTransformer(table).double(), torch.full((2000, 1), 3)
    first = sample(model, src, max_len=1, temperature=1e-300, generator=torch.Generator().manual_seed(0))[:, 1]
    assert set(first.tolist()) == {A, B} and 0.45 < float((first == A).double().mean()) < 0.55
    assert greedy_decode(model, src[:1], max_len=1).tolist() == [[BOS, A]]
    assert tempered_probabilities(table[0, BOS].log(), 1e-300).tolist() == [0.0, 0.0, 0.0, 0.5, 0.5]


@pytest.mark.parametrize("temperature, top_k, allowed", [
    (1e300, None, [EOS, A, B]), (1.7e308, None, [EOS, A, B]), (1e300, 2, [A, B])])
def test_huge_temperatures_draw_uniformly_among_the_tokens_allowed(temperature, top_k, allowed):
    model, src = TableTransformer(myopic_table()).double(), torch.full((3000, 1), 3)
    first = sample(model, src, max_len=1, temperature=temperature, top_k=top_k,
                   generator=torch.Generator().manual_seed(0))[:, 1]
    expected = torch.zeros(5, dtype=torch.float64)
    expected[allowed] = 1 / len(allowed)
    torch.testing.assert_close(torch.bincount(first, minlength=5).double() / len(first), expected, atol=0.03, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tempered_probabilities_are_softmax_at_temperature_one_and_exact_at_both_limits(dtype):
    logits = 4 * torch.randn(8, 30, generator=torch.Generator().manual_seed(0)).to(dtype)  # (B, V)
    logits[:, [PAD, BOS]] = float("-inf")  # never generated
    assert torch.equal(tempered_probabilities(logits, 1.0), torch.softmax(logits, dim=-1))  # bit for bit
    torch.testing.assert_close(tempered_probabilities(logits, 0.7), torch.softmax(logits / 0.7, dim=-1))
    for temperature in TINY_TEMPERATURES:  # all the probability on the largest logit
        assert torch.equal(tempered_probabilities(logits, temperature), F.one_hot(logits.argmax(-1), 30).to(dtype))
    uniform = torch.full((8, 30), 1 / 28, dtype=dtype).index_fill(1, torch.tensor([PAD, BOS]), 0.0)
    for temperature in (1e300, 1.7e308):  # the same probability for every token allowed
        torch.testing.assert_close(tempered_probabilities(logits, temperature), uniform)


# --- step by step ----------------------------------------------------------------------------------------

def test_step_by_step_shows_prefixes_and_top_candidates():
    model, src = TableTransformer(myopic_table()).double(), torch.tensor([[3, 4]])
    steps = decode_step_by_step(model, src, max_len=10, top=3)
    assert [s.prefix for s in steps] == [[BOS], [BOS, A], [BOS, A, A]]
    assert [s.chosen for s in steps] == [A, A, EOS]
    assert steps[0].top_ids[:2] == [A, B]
    assert [round(p, 6) for p in steps[0].top_probs[:2]] == [0.6, 0.396]
    assert steps[1].top_ids == [A, B, EOS] and [round(p, 6) for p in steps[1].top_probs] == [0.5, 0.4, 0.098]


@pytest.mark.parametrize("seed", [1, 2])
def test_step_by_step_retraces_greedy_decoding(seed):
    model, src = random_model(seed), random_source(seed)[:1]
    steps = decode_step_by_step(model, src, max_len=12)
    assert steps[-1].prefix + [steps[-1].chosen] == greedy_decode(model, src, max_len=12)[0].tolist()
    assert all(s.chosen == s.top_ids[0] and s.top_probs == sorted(s.top_probs, reverse=True) for s in steps)


def test_decoding_leaves_the_model_in_training_mode_if_it_was():
    model = random_model(0).train()
    greedy_decode(model, random_source(0), max_len=3)
    beam_search(model, random_source(0), max_len=3)
    assert model.training


# --- special ids: None means the model's config -------------------------------------------------------

@pytest.mark.parametrize("decode", [
    lambda m, s, **ids: greedy_decode(m, s, max_len=10, **ids),
    lambda m, s, **ids: sample(m, s, max_len=10, generator=torch.Generator().manual_seed(0), **ids),
    lambda m, s, **ids: beam_search(m, s, max_len=10, beam_size=2, **ids),
])
def test_special_ids_default_to_the_models_config(decode):
    model, src = random_model(1, bos_id=5, eos_id=6), random_source(1)
    ids = decode(model, src)
    assert torch.all(ids[:, 0] == 5) and not torch.any(ids[:, 1:] == 5)  # BOS starts each row, never chosen
    assert torch.equal(ids, decode(model, src, bos_id=5, eos_id=6, pad_id=0))
    steps = decode_step_by_step(model, src[:1], max_len=10)
    assert steps[0].prefix == [5] and 5 not in [step.chosen for step in steps]


# --- bad inputs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda m, s: beam_search(m, s, max_len=5, beam_size=0), r"beam_size must be an int in \[1, 12\].*got 0"),
    (lambda m, s: beam_search(m, s, max_len=5, length_penalty=-1.0), r"length_penalty.*>= 0.*got -1.0"),
    (lambda m, s: sample(m, s, max_len=5, temperature=0.0),
     r"temperature \(1e300 already draws .*\) must be a finite number > 0, got 0.0"),
    (lambda m, s: sample(m, s, max_len=5, temperature=-1e-300), r"must be a finite number > 0, got -1e-300"),
    (lambda m, s: sample(m, s, max_len=5, temperature=float("nan")), "temperature"),
    (lambda m, s: sample(m, s, max_len=5, temperature=float("inf")), r"1e300 already draws uniformly.*got inf"),
    (lambda m, s: sample(m, s, max_len=5, top_k=0), r"top_k must be an int in \[1, 12\].*got 0"),
    (lambda m, s: sample(m, s, max_len=5, top_k=13), r"top_k .*got 13"),
    (lambda m, s: sample(m, s, max_len=5, generator=0), "torch.Generator"),
    (lambda m, s: greedy_decode(m, s, max_len=0), r"max_len must be an int in \[1, 64\].*got 0"),
    (lambda m, s: greedy_decode(m, s, max_len=65), r"config.max_len is 64.*got 65"),
    (lambda m, s: greedy_decode(m, s, max_len=2.5), "max_len .*got 2.5"),
    (lambda m, s: greedy_decode(m, s[0], max_len=5), r"src_ids must have shape \(batch, length\)"),
    (lambda m, s: greedy_decode(m, s.double(), max_len=5), "integer token ids"),
    (lambda m, s: greedy_decode(m, s + V, max_len=5), r"src_ids must be in \[0, 11\]"),
    (lambda m, s: greedy_decode(m, s, max_len=5, eos_id=V), r"eos_id must be an int in \[0, 11\].*got 12"),
    (lambda m, s: greedy_decode("model", s, max_len=5),
     r"model must be an nn.Module with the Seq2SeqModel protocol's attributes \(config, new_cache, "
     r"attention_layers, encode, decode\), as transformer_edu.Transformer has; got str"),
    (lambda m, s: beam_search(m, s, max_len=5, pad_id=-1), r"pad_id must be an int in \[0, 11\].*got -1"),
    (lambda m, s: decode_step_by_step(m, s, max_len=5), r"one sentence.*got \(4, 6\)"),
    (lambda m, s: decode_step_by_step(m, s[:1], max_len=5, top=0), "top must be"),
])
def test_bad_inputs_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(random_model(0), random_source(0))


def test_outputs_are_ordinary_tensors_usable_for_training():
    model, src = random_model(1).train(), random_source(1)
    ids, scores = beam_search(model, src, max_len=5, return_scores=True)
    for out in (greedy_decode(model, src, max_len=5), sample(model, src, max_len=5), ids, scores):
        assert not out.is_inference()
    model(src, greedy_decode(model, src, max_len=5)).sum().backward()  # decoded ids as training targets
    assert model.output.weight.grad is not None
