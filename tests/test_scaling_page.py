"""book/scaling.md quotes benchmarks/scaling.py: the counted work and its ratio to the paper's estimate must be
what the script computes from transformer_edu.flops (the measured speed of this machine is not quoted)."""
from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _scaling():
    spec = importlib.util.spec_from_file_location("scaling", ROOT / "benchmarks" / "scaling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _latex(x: float) -> str:
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"


def test_the_page_quotes_the_scripts_numbers():
    scaling = _scaling()
    page = (ROOT / "book" / "scaling.md").read_text(encoding="utf-8")
    models = scaling.work()
    for name, m in models.items():
        assert _latex(m["flops_per_step"]) in page, (name, _latex(m["flops_per_step"]))
        assert _latex(m["total_flops"]) in page, (name, _latex(m["total_flops"]))
        assert f"{m['counted_over_paper']:.2f}" in page
    assert "63.1 million" in page and f"{models['base']['parameters'] / 1e6:.1f} million" == "63.1 million"
    assert f"{models['big']['parameters'] / 1e6:.0f} million" == "214 million"
    for label, peak in scaling.DEVICES.items():
        times = {name: m["total_flops"] / (peak * scaling.UTILIZATION) for name, m in models.items()}
        row = next(line for line in page.splitlines() if line.startswith(f"| {label.split(' (')[0]}"))
        assert scaling.days(times["base"]) in row and scaling.days(times["big"]) in row, (row, times)


def test_the_documented_base_command_builds_the_base_model(tmp_path):
    """The page's eight-GPU command, taken from the page, run for one small step on the CPU: its options exist
    and give the paper's base shapes (Table 3: d_model 512, h 8, N 6, d_ff 2048, dropout 0.1, warm-up 4000)."""
    train_cli = importlib.import_module("transformer_edu.train")  # the package's `train` is the function
    page = (ROOT / "book" / "scaling.md").read_text(encoding="utf-8")
    command = re.search(r"^(torchrun --standalone --nproc_per_node=8 .*?)\n```", page, re.M | re.S)[1]
    words = shlex.split(command.replace("\\\n", " "))
    args = words[words.index("transformer_edu.train") + 1:]
    small = {"--device": "cpu", "--steps": "1", "--batch-size": "8", "--n-train": "64",
             "--out": str(tmp_path / "base.pt")}
    for option, value in small.items():
        args[args.index(option) + 1] = value
    record = train_cli.main(args + ["--n-test", "4", "--no-progress"])
    config = record["config"]
    assert (config["d_model"], config["n_heads"], config["n_encoder_layers"], config["n_decoder_layers"],
            config["d_ff"], config["dropout"]) == (512, 8, 6, 6, 2048, 0.1)
    assert record["training"]["warmup_steps"] == 4000 and record["training"]["lr_factor"] == 1
