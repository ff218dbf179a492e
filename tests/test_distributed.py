"""Training with several processes (training.py, train.py): torchrun, DistributedDataParallel, gloo on the CPU.

Two processes, each with its share of every batch, must give the model that one process gives on the whole
batches. Adam divides each gradient by its own running size, so a gradient that is zero up to rounding can
move a weight by a whole learning-rate step either way; the comparison therefore trains with plain SGD (the
gradients themselves must agree), and checks the command line's Adam run by its losses.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from transformer_edu.config import TransformerConfig
from transformer_edu.data import build_tokenizers, make_batch, make_dataset
from transformer_edu.lm_data import LMBatch
from transformer_edu.model import Transformer
from transformer_edu.training import shard_batch, train

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
STEPS = 4


def _setup():
    """The same model and the same ready batches in every process (seeded), with dropout off."""
    pairs, _ = make_dataset("copy", 96, 1, seed=0)
    tokenizers = build_tokenizers("copy")
    config = TransformerConfig.small(src_vocab_size=tokenizers[0].vocab_size,
                                     tgt_vocab_size=tokenizers[1].vocab_size, dropout=0.0, max_len=64)
    torch.manual_seed(0)
    model = Transformer(config).double()
    batches = [make_batch(pairs[i:i + 24], *tokenizers) for i in range(0, 96, 24)]
    return model, batches


def _train(model, batches):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    return train(model, batches, steps=STEPS, optimizer=optimizer, scheduler=None, progress=False)


WORKER = """
import sys, json, torch
sys.path.insert(0, {tests!r})
from test_distributed import _setup, _train
torch.set_default_dtype(torch.float64)
model, batches = _setup()
history = _train(model, batches)
rank = torch.distributed.get_rank()
if rank == 0:
    torch.save(model.state_dict(), {out!r})
    json.dump(history["train_loss"], open({losses!r}, "w"))
"""


def _env():
    return {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_two_processes_give_what_one_process_gives_on_the_whole_batches(tmp_path):
    script = tmp_path / "worker.py"
    out, losses = tmp_path / "two.pt", tmp_path / "losses.json"
    script.write_text(textwrap.dedent(WORKER).format(tests=str(Path(__file__).parent), out=str(out),
                                                      losses=str(losses)))
    bootstrap = tmp_path / "run.py"  # the process group is made here, as train.py's command line does
    bootstrap.write_text("import torch.distributed as dist, runpy, sys\n"
                         "dist.init_process_group('gloo')\n"
                         f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
                         "dist.destroy_process_group()\n")
    done = subprocess.run([*TORCHRUN, str(bootstrap)], capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    torch.set_default_dtype(torch.float64)
    try:
        model, batches = _setup()
        history = _train(model, batches)
    finally:
        torch.set_default_dtype(torch.float32)
    two = torch.load(out, weights_only=True)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(two[name], value, rtol=0, atol=1e-10, msg=name)
    assert json.loads(losses.read_text()) == pytest.approx(history["train_loss"], abs=1e-12)


@pytest.mark.slow
def test_torchrun_command_line_writes_one_checkpoint_from_rank_0(tmp_path):
    """The documented command as it is: two CPU processes, gloo, one checkpoint and its record."""
    command = [*TORCHRUN, "-m", "transformer_edu.train", "--task", "copy", "--steps", "50", "--out",
               str(tmp_path / "copy.pt")]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.json", "copy.pt"]
    record = json.loads((tmp_path / "copy.json").read_text())
    assert record["world_size"] == 2 and record["device"] == "cpu" and record["steps"] == 50
    assert 0 <= record["held_out_exact_match"] <= 1  # rank 0 evaluates; the other rank skips it
    assert done.stdout.count("saved ") == 1 and "2 processes (torchrun)" in done.stdout
    uniform = math.log(build_tokenizers("copy")[1].vocab_size)  # the loss of a model that guesses uniformly
    assert record["final_train_loss"] < uniform  # it learned something in 50 steps


def test_shard_batch_splits_rows_and_keeps_the_tokens():
    pairs, _ = make_dataset("copy", 10, 1, seed=0)
    batch = make_batch(pairs, *build_tokenizers("copy"))
    shares = [shard_batch(batch, rank, 3) for rank in range(3)]
    assert [len(s) for s in shares] == [4, 3, 3]
    assert sum(s.n_tokens for s in shares) == batch.n_tokens
    torch.testing.assert_close(shares[1].src, batch.src[1::3])
    lm = LMBatch(torch.arange(12).view(4, 3), torch.arange(1, 13).view(4, 3))
    torch.testing.assert_close(shard_batch(lm, 1, 2).inputs, lm.inputs[1::2])
    with pytest.raises(ValueError, match="a batch of 10 rows cannot be shared by 11 processes"):
        shard_batch(batch, 0, 11)
    with pytest.raises(ValueError, match="rank"):
        shard_batch(batch, 3, 3)
