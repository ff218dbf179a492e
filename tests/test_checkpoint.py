import calendar
import json
import random
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import torch
from dates_by_hand import BY_HAND, written_by_hand

import transformer_edu
from transformer_edu import Transformer, TransformerConfig
from transformer_edu.checkpoint import OLD_NAMES, load_checkpoint, save_checkpoint, upgrade_names
from transformer_edu.checks import NonFiniteError
from transformer_edu.data import build_tokenizers, make_dataset
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.lm_data import encode_corpus, lm_loss, shakespeare_text, split_text
from transformer_edu.tokenizer import CharTokenizer
from transformer_edu.training import exact_match, predict

SHIPPED = Path(transformer_edu.__file__).parent / "checkpoints" / "dates.pt"


def small_model(**changes) -> tuple[Transformer, tuple]:
    tokenizers = build_tokenizers("dates")
    config = TransformerConfig.small(vocab_size=tokenizers[0].vocab_size, d_model=32, n_heads=2, d_ff=64,
                                     max_len=40, **changes)
    return Transformer(config), tokenizers


def ids(batch: int, length: int, vocab: int) -> torch.Tensor:
    return torch.randint(3, vocab, (batch, length))


def test_save_then_load_gives_the_same_model_tokenizers_and_extra(tmp_path):
    model, tokenizers = small_model()
    path = tmp_path / "sub" / "model.pt"  # missing folders are made
    save_checkpoint(path, model, model.config, tokenizers, extra={"step": 7, "accuracy": 0.5, "notes": ["a", None]})
    loaded, loaded_tokenizers, extra = load_checkpoint(path)
    assert loaded.config == model.config and not loaded.training
    assert loaded_tokenizers == tokenizers and extra == {"step": 7, "accuracy": 0.5, "notes": ["a", None]}
    src, tgt = ids(3, 6, 55), ids(3, 5, 55)
    torch.testing.assert_close(loaded(src, tgt), model.eval()(src, tgt), rtol=0, atol=0)
    assert loaded.output.weight is loaded.src_embed.weight is loaded.tgt_embed.weight  # still one matrix
    assert not any(p.name.endswith(".partial") for p in path.parent.iterdir())


def test_untied_model_with_two_vocabularies_round_trips(tmp_path):
    src_tok, tgt_tok = build_tokenizers("dates", shared=False)
    config = TransformerConfig.small(src_vocab_size=src_tok.vocab_size, tgt_vocab_size=tgt_tok.vocab_size,
                                     share_embeddings=False, d_model=16, n_heads=2, d_ff=32, positional="learned")
    model = Transformer(config)
    save_checkpoint(tmp_path / "m.pt", model, tokenizers=(src_tok, tgt_tok))
    loaded, (src2, tgt2), extra = load_checkpoint(str(tmp_path / "m.pt"))
    assert (src2, tgt2) == (src_tok, tgt_tok) and extra == {}
    src, tgt = ids(2, 4, src_tok.vocab_size), ids(2, 3, tgt_tok.vocab_size)
    assert torch.equal(loaded(src, tgt), model.eval()(src, tgt))


def test_file_holds_only_tensors_and_plain_containers(tmp_path):
    model, tokenizers = small_model()
    save_checkpoint(tmp_path / "m.pt", model, tokenizers=tokenizers)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)  # no pickled code runs
    assert set(payload) == {"format", "version", "model", "config", "state_dict", "tokenizers", "extra"}
    assert payload["format"] == "transformer_edu.checkpoint" and payload["version"] == 2
    assert payload["model"] == "Transformer"
    assert payload["config"] == model.config.to_dict()
    assert payload["tokenizers"]["src"] == tokenizers[0].to_dict()
    json.dumps(payload["tokenizers"])  # tokenizers are JSON-able


def test_shared_matrix_is_stored_once(tmp_path):
    tied, tokenizers = small_model()
    save_checkpoint(tmp_path / "tied.pt", tied, tokenizers=tokenizers)
    with zipfile.ZipFile(tmp_path / "tied.pt") as archive:
        storages = [info for info in archive.infolist() if "/data/" in info.filename]
    assert len(storages) == len({p.data_ptr() for p in tied.state_dict().values()})


@pytest.mark.parametrize("corrupt", ["truncated", "garbage", "not ours", "wrong config", "untied", "empty"])
def test_corrupted_or_mismatched_files_raise_value_error(tmp_path, corrupt):
    model, tokenizers = small_model()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, tokenizers=tokenizers)
    if corrupt == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    elif corrupt == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 100)
    elif corrupt == "empty":
        path.write_bytes(b"")
    elif corrupt == "not ours":
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        payload = torch.load(path, weights_only=True)
        if corrupt == "wrong config":
            payload["config"]["d_ff"] = 128  # the weights were made for d_ff = 64
        else:
            payload["state_dict"]["output.weight"] = torch.zeros_like(payload["state_dict"]["output.weight"])
        torch.save(payload, path)
    with pytest.raises(ValueError):
        load_checkpoint(path)


def version_1_file(path, model, tokenizers) -> None:
    """Rewrite a fresh checkpoint at `path` as version 1 wrote it: LayerNorms under their AddNorm names
    (the inverse of checkpoint.OLD_NAMES) and no "model" key."""
    save_checkpoint(path, model, tokenizers=tokenizers)
    payload = torch.load(path, weights_only=True)
    # Two old names map to self_attn_norm: an encoder layer had add_norm_attn, a decoder layer add_norm_self.
    inverse = {"encoder": {".self_attn_norm.": ".add_norm_attn.norm.", ".ff_norm.": ".add_norm_ff.norm."},
               "decoder": {".self_attn_norm.": ".add_norm_self.norm.", ".cross_attn_norm.": ".add_norm_cross.norm.",
                           ".ff_norm.": ".add_norm_ff.norm."}}
    assert {new for mapping in inverse.values() for new in mapping} == set(OLD_NAMES.values())
    assert all(OLD_NAMES[old] == new for mapping in inverse.values() for new, old in mapping.items())
    state = {}
    for name, tensor in payload["state_dict"].items():
        for new, old in inverse.get(name.split(".")[0], {}).items():
            name = name.replace(new, old)
        state[name] = tensor
    assert "encoder.layers.0.add_norm_attn.norm.weight" in state and "decoder.layers.1.add_norm_cross.norm.bias" in state
    assert not any("_norm." in name and "add_norm" not in name for name in state)
    payload["state_dict"], payload["version"] = state, 1
    del payload["model"]
    torch.save(payload, path)


def test_a_version_1_file_loads_under_the_new_names_and_gives_the_same_logits(tmp_path):
    model, tokenizers = small_model()
    version_1_file(tmp_path / "old.pt", model, tokenizers)
    loaded, loaded_tokenizers, extra = load_checkpoint(tmp_path / "old.pt")
    assert loaded.config == model.config and loaded_tokenizers == tokenizers and extra == {}
    src, tgt = ids(3, 6, 55), ids(3, 5, 55)
    torch.testing.assert_close(loaded(src, tgt), model.eval()(src, tgt), rtol=0, atol=0)


def test_upgrade_names_renames_only_the_layer_norms():
    old = {"encoder.layers.0.add_norm_attn.norm.weight": 1, "decoder.layers.2.add_norm_self.norm.bias": 2,
           "decoder.layers.0.add_norm_cross.norm.weight": 3, "encoder.layers.1.add_norm_ff.norm.bias": 4,
           "decoder.layers.0.self_attn.w_q.weight": 5, "src_embed.table.weight": 6}
    assert upgrade_names(old) == {"encoder.layers.0.self_attn_norm.weight": 1, "decoder.layers.2.self_attn_norm.bias": 2,
                                  "decoder.layers.0.cross_attn_norm.weight": 3, "encoder.layers.1.ff_norm.bias": 4,
                                  "decoder.layers.0.self_attn.w_q.weight": 5, "src_embed.table.weight": 6}


def saved_with(tmp_path, **changes):
    """A fresh small model saved, then its payload's fields changed as given; the file's path."""
    model, tokenizers = small_model()
    save_checkpoint(tmp_path / "m.pt", model, tokenizers=tokenizers)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload.update(changes)
    torch.save(payload, tmp_path / "m.pt")
    return tmp_path / "m.pt"


@pytest.mark.parametrize("model_name", ["LSTM", "", None])
def test_a_file_for_an_unknown_model_class_is_refused_and_named(tmp_path, model_name):
    path = saved_with(tmp_path, model=model_name)
    with pytest.raises(ValueError, match=rf"checkpoint '.*m.pt' holds a {model_name!r}; this package rebuilds "
                                         r"\['BERT', 'GPT', 'Transformer'\]"):
        load_checkpoint(path)


@pytest.mark.parametrize("version", [0, 3, "2", None])
def test_a_file_of_an_unknown_version_is_refused(tmp_path, version):
    path = saved_with(tmp_path, version=version)
    with pytest.raises(ValueError, match=rf"checkpoint version {version!r} is not supported \(expected 1 or 2\)"):
        load_checkpoint(path)


@pytest.mark.parametrize("name, value, index", [
    ("decoder.layers.1.self_attn.w_v.weight", float("nan"), r"\(0, 5\)"),
    ("encoder.layers.0.ff_norm.bias", float("inf"), r"\(5,\)"),
    ("src_embed.table.weight", float("nan"), r"\(0, 5\)")])  # the shared matrix: stored once, under three names
def test_a_file_with_a_non_finite_weight_is_refused_and_named(tmp_path, name, value, index):
    """Such a file used to load; predict() then returned '' for every source."""
    model, tokenizers = small_model()
    save_checkpoint(tmp_path / "m.pt", model, tokenizers=tokenizers)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["state_dict"][name].view(-1)[5] = value
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(NonFiniteError, match=rf"checkpoint '.*m.pt': weight '{name}' holds 1 (NaN|inf) among [\d,]+ "
                                             rf"values, the first at index {index}\. Usual causes: a training run "
                                             r"that diverged"):
        load_checkpoint(tmp_path / "m.pt")


def test_a_model_with_a_non_finite_weight_is_not_saved(tmp_path):
    model, tokenizers = small_model()
    with torch.no_grad():
        model.decoder.layers[0].feed_forward.w_2.bias[3] = float("nan")
        model.decoder.layers[1].feed_forward.w_2.bias[3] = float("nan")
    with pytest.raises(NonFiniteError, match=r"not saving a model that load_checkpoint would refuse: weight "
                                             r"'decoder.layers.0.feed_forward.w_2.bias' holds 1 NaN among 32 values, "
                                             r"the first at index \(3,\) \(and 1 more tensors: "
                                             r"\['decoder.layers.1.feed_forward.w_2.bias'\]\)"):
        save_checkpoint(tmp_path / "m.pt", model, tokenizers=tokenizers)
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_missing_files_and_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError):
        load_checkpoint(42)


def test_save_rejects_bad_inputs(tmp_path):
    model, tokenizers = small_model()
    path = tmp_path / "m.pt"
    bad_calls = [
        dict(model=torch.nn.Linear(2, 2), tokenizers=tokenizers),
        dict(model=model, tokenizers=None),
        dict(model=model, tokenizers=(tokenizers[0],)),
        dict(model=model, tokenizers=(CharTokenizer.train("abc"), CharTokenizer.train("abc"))),  # wrong sizes
        dict(model=model, tokenizers=tokenizers, config=model.config.replace(d_ff=8)),
        dict(model=model, tokenizers=tokenizers, extra={"model": model}),  # not plain data
        dict(model=model, tokenizers=tokenizers, extra=[1, 2]),
        dict(model=model, tokenizers=tokenizers, extra={"torch": torch.__version__}),  # a str subclass
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            save_checkpoint(path, **call)
    assert not path.exists()


# --- the shipped dates model (chapter 13) ---------------------------------------------------------------

def test_shipped_dates_checkpoint_loads_safely_and_scores_at_least_99_percent():
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert SHIPPED.stat().st_size < 5_000_000
    torch.load(SHIPPED, weights_only=True)
    model, tokenizers, extra = load_checkpoint(SHIPPED)
    # (a file written before bos_id, eos_id and ffn_dropout existed records no value for them: the defaults)
    assert extra["steps"] == record["steps"] and model.config == TransformerConfig.from_dict(record["config"])
    _, held_out = make_dataset("dates", 1, record["n_test"], seed=record["data_seed"])
    assert len(held_out) == 1000
    assert exact_match(model, held_out, *tokenizers) >= 0.99


def test_shipped_dates_checkpoint_never_saw_its_held_out_dates():
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    train_pairs, held_out = make_dataset("dates", record["n_train"], record["n_test"], seed=record["data_seed"],
                                         short_days=record.get("short_days"))
    assert not {target for _, target in held_out} & {target for _, target in train_pairs}


def independent_dates(per_cell: int, seed: int) -> list[tuple[str, str, str, int, int]]:
    """(source, target, format, day, month): for every format and every day of the month 1-31, `per_cell`
    dates with that day, year and month drawn at random. Written by tests/dates_by_hand.py, not with
    transformer_edu.data, so a bug in the package's own generator cannot hide here."""
    rng, rows = random.Random(seed), []
    for template in BY_HAND:
        for d in range(1, 32):
            for _ in range(per_cell):
                while True:
                    year, month = rng.randint(1900, 2099), rng.randint(1, 12)
                    if d <= calendar.monthrange(year, month)[1]:
                        break
                rows.append((written_by_hand(date(year, month, d), template), f"{year:04d}-{month:02d}-{d:02d}",
                             template, d, month))
    return rows


def test_shipped_dates_checkpoint_has_no_blind_spot_in_any_format_day_or_month():
    """At least 99% exact match in each of the seven formats, for each day of the month and for each month, on
    fresh dates: an average over all dates can hide a kind of date the model gets wrong (issue 11: the model
    shipped before December 2026 scored 99.7% overall but read "1 Sep 2039" as 2039-09-11)."""
    model, tokenizers, _ = load_checkpoint(SHIPPED)
    rows = independent_dates(per_cell=20, seed=2026)  # 7 x 31 x 20 = 4,340 dates
    outputs = predict(model, [row[0] for row in rows], *tokenizers)
    right, total = Counter(), Counter()
    for (source, target, name, d, month), output in zip(rows, outputs):
        for key in (("format", name), ("day", d), ("month", month)):
            total[key] += 1
            right[key] += output == target
    below = {key: f"{right[key]}/{total[key]}" for key in total if right[key] < 0.99 * total[key]}
    assert not below, f"slices below 99%: {below}"
    assert len(total) == 7 + 31 + 12


# --- the shipped character-level GPT (chapter 15) -------------------------------------------------------

SHIPPED_GPT = SHIPPED.with_name("shakespeare.pt")


def test_shipped_gpt_checkpoint_loads_safely_with_its_tokenizer_and_config():
    record = json.loads(SHIPPED_GPT.with_suffix(".json").read_text())
    assert SHIPPED_GPT.stat().st_size < 5_000_000
    torch.load(SHIPPED_GPT, weights_only=True)  # tensors and plain containers only
    model, (tokenizer, same), extra = load_checkpoint(SHIPPED_GPT)
    assert isinstance(model, GPT) and tokenizer == same and not model.training
    assert model.config == GPTConfig.from_dict(record["config"]) and extra["steps"] == record["steps"]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    train_text, validation_text = split_text(shakespeare_text())
    assert tokenizer == CharTokenizer.train(train_text)  # rebuilt from the training part: the same ids
    assert tokenizer.decode(tokenizer.encode(validation_text[:5000])) == validation_text[:5000]
    assert record["n_validation_tokens"] == len(validation_text)


def test_shipped_gpt_checkpoint_reaches_its_recorded_validation_loss():
    """Every character of the first 65,536 of the validation text scored again (the whole text takes about a
    minute): the recorded figure, and a loss below the 2.0 nats per character the book aims at."""
    record = json.loads(SHIPPED_GPT.with_suffix(".json").read_text())
    model, (tokenizer, _), _ = load_checkpoint(SHIPPED_GPT)
    _, validation_text = split_text(shakespeare_text())
    n_scored, recorded = record["validation_loss_first_tokens"]
    ids = encode_corpus(validation_text[:n_scored + 1], tokenizer)
    loss = lm_loss(model, ids, record["training"]["block_size"])
    assert loss == pytest.approx(recorded, abs=1e-4)
    assert record["validation_loss"] <= 2.0 and loss <= 2.0
