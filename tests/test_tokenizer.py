import json
import re
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_edu.bpe import BPE_PATTERN, BPETokenizer, bytes_to_text, text_to_bytes
from transformer_edu.config import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID
from transformer_edu.tokenizer import CharTokenizer, Tokenizer, WordTokenizer

CORPUS = ["the cat sat on the mat.", "the dog ate the cat's hat!", "naïve café, 東京 ok?"]
BUILDERS = {
    "char": lambda: CharTokenizer.train(CORPUS),
    "word": lambda: WordTokenizer.train(CORPUS),
    "bpe": lambda: BPETokenizer.train(CORPUS, vocab_size=300),
}
KINDS = list(BUILDERS)


@pytest.fixture(params=KINDS)
def tokenizer(request):
    return BUILDERS[request.param]()


# --- what every tokenizer shares -----------------------------------------------------------------------

def test_special_token_ids_are_fixed(tokenizer):
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert SPECIAL_TOKENS == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert tokenizer.vocab[:4] == list(SPECIAL_TOKENS)
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2, 3)
    assert [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]


def test_vocab_is_a_consistent_two_way_map(tokenizer):
    vocab = tokenizer.vocab
    assert len(vocab) == tokenizer.vocab_size == len(set(vocab))
    assert all(tokenizer.token_to_id(t) == i and tokenizer.id_to_token(i) == t for i, t in enumerate(vocab))


def test_bos_eos_wrap_and_skip_special(tokenizer):
    text = "the cat sat on the mat."
    plain = tokenizer.encode(text)
    wrapped = tokenizer.encode(text, add_bos=True, add_eos=True)
    assert wrapped == [BOS_ID] + plain + [EOS_ID]
    assert tokenizer.decode(wrapped) == tokenizer.decode(plain + [PAD_ID, PAD_ID]) == text
    assert tokenizer.decode(wrapped, skip_special=False).startswith("<bos>")
    assert tokenizer.decode(torch.tensor(wrapped)) == text  # a 1-D tensor works too
    assert [tokenizer.id_to_token(i) for i in plain] == tokenizer.tokenize(text)


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_gives_an_equal_tokenizer(kind, tmp_path):
    original = BUILDERS[kind]()
    path = tmp_path / f"{kind}.json"
    original.save(path)
    loaded = Tokenizer.load(path)
    assert type(loaded) is type(original) and loaded == original
    for text in CORPUS + ["unseen words: zebra, ☃"]:
        assert loaded.encode(text) == original.encode(text)
    saved = path.read_text(encoding="utf-8")
    assert json.loads(saved)["type"] == kind and "\n" in saved  # indented JSON
    assert "東" in saved or kind == "bpe"  # characters kept readable, not \u-escaped


@pytest.mark.parametrize("kind", KINDS)
def test_tokenizers_differ_in_granularity(kind):
    pieces = BUILDERS[kind]().tokenize("the cat")
    expected = {"char": list("the cat"), "word": ["the", "cat"], "bpe": ["the", " cat"]}  # " cat" occurs twice
    assert pieces == expected[kind]


# --- CharTokenizer ---------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1))
def test_char_tokenizer_round_trips_its_training_text(text):
    tokenizer = CharTokenizer.train(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.vocab_size == len(SPECIAL_TOKENS) + len(set(text))


def test_char_vocab_is_sorted_and_independent_of_text_order():
    assert CharTokenizer.train(["cab", "d"]).vocab[4:] == ["a", "b", "c", "d"]
    assert CharTokenizer.train(["d", "bac"]) == CharTokenizer.train(["cab", "d"])


def test_unknown_characters_become_unk():
    tokenizer = CharTokenizer.train("abc")
    assert tokenizer.encode("abzc") == [4, 5, UNK_ID, 6]
    assert tokenizer.decode(tokenizer.encode("abzc")) == "ab<unk>c"  # <unk> stays visible
    assert tokenizer.token_to_id("z") == UNK_ID


# --- WordTokenizer ---------------------------------------------------------------------------------------

def test_word_tokenizer_pieces_unknowns_and_join_rule():
    tokenizer = WordTokenizer.train(["Hello, world! Hello again."])
    assert tokenizer.vocab[4:] == ["!", ",", ".", "Hello", "again", "world"]
    assert tokenizer.tokenize("Hello,   world!") == ["Hello", ",", "world", "!"]
    assert tokenizer.decode(tokenizer.encode("Hello,   world!")) == "Hello, world!"  # whitespace not restored
    assert tokenizer.encode("Hello moon") == [tokenizer.token_to_id("Hello"), UNK_ID]


def test_word_tokenizer_min_freq_pattern_and_separator():
    tokenizer = WordTokenizer.train(["a b a c a b"], min_freq=2)
    assert tokenizer.vocab[4:] == ["a", "b"]
    digits = WordTokenizer.train("May 25, 2026", pattern=r"[A-Za-z]+|\d|[^\sA-Za-z\d]", separator="")
    assert digits.tokenize("May 25, 2026") == ["May", "2", "5", ",", "2", "0", "2", "6"]
    assert digits.decode(digits.encode("2026-05")) == "2026<unk>05"  # "-" was never seen
    assert Tokenizer.from_dict(digits.to_dict()).pattern == digits.pattern


# --- BPETokenizer ----------------------------------------------------------------------------------------

def test_bpe_merges_on_a_tiny_corpus_match_a_hand_count():
    # words: "aaab" once, " aaab" three times, " ab" once (the leading space stays with its word)
    # pairs: (a, a) 2 x 4 = 8, (a, b) 5, (" ", a) 3, (" ", a) is not merged until " aaab" exists
    seen = []
    tokenizer = BPETokenizer.train(["aaab aaab aaab aaab ab"], vocab_size=264,
                                   on_merge=lambda *args: seen.append(args))
    assert tokenizer.merges == [("a", "a"), ("a", "b"), ("aa", "ab"), (" ", "aaab")]
    assert tokenizer.merge_counts == [8, 5, 4, 3]
    assert seen == [(i, *pair, n) for i, (pair, n) in enumerate(zip(tokenizer.merges, tokenizer.merge_counts))]
    assert tokenizer.vocab[-4:] == ["aa", "ab", "aaab", " aaab"] and tokenizer.vocab_size == 264
    assert tokenizer.tokenize("aaab aaab ab") == ["aaab", " aaab", " ", "ab"]
    # merges apply by rank, not longest match: (a, a) comes before (a, b), so "aab" is "aa" + "b"
    assert tokenizer.tokenize("aab") == ["aa", "b"]


def test_bpe_ties_go_to_byte_order_and_pieces_are_readable():
    tokenizer = BPETokenizer.train(["the " * 50], vocab_size=300)
    # (t, h) and (h, e) both occur 50 times: "h" < "t", so (h, e) first; " the" occurs 49 times
    assert tokenizer.merges == [("h", "e"), ("t", "he"), (" ", "the")]
    assert tokenizer.merge_counts == [50, 50, 49]
    assert " the" in tokenizer.vocab


def test_bpe_stops_at_vocab_size_or_min_freq():
    text = "the quick brown fox jumps over the lazy dog " * 20
    assert BPETokenizer.train(text, vocab_size=270).vocab_size == 270
    once = BPETokenizer.train("abcdefg", vocab_size=300)  # every pair occurs once, below min_freq=2
    assert once.merges == [] and once.vocab_size == 260
    assert BPETokenizer.train("abcdefg", vocab_size=300, min_freq=1).merges[0] == ("a", "b")


def naive_bpe(text, vocab_size, min_freq=2):
    """Reference: recount every pair over every word at every step."""
    counts = Counter(re.findall(BPE_PATTERN, text))
    words = {w: [bytes([b]) for b in w.encode()] for w in counts}
    known, merges = {bytes([b]) for b in range(256)}, []
    while len(SPECIAL_TOKENS) + len(known) < vocab_size:
        pairs = Counter()
        for w, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += counts[w]
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < min_freq:
            break
        merges.append(best)
        known.add(best[0] + best[1])
        for w, symbols in words.items():
            out, i = [], 0
            while i < len(symbols):
                if symbols[i:i + 2] == list(best):
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[w] = out
    return [(bytes_to_text(a), bytes_to_text(b)) for a, b in merges]


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="aab  bc\né", min_size=1, max_size=80), st.integers(260, 290), st.integers(1, 3))
def test_bpe_incremental_training_matches_naive_recounting(text, vocab_size, min_freq):
    trained = BPETokenizer.train(text, vocab_size=vocab_size, min_freq=min_freq)
    assert trained.merges == naive_bpe(text, vocab_size, min_freq)


BPE_SMALL = BPETokenizer.train(CORPUS * 3, vocab_size=320)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_unicode_text(text):
    assert BPE_SMALL.decode(BPE_SMALL.encode(text)) == text
    assert UNK_ID not in BPE_SMALL.encode(text)  # 256 bytes cover everything


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_bpe_trained_on_any_text_round_trips_it(text):
    tokenizer = BPETokenizer.train(text, vocab_size=300, min_freq=1)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert Tokenizer.from_dict(tokenizer.to_dict()) == tokenizer


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=12))
def test_readable_piece_names_are_reversible(piece):
    assert text_to_bytes(bytes_to_text(piece)) == piece


def test_readable_piece_names():
    assert bytes_to_text(b" the") == " the"
    assert bytes_to_text("é".encode()[:1]) == "\\xc3"  # half a character
    assert bytes_to_text(b"\\x") == "\\\\x"  # a real backslash is doubled


def test_bpe_decode_of_a_broken_byte_sequence_uses_the_replacement_character():
    first_byte_of_e_acute = 4 + "é".encode()[0]
    assert BPE_SMALL.decode([first_byte_of_e_acute]) == "\ufffd"


# --- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda t: t.encode(5), "text must be a str, got int"),
    (lambda t: t.tokenize(None), "text must be a str, got NoneType"),
    (lambda t: t.decode("abc"), "ids must be a list of ints or a 1-D tensor, got str"),
    (lambda t: t.decode([4, 1.5]), r"token id must be an int in \[0, \d+\] for this vocabulary of \d+, got 1.5"),
    (lambda t: t.decode([True]), r"token id must be an int in \[0, \d+\] .*got True"),
    (lambda t: t.decode([t.vocab_size]), r"token id must be an int in \[0, \d+\] for this vocabulary of \d+, got \d+"),
    (lambda t: t.decode([-1]), r"token id must be an int in \[0, \d+\] .*got -1"),
    (lambda t: t.decode(torch.zeros(2, 3, dtype=torch.long)), r"ids must be one sequence .*got shape \(2, 3\)"),
    (lambda t: t.decode(torch.zeros(2, 2, dtype=torch.long)), r"ids must be one sequence .*got shape \(2, 2\)"),
    (lambda t: t.id_to_token(10_000), r"token id must be an int in \[0, \d+\] .*got 10000"),
    (lambda t: t.token_to_id(3), "token must be a str, got int"),
])
def test_bad_input_raises_value_error(tokenizer, call, message):
    with pytest.raises(ValueError, match=message):
        call(tokenizer)


def test_an_id_just_past_the_vocabulary_names_the_range(tokenizer):
    v = tokenizer.vocab_size
    with pytest.raises(ValueError, match=rf"^token id must be an int in \[0, {v - 1}\] for this vocabulary of {v}, "
                                         rf"got {v}$"):
        tokenizer.decode([v])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("corpus, message", [
    ([], "training corpus is empty"),
    (["", ""], "training corpus is empty"),
    ("", "training corpus is empty"),
    (["fine", 3], r"texts\[1\] must be a str, got int"),
    (42, "texts must be a str or an iterable of str, got int"),
])
def test_bad_training_corpus_raises_value_error(kind, corpus, message):
    train = {"char": CharTokenizer.train, "word": WordTokenizer.train,
             "bpe": lambda texts: BPETokenizer.train(texts, vocab_size=300)}[kind]
    with pytest.raises(ValueError, match=message):
        train(corpus)


@pytest.mark.parametrize("call, message", [
    (lambda: BPETokenizer.train("abc", vocab_size=100), r"vocab_size must be an int >= 260 .*got 100"),
    (lambda: BPETokenizer.train("abc", vocab_size="300"), "vocab_size must be an int >= 260"),
    (lambda: BPETokenizer.train("abc", vocab_size=300, min_freq=0), "min_freq must be an int >= 1, got 0"),
    (lambda: BPETokenizer.train("a\ud800b", vocab_size=300), r"encodable as UTF-8, got the lone surrogate '\\ud800'"),
    (lambda: BPE_SMALL.encode("\ud800"), "lone surrogate"),
    (lambda: BPETokenizer([("a", "zz")]), "uses a piece that no byte or earlier merge makes"),
    (lambda: BPETokenizer([("a", "b")], merge_counts=[1, 2]), r"one count per merge \(1\), got 2"),
    (lambda: WordTokenizer.train("abc", pattern="("), "pattern must be a valid regular expression"),
    (lambda: WordTokenizer.train("a b", min_freq=2), "no piece occurs at least min_freq=2 times"),
    (lambda: WordTokenizer(["a", "a"]), r"must be distinct .*\['a'\]"),
    (lambda: CharTokenizer(["<pad>"]), "must be distinct"),
])
def test_bad_construction_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("content, message", [
    ('{"type": "sentencepiece", "vocab": []}', r"'type' is one of \['bpe', 'char', 'word'\], got 'sentencepiece'"),
    ("[1, 2]", "expected a dict"),
    ("{not json", "could not read a tokenizer JSON file"),
    ('{"type": "word", "vocab": ["<pad>", "<bos>", "<eos>", "<unk>", "a"]}', "malformed 'word' tokenizer data"),
    ('{"type": "char", "vocab": ["<pad>", "<bos>", "<eos>", "<unk>", 7]}', "token 4 must be a non-empty str"),
    ('{"type": "bpe", "merges": [["a", "b"]], "vocab": ["x"]}', "does not match"),
])
def test_loading_a_malformed_file_raises_value_error(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        Tokenizer.load(path)


def test_loading_a_missing_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="could not read a tokenizer JSON file"):
        Tokenizer.load(tmp_path / "missing.json")
