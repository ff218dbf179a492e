"""The write-it-yourself track (transformer_edu.track): the skeleton, the grader's diagnostics of typical bugs,
and the reference package passing every check and the capstone, all through the real command line."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from transformer_edu.track import COMPONENTS, grade, init
from transformer_edu.track.grader import MODULES, PACKAGE

ROOT = Path(__file__).resolve().parents[1]

# A learner's package that re-exports the book's own parts: correct everywhere, until a bug is appended.
CORRECT = {
    "positional_encoding": "from transformer_edu.positional_encoding import PositionalEncoding, sinusoidal_table",
    "attention": "from transformer_edu.attention import scaled_dot_product_attention",
    "masks": "from transformer_edu.masks import causal_mask, padding_mask, target_mask",
    "kv_cache": "from transformer_edu.kv_cache import AttentionCache, KVCache",
    "multi_head_attention": "from transformer_edu.multi_head_attention import MultiHeadAttention",
    "feed_forward": "from transformer_edu.feed_forward import PositionwiseFeedForward",
    "encoder": "from transformer_edu.encoder import Encoder, EncoderLayer",
    "decoder": "from transformer_edu.decoder import Decoder, DecoderLayer",
    "model": "from transformer_edu.model import Transformer",
    "training": "from transformer_edu.data import teacher_forcing\nfrom transformer_edu.training import noam_lr",
    "label_smoothing": "from transformer_edu.label_smoothing import LabelSmoothingLoss",
    "decoding": "from transformer_edu.decoding import greedy_decode",
    "beam": "from transformer_edu.beam import beam_search",
}

# (component, module, code appended to the correct module, words the diagnostic must contain)
BUGS = {
    "missing sqrt(d_k)": ("attention", "attention", """
import torch
def scaled_dot_product_attention(q, k, v, mask=None, dropout=None):
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, -1)
    if mask is not None:
        w = w.masked_fill(~mask.any(-1, keepdim=True), 0.0)
    return w @ v, w
""", "not divided by sqrt(d_k)"),
    "inverted mask": ("attention", "attention", """
import math, torch
def scaled_dot_product_attention(q, k, v, mask=None, dropout=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    w = torch.softmax(scores, -1)
    return w @ v, w
""", "the mask is inverted"),
    "softmax over the wrong axis": ("attention", "attention", """
import math, torch
def scaled_dot_product_attention(q, k, v, mask=None, dropout=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, -2)
    return w @ v, w
""", "each column sums to 1"),
    "heads split in the wrong order": ("multi-head-attention", "multi_head_attention", """
from transformer_edu.multi_head_attention import MultiHeadAttention as Base
class MultiHeadAttention(Base):
    def split_heads(self, x):
        b, length, _ = x.shape
        return x.reshape(b, -1, length, self.d_k)
""", "split in the wrong order"),
    "post-LN and pre-LN swapped": ("encoder-layer", "encoder", """
from transformer_edu.encoder import EncoderLayer as Base
class EncoderLayer(Base):
    def forward(self, x, mask=None):
        order = self.post_ln if self.norm_first else self.pre_ln
        return order(x, mask, None, None, None)[0]
""", "post-LN and pre-LN are swapped"),
    "teacher-forcing shift off by one": ("teacher-forcing", "training", """
import torch
def teacher_forcing(targets, bos_id, eos_id, pad_id):
    n = max(len(t) for t in targets)
    tgt_in = [[bos_id] + t + [pad_id] * (n - len(t)) for t in targets]
    tgt_out = [t[1:] + [eos_id] + [pad_id] * (n - len(t)) for t in targets]
    return torch.tensor(tgt_in), torch.tensor(tgt_out)
""", "off by one"),
    "beam search without the length penalty": ("beam-search", "beam", """
from transformer_edu.beam import beam_search as book_beam_search
def beam_search(model, src_ids, max_len, beam_size=4, length_penalty=0.6):
    return book_beam_search(model, src_ids, max_len, beam_size, length_penalty=0.0)
""", "length penalty"),
    "a cache that appends keys twice": ("kv-cache", "kv_cache", """
import torch
from transformer_edu.kv_cache import AttentionCache as Base
class AttentionCache(Base):
    def add(self, k, v):
        if self.k is not None and not self.static:
            k = torch.cat([self.k, k, k], dim=2)
            v = torch.cat([self.v, v, v], dim=2)
        self.k, self.v = k, v
        return k, v
""", "appended twice"),
    "positional encoding with sin and cos swapped": ("positional-encoding", "positional_encoding", """
import torch
def sinusoidal_table(max_len, d_model):
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    table = torch.empty(max_len, d_model, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = torch.cos(angle), torch.sin(angle)
    return table.float()
""", "sin and cos are swapped"),
}


def _package(folder: Path, bug: tuple | None = None) -> Path:
    package = folder / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A test learner."""\n')
    for module in MODULES:
        code = CORRECT[module] + "\n"
        if bug is not None and bug[1] == module:
            code += bug[2]
        (package / f"{module}.py").write_text(code)
    return folder


def _track(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "transformer_edu.track", *args], cwd=cwd, capture_output=True,
                          text=True)


def test_every_component_points_to_a_real_section():
    for component in COMPONENTS:
        path = next(ROOT.joinpath("chapters").glob(f"{component.chapter:02d}_*.ipynb"))
        headings = [line.lstrip("#").strip() for cell in json.loads(path.read_text())["cells"]
                    if cell["cell_type"] == "markdown" for line in "".join(cell["source"]).splitlines()
                    if re.match(r"#{2,3} ", line)]
        assert component.section in headings, f"{component.key}: no section {component.section!r} in {path.name}"


def test_each_chapter_names_the_parts_it_builds_and_how_to_grade_them():
    for chapter in sorted({c.chapter for c in COMPONENTS}):
        path = next(ROOT.joinpath("chapters").glob(f"{chapter:02d}_*.ipynb"))
        cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
        section = [text for text in cells if text.startswith("## Write it yourself")]
        assert len(section) == 1, f"{path.name}: expected one '## Write it yourself' section"
        for component in (c for c in COMPONENTS if c.chapter == chapter):
            for name in component.names:
                assert f"`{name}`" in section[0], f"{path.name}: the section does not name {name}"
        assert f"python -m transformer_edu.track grade DIR --upto {chapter}" in section[0]


def test_upto_grades_the_parts_of_earlier_chapters_only(tmp_path):
    folder = _package(tmp_path)
    (folder / PACKAGE / "model.py").write_text("raise ImportError('not written yet')\n")
    done = _track("grade", str(folder), "--upto", "9")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 9 passed. (parts up to chapter 9; no capstone)" in done.stdout
    assert "the full model" not in done.stdout
    assert _track("grade", str(folder), "--upto", "10").returncode == 1
    with pytest.raises(ValueError, match="upto must be a chapter number"):
        grade(folder, upto=0, out=lambda *_: None)


def test_skeleton_says_where_each_part_is_built(tmp_path):
    done = _track("init", str(tmp_path))
    assert done.returncode == 0, done.stderr
    graded = _track("grade", str(tmp_path), "--no-capstone")
    assert graded.returncode == 1
    results = grade(tmp_path, with_capstone=False, out=lambda *_: None)
    started = [r for r in results if r.status != "waiting"]
    assert started and all(r.status == "not started" for r in started), [(r.key, r.status) for r in started]
    for r in started:
        component = next(c for c in COMPONENTS if c.key == r.key)
        assert r.message == f"not implemented yet: see chapter {component.chapter}, section '{component.section}'"
    assert "First to fix: positional encoding (chapter 4)" in graded.stdout
    again = _track("init", str(tmp_path))
    assert again.returncode == 2 and "never overwritten" in again.stderr


def test_a_correct_learner_package_passes_every_part(tmp_path):
    results = grade(_package(tmp_path), with_capstone=False, out=lambda *_: None)
    assert [r.key for r in results if not r.passed] == []
    assert len(results) == len(COMPONENTS)


@pytest.mark.parametrize("bug", list(BUGS), ids=lambda b: b.replace(" ", "-"))
def test_each_typical_bug_gets_its_diagnostic(tmp_path, bug):
    key, module, code, words = BUGS[bug]
    results = {r.key: r for r in grade(_package(tmp_path, (key, module, code)), with_capstone=False,
                                       out=lambda *_: None)}
    assert results[key].status == "not yet", (results[key].status, results[key].message)
    assert words in results[key].message, results[key].message
    assert all(r.passed for k, r in results.items() if k != key and r.status != "waiting")


def test_a_package_that_does_not_import_is_reported(tmp_path):
    folder = _package(tmp_path)
    (folder / PACKAGE / "masks.py").write_text("def padding_mask(:\n")
    results = {r.key: r for r in grade(folder, with_capstone=False, out=lambda *_: None)}
    assert results["masks"].status == "error" and "could not be imported" in results["masks"].message
    assert results["multi-head-attention"].status == "waiting"


def test_grade_needs_a_package_or_the_reference(tmp_path):
    assert "no package mytransformer/" in _track("grade", str(tmp_path)).stderr
    assert "not both" in _track("grade", str(tmp_path), "--reference").stderr


@pytest.mark.slow
def test_the_reference_passes_with_the_capstone():
    """The book's own package through the real command: every part and the capstone (the date model trained by
    the book's loop reaches >= 99% exact match on 1,000 held-out dates)."""
    done = _track("grade", "--reference")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"capstone: dates\s+11\s+passed", done.stdout)
    assert f"all {len(COMPONENTS) + 1} passed." in done.stdout
