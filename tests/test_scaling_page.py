"""book/scaling.md quotes benchmarks/scaling.py: the counted work and its ratio to the paper's estimate must be
what the script computes from transformer_edu.flops (the measured speed of this machine is not quoted)."""
from __future__ import annotations

import importlib.util
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
