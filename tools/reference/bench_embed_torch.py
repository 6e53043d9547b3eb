#!/usr/bin/python3
"""bench_embed_torch.py: PyTorch (CPU, float32) inference throughput of the causal model's two
encoders, the work tools/bench_nn_embed.c measures, with the same configuration, batch and threads.

  /usr/bin/python3 tools/reference/bench_embed_torch.py [--threads N] [--batch B] [--batches K] [--repeats R]

The encoders are those of nn_reference.py (which the C engine matches to 1e-6) with
torch.nn.LSTM (PyTorch's fused implementation, its fastest) and float32 weights, run under
torch.inference_mode() (no autograd bookkeeping) without dropout. Each repeat times K calls of
both encoders on B windows of 100 valid points after one warm-up call. Prints
"RESULT embed lc_per_s=<median light curves/s> per_core=<that / N> per_cpu_s=<per CPU second>".
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_reference as R  # noqa: E402
import torch  # noqa: E402
from bench_torch import Box, to_f32  # noqa: E402

# The paper's encoder, as in tools/bench_nn.c and bench_torch.py.
CONFIG = dict(d=64, heads=4, ff=128, blocks=4, kernel=31, latent=20, T=100)


def build_encoders():
    torch.set_default_dtype(torch.float64)
    registered = []
    for pre in ("stellar", "instrument"):
        P = R.Params()
        R.register_causal(P, pre, CONFIG)
        registered.append((pre, P))
    torch.set_default_dtype(torch.float32)
    params = {}
    for _pre, P in registered:
        params.update(to_f32(P))
    for p in params.values():
        p.requires_grad_(False)
    lstms = {pre: torch.nn.LSTM(CONFIG["d"], CONFIG["d"], batch_first=True).eval() for pre, _P in registered}
    return Box(params), lstms


def encode(P, lstms, pre, times, values, mask):
    d = CONFIG["d"]
    x = R.time_encoding(times, d) + values[..., None] * P[pre + ".embed.w"] + P[pre + ".embed.b"]
    for i in range(CONFIG["blocks"]):
        x = R.conformer(x, P, f"{pre}.block{i}", mask, d, CONFIG["heads"], CONFIG["kernel"])
    h, _ = lstms[pre](x)
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1).clamp(min=1.0)[:, None]
    return R.linear(pooled, P, pre + ".head")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    B, T = a.batch, CONFIG["T"]
    P, lstms = build_encoders()
    times = torch.arange(T, dtype=torch.float32).repeat(B, 1)
    values = 0.5 * torch.sin(0.1 * times * (1 + torch.arange(B)[:, None] % 7)) + 0.03 * torch.randn(B, T)
    mask = torch.ones(B, T)
    rates, cpu_rates = [], []
    with torch.inference_mode():
        z = [encode(P, lstms, pre, times, values, mask) for pre in ("stellar", "instrument")]  # warm-up
        for _ in range(a.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(a.batches):
                z = [encode(P, lstms, pre, times, values, mask) for pre in ("stellar", "instrument")]
            rates.append(B * a.batches / (time.perf_counter() - t0))
            cpu_rates.append(B * a.batches / (time.process_time() - c0))
    assert all(torch.isfinite(x).all() for x in z)
    rate, cpu_rate = statistics.median(rates), statistics.median(cpu_rates)
    print(f"torch causal embed: 2 encoders, {B} windows of {T} per call, {torch.get_num_threads()} threads "
          f"(torch {torch.__version__}): {rate:.0f} light curves/s (median of {a.repeats} repeats of {a.batches} "
          f"calls, range {min(rates):.0f}-{max(rates):.0f}), {rate / a.threads:.0f} per core, "
          f"{cpu_rate:.0f} per CPU second")
    print(f"RESULT embed lc_per_s={rate:.3f} per_core={rate / a.threads:.3f} per_cpu_s={cpu_rate:.3f} "
          f"threads={a.threads} batch={B}")


if __name__ == "__main__":
    main()
