"""What one forward pass runs, and what checking its inputs costs: two versions of the package side by side.

For the small preset (d_model 64, 4 heads, 2 + 2 layers) this reports, for each package directory given:
  - the package files and the distinct source lines that one Transformer forward pass executes (traced
    with sys.settrace), and the total length of those files;
  - the validation calls in that forward pass: calls of the package's functions whose name starts with
    "check" or "_check" (counted per name), apart from `checked`, the wrapper checks.checked_by puts around
    a module's forward (counted on its own: it reads one context variable and, inside a model, skips the check);
  - the time of cached greedy decoding at batch 1 (a 12-token source, 40 tokens generated, EOS ignored)
    and of one training step (batch 128 of 12-token pairs: forward, loss, backward, Adam), on one thread.
Timings run in child processes that alternate between the versions (A B A B ...), so a change in machine
load hits both alike; each child reports the median of its repeats, and the table the median over rounds.
Untrained models with fixed seeds: the timing does not depend on what the weights have learned.
--device (default auto: a GPU if PyTorch sees one, else the CPU) chooses where the children run the model; each
timed run waits for the device to finish, with the synchronize of the version under test (a version from before
transformer_edu/devices.py runs on the CPU only).

    git worktree add /tmp/before <commit>          # the version to compare with
    .venv/bin/python benchmarks/forward_path.py /tmp/before .
    .venv/bin/python benchmarks/forward_path.py /tmp/before . --device cuda
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def child(package_dir: str, what: str, repeats: int, device_name: str) -> dict:
    """Runs inside a fresh interpreter whose transformer_edu is the one in `package_dir`, on the device the
    parent resolved."""
    sys.path.insert(0, package_dir)
    import torch

    import transformer_edu as te
    root = str(Path(te.__file__).parent)
    assert root.startswith(str(Path(package_dir).resolve())), root
    device = torch.device(device_name)
    try:
        from transformer_edu.devices import synchronize  # the version under test's own
    except ImportError:  # a version from before devices.py, written for the CPU only
        if device.type != "cpu":
            raise SystemExit(f"{package_dir}: this transformer_edu has no devices.py (it predates running on a GPU); "
                             f"compare it with --device cpu") from None
        synchronize = lambda device: None  # noqa: E731 (the CPU has nothing to wait for)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = te.Transformer(te.TransformerConfig.small(vocab_size=40, dropout=0.1)).to(device)
    src = torch.randint(3, 40, (1, 12), device=device)
    if what == "trace":
        lines, calls = set(), Counter()
        batch_src = torch.randint(3, 40, (8, 12), device=device)
        batch_tgt = torch.randint(3, 40, (8, 12), device=device)

        def tracer(frame, event, arg):
            code = frame.f_code
            if not code.co_filename.startswith(root):
                return None
            if event == "call" and code.co_name.lstrip("_").startswith("check"):
                calls["checked_by wrapper" if code.co_name == "checked" else code.co_name] += 1
            lines.add((code.co_filename, frame.f_lineno))
            return tracer

        model.eval()
        with torch.no_grad():
            sys.settrace(tracer)
            model(batch_src, batch_tgt)
            sys.settrace(None)
        files = sorted({f for f, _ in lines})
        return {"files": [os.path.relpath(f, root) for f in files], "lines_run": len(lines),
                "file_lines": sum(len(Path(f).read_text().splitlines()) for f in files), "checks": dict(calls)}
    if what == "decode":
        model.eval()
        run = lambda: te.greedy_decode(model, src, max_len=40, stop_at_eos=False)  # noqa: E731
    else:
        from transformer_edu.training import LabelSmoothingLoss, make_optimizer
        src_b, tgt = torch.randint(3, 40, (128, 12), device=device), torch.randint(3, 40, (128, 13), device=device)
        loss_fn, (optimizer, scheduler) = LabelSmoothingLoss(0.1), make_optimizer(model, warmup_steps=100)

        def run():
            model.train()
            loss = loss_fn(model(src_b, tgt[:, :-1]), tgt[:, 1:])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    for _ in range(3):
        run()  # warm-up, not timed
    times = []
    for _ in range(repeats):
        synchronize(device)  # a GPU runs asynchronously: wait for it before each clock read
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times)}


def in_child(package_dir: str, what: str, repeats: int, device: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", package_dir, what, str(repeats), device],
                         capture_output=True, text=True, cwd="/")
    if out.returncode != 0:
        raise SystemExit(f"the child process for {package_dir} ({what}) failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", nargs=2, help="two directories holding a transformer_edu package")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="auto", help="auto (a GPU if there is one, else the CPU), cpu, cuda, "
                                                         "cuda:N or mps")
    args = parser.parse_args()
    # imported here, not at the top: a child imports the transformer_edu of the directory it measures
    import torch

    from transformer_edu.devices import describe, parsed_device
    device = parsed_device(parser, args)
    torch.set_num_threads(1)  # as in every child, so that describe() reports it
    dirs = [str(Path(p).resolve()) for p in args.packages]
    print(f"on {describe(device)}: torch threads 1, ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY')!r}, "
          f"MKL_CBWR={os.environ.get('MKL_CBWR')!r}")
    for d in dirs:
        t = in_child(d, "trace", 1, str(device))
        print(f"\n{d}: one forward pass runs {t['lines_run']} distinct lines in {len(t['files'])} files "
              f"({t['file_lines']} lines in all)\n  files: {', '.join(t['files'])}\n"
              f"  validation calls: {sum(n for k, n in t['checks'].items() if k != 'checked_by wrapper')}  "
              + ", ".join(f"{name} {n}" for name, n in sorted(t['checks'].items(), key=lambda kv: -kv[1])))
    results = {(d, what): [] for d in dirs for what in ("decode", "train")}
    for _ in range(args.rounds):
        for what in ("decode", "train"):
            for d in dirs:  # alternating: A B A B ...
                repeats = args.repeats if what == "decode" else args.repeats // 3
                results[d, what].append(in_child(d, what, repeats, str(device))["seconds"])
    print("\nmedian over rounds (ms)       " + "  ".join(f"{Path(d).name or d:>14}" for d in dirs))
    for what, label in (("decode", "greedy decoding, batch 1, 40 tokens, cached"),
                        ("train", "training step, batch 128")):
        print(f"{label:45s}" + "  ".join(f"{1000 * statistics.median(results[d, what]):14.2f}" for d in dirs))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])))
    else:
        main()
