"""benchmarks/: every script that runs a model takes --device, says which device it ran on, and stops with a clear
message, before any work, when it is asked for a GPU this machine does not have."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# script -> the arguments it needs besides --device (forward_path.py compares two package directories)
SCRIPTS = {
    "copy_task.py": [], "time_to_accuracy.py": [], "kv_cache.py": [], "generation.py": [],
    "forward_path.py": [".", "."], "train_step.py": [], "gpt_shakespeare.py": [], "gpt_vs_torch.py": [],
    "since_2017.py": [], "date_recipes.py": [], "matmul_peak.py": [],
}


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_missing_gpu_is_a_clear_error(script, tmp_path):
    out = run_benchmark(script, *SCRIPTS[script], "--device", "cuda",
                        *(["--out", str(tmp_path / "out")] if script == "date_recipes.py" else []))
    assert out.returncode != 0, out.stdout
    assert "no CUDA GPU" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "out").exists()  # date_recipes.py stopped before making its checkpoint folder


def test_a_run_names_its_device():
    out = run_benchmark("kv_cache.py", "--device", "cpu", "--tokens", "4", "--src-len", "4", "--repeats", "1",
                        "--vocab", "20")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("on the CPU ("), out.stdout
    assert out.stdout.count("True") == 2  # one row per model, with and without the cache giving the same tokens
