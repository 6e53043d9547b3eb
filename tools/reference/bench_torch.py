#!/usr/bin/python3
"""bench_torch.py: PyTorch (CPU, float32) training-step times for the models tools/bench_nn.c
measures, with the same configuration, batch, loss and thread count.

  /usr/bin/python3 tools/reference/bench_torch.py [--threads N] [--steps S] [--model causal|astromer|both]

The model definitions are those of nn_reference.py (which the C engine matches to 1e-6), except
that the LSTM is torch.nn.LSTM (PyTorch's fused implementation, the fastest it offers) and weights
are float32. Dropout is off on both sides. Prints "RESULT <model> ms=<median ms/step>
cpu_ms=<median process CPU ms/step>" (CPU time moves less than wall time on a loaded machine).
"""
import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_reference as R  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_default_dtype(torch.float32)


def to_f32(P):
    params = {}
    for name, _shape, _off, _sc in P.spec:
        params[name] = P.t[name].detach().float().clone().requires_grad_(True)
    return params


class Box:
    def __init__(self, d):
        self.t = d

    def __getitem__(self, k):
        return self.t[k]


def infonce(z, key, tau):
    u = F.normalize(z, dim=1)
    s = u @ u.t() / tau
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    s = s.masked_fill(eye, float("-inf"))
    logp = s - torch.logsumexp(s, dim=1, keepdim=True)
    pos = (key[:, None] == key[None, :]) & ~eye
    npos = pos.sum(1)
    anchors = npos > 0
    li = (logp.masked_fill(~pos, 0.0).sum(1) / npos.clamp(min=1))[anchors]
    return -li.mean()


def bench_causal(steps):
    cc = dict(d=64, heads=4, ff=128, blocks=4, kernel=31, latent=20, T=100, B=192)
    B, T, d = cc["B"], cc["T"], cc["d"]
    torch.set_default_dtype(torch.float64)
    Ps = []
    for pre in ("stellar", "instrument"):
        P = R.Params()
        R.register_causal(P, pre, cc)
        Ps.append((pre, P))
    torch.set_default_dtype(torch.float32)
    params = {}
    for _pre, P in Ps:
        params.update(to_f32(P))
    lstms = {}
    for pre, _P in Ps:
        m = torch.nn.LSTM(d, d, batch_first=True)
        lstms[pre] = m
    star = torch.tensor([k if j < 2 else 2000 + k for k in range(64) for j in range(3)])
    instr = torch.tensor([k if j != 1 else 1000 + k for k in range(64) for j in range(3)])
    times = torch.arange(T, dtype=torch.float32).repeat(B, 1)
    values = 0.5 * torch.sin(0.1 * times * (1 + (star[:, None] % 7)))
    mask = torch.ones(B, T)
    allp = list(params.values()) + [p for m in lstms.values() for p in m.parameters()]
    opt = torch.optim.Adam(allp, lr=1e-3)
    P = Box(params)

    def encoder(pre):
        x = R.time_encoding(times, d) + values[..., None] * P[pre + ".embed.w"] + P[pre + ".embed.b"]
        for i in range(cc["blocks"]):
            x = R.conformer(x, P, f"{pre}.block{i}", mask, d, cc["heads"], cc["kernel"])
        h, _ = lstms[pre](x)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1).clamp(min=1.0)[:, None]
        return R.linear(pooled, P, pre + ".head")

    ms, cpu = [], []
    for s in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=False)
        loss = infonce(encoder("stellar"), star, 0.1) + infonce(encoder("instrument"), instr, 0.1)
        loss.backward()
        opt.step()
        ms.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(ms[1:]), statistics.median(cpu[1:]), float(loss)


def bench_astromer(steps):
    ac = dict(d=256, heads=4, ff=128, blocks=6, residual=0, T=200, B=32)
    B, T = ac["B"], ac["T"]
    torch.set_default_dtype(torch.float64)
    Q = R.Params()
    R.register_astromer(Q, "astromer", ac)
    torch.set_default_dtype(torch.float32)
    params = to_f32(Q)
    P = Box(params)
    g = torch.Generator().manual_seed(6)
    times = (torch.arange(B * T, dtype=torch.float32) % T).reshape(B, T) * 0.37
    target = 0.3 * torch.sin(times) + 0.05 * torch.randn(B, T, generator=g)
    err = 0.02 + 0.05 * torch.rand(B, T, generator=g)
    valid = torch.ones(B, T)
    u = torch.rand(B, T, generator=g)
    probed = (u < 0.5).float()
    replace = (u < 0.3).float()
    values = torch.where(replace != 0, torch.zeros_like(target), target)
    e = 1.0 / err
    lo, hi = e.min(1, keepdim=True).values, e.max(1, keepdim=True).values
    weight = (e - lo) / (hi - lo) + 1e-3
    opt = torch.optim.Adam(list(params.values()), lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    ms, cpu = [], []
    for s in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=False)
        pred = R.astromer(P, "astromer", ac, times, values, valid, replace)
        r = (weight * probed * (pred - target) ** 2).sum(1) / probed.sum(1)
        loss = torch.sqrt(r.mean())
        loss.backward()
        opt.step()
        ms.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(ms[1:]), statistics.median(cpu[1:]), float(loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--model", default="both")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if a.model in ("causal", "both"):
        ms, cpu, loss = bench_causal(a.steps)
        print(f"torch causal   {ms:9.1f} ms/step ({cpu:.1f} CPU ms) (loss {loss:.4f})")
        print(f"RESULT causal ms={ms:.3f} cpu_ms={cpu:.3f}")
        sys.stdout.flush()
    if a.model in ("astromer", "both"):
        ms, cpu, loss = bench_astromer(a.steps)
        print(f"torch astromer {ms:9.1f} ms/step ({cpu:.1f} CPU ms) (loss {loss:.4f})")
        print(f"RESULT astromer ms={ms:.3f} cpu_ms={cpu:.3f}")


if __name__ == "__main__":
    main()
