#!/usr/bin/python3
"""nn_reference.py: PyTorch reference for lcfm's neural-network engine (src/nn).

Builds, in float64, the causal paper's encoder (4 Conformer blocks with
d_model 64, 4 heads, feed-forward 128, depthwise kernel 31, layer norm instead of batch norm, an
LSTM, masked mean pooling and a linear map to a 20-dimensional latent) and an Astromer 2 encoder
(scalar embedding, trainable mask token, sinusoidal time encoding, post-norm transformer blocks
without residual connections, tanh feed-forward, layer norm and linear regression head; reduced to
d 64, 4 heads of 16, ff 32, 2 blocks to keep the fixture small), with fixed weights and inputs. It
writes the outputs and the gradient of L = sum(output * R) with respect to EVERY parameter to
nn_reference.bin, which tests/nn/test_nn_reference.c reads (CI does not need PyTorch). Two more
record sets hold one Astromer 2 block followed by the pretraining objective: astromer2 at the
paper's width (d 256, 4 heads of 64, ff 128) without residual connections (the default), astromer2r
with them (d 64, ff 32). Each ends with the head and the pretraining loss
(uncertainty weights from the errors, weighted RMSE over probed points): the loss, its weights and
the gradient of the loss itself with respect to every parameter.

The definitions below mirror include/lcfm/nn.h and nn_models.h exactly: layer norm eps 1e-5,
exact (erf) GELU is not used here, SiLU for Swish, GLU over the last axis, scores / sqrt(D) with
masked keys at -inf, depthwise conv weight stored [K, C] (transposed for torch), LSTM gate order
(i, f, g, o) with two biases, time encoding sin(t w_j) | cos(t w_j) with w_j = 1000^(-2j/d).

Weights are not stored: each tensor is filled from its name by a hash both sides compute exactly:
  u_i = (splitmix64(fnv1a64(name) + i) >> 40) / 2^24,  w_i = float32(offset + scale (2 u_i - 1))
and the record stores (offset, scale).

File format (little endian): "LCFMNNR1", uint32 record count, then per record:
  char name[64]; uint32 kind (0 input, 1 parameter gradient, 2 output); uint32 ndim;
  int64 shape[4]; float32 offset; float32 scale; float32 data[prod(shape)].

Run: /usr/bin/python3 tools/reference/nn_reference.py [output path]
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
MASK64 = (1 << 64) - 1


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for ch in name.encode():
        h = ((h ^ ch) * 0x100000001B3) & MASK64
    return h


def hash_uniform(name, n):
    x = (np.arange(n, dtype=np.uint64) + np.uint64(fnv1a64(name)))
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def hash_tensor(name, shape, offset, scale):
    n = int(np.prod(shape))
    v = (offset + scale * (2.0 * hash_uniform(name, n) - 1.0)).astype(np.float32)
    return torch.tensor(v.astype(np.float64).reshape(shape), requires_grad=True)


class Params:
    """Tensors registered in the same order and with the same names as the C engine."""

    def __init__(self):
        self.t = {}
        self.spec = []

    def add(self, name, shape, offset, scale):
        offset, scale = float(np.float32(offset)), float(np.float32(scale))  # as stored
        self.t[name] = hash_tensor(name, shape, offset, scale)
        self.spec.append((name, tuple(shape), offset, scale))
        return self.t[name]

    def lin(self, prefix, out, inp):
        self.add(prefix + ".w", (out, inp), 0.0, 1.0 / math.sqrt(inp))
        self.add(prefix + ".b", (out,), 0.0, 0.1)

    def ln(self, prefix, d):
        self.add(prefix + ".w", (d,), 1.0, 0.2)
        self.add(prefix + ".b", (d,), 0.0, 0.1)

    def __getitem__(self, k):
        return self.t[k]


def layer_norm(x, P, name):
    return F.layer_norm(x, (x.shape[-1],), P[name + ".w"], P[name + ".b"], eps=1e-5)


def linear(x, P, name):
    return F.linear(x, P[name + ".w"], P[name + ".b"])


def time_encoding(t, d):
    j = torch.arange(d // 2, dtype=torch.float64)
    w = torch.pow(torch.tensor(1000.0, dtype=torch.float64), -2.0 * j / d)
    a = t[..., None] * w.to(t.dtype)
    return torch.cat([torch.sin(a), torch.cos(a)], dim=-1)


def attention(x_qkv, keymask, d, heads):
    B, T, _ = x_qkv.shape
    D = d // heads
    q, k, v = x_qkv.split(d, dim=-1)
    q = q.reshape(B, T, heads, D).transpose(1, 2)
    k = k.reshape(B, T, heads, D).transpose(1, 2)
    v = v.reshape(B, T, heads, D).transpose(1, 2)
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    if keymask is not None:
        s = s.masked_fill(keymask[:, None, None, :] == 0, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return (p @ v).transpose(1, 2).reshape(B, T, d)


# ---------------------------------------------------------------------------------------------
# Causal encoder
# ---------------------------------------------------------------------------------------------
def register_conformer(P, pre, d, ff, K):
    P.ln(f"{pre}.ffn1.ln", d)
    P.lin(f"{pre}.ffn1.fc1", ff, d)
    P.lin(f"{pre}.ffn1.fc2", d, ff)
    P.ln(f"{pre}.mhsa.ln", d)
    P.lin(f"{pre}.mhsa.qkv", 3 * d, d)
    P.lin(f"{pre}.mhsa.proj", d, d)
    P.ln(f"{pre}.conv.ln", d)
    P.lin(f"{pre}.conv.pw1", 2 * d, d)
    P.add(f"{pre}.conv.dw.w", (K, d), 0.0, 1.0 / math.sqrt(K))
    P.add(f"{pre}.conv.dw.b", (d,), 0.0, 0.1)
    P.ln(f"{pre}.conv.norm", d)
    P.lin(f"{pre}.conv.pw2", d, d)
    P.ln(f"{pre}.ffn2.ln", d)
    P.lin(f"{pre}.ffn2.fc1", ff, d)
    P.lin(f"{pre}.ffn2.fc2", d, ff)
    P.ln(f"{pre}.ln", d)


def conformer(x, P, pre, mask, d, heads, K):
    def ffn(x, f):
        return linear(F.silu(linear(layer_norm(x, P, f"{pre}.{f}.ln"), P, f"{pre}.{f}.fc1")), P, f"{pre}.{f}.fc2")

    x = x + 0.5 * ffn(x, "ffn1")
    y = linear(layer_norm(x, P, f"{pre}.mhsa.ln"), P, f"{pre}.mhsa.qkv")
    x = x + linear(attention(y, mask, d, heads), P, f"{pre}.mhsa.proj")
    y = linear(layer_norm(x, P, f"{pre}.conv.ln"), P, f"{pre}.conv.pw1")
    y = F.glu(y, dim=-1) * mask[..., None]
    wdw = P[f"{pre}.conv.dw.w"].t()[:, None, :]  # [K, d] -> [d, 1, K]
    y = F.conv1d(y.transpose(1, 2), wdw, P[f"{pre}.conv.dw.b"], padding=(K - 1) // 2, groups=d).transpose(1, 2)
    y = F.silu(layer_norm(y, P, f"{pre}.conv.norm"))
    x = x + linear(y, P, f"{pre}.conv.pw2")
    x = x + 0.5 * ffn(x, "ffn2")
    return layer_norm(x, P, f"{pre}.ln")


def lstm(x, w_ih, w_hh, b_ih, b_hh):
    """torch.nn.LSTM's single-layer recurrence, gate order (i, f, g, o), h_0 = c_0 = 0."""
    B, T, _ = x.shape
    H = w_hh.shape[1]
    h = torch.zeros(B, H)
    c = torch.zeros(B, H)
    xs = F.linear(x, w_ih, b_ih + b_hh)
    outs = []
    for t in range(T):
        a = xs[:, t] + F.linear(h, w_hh)
        i, f, g, o = a.split(H, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, dim=1)


def causal_encoder(P, pre, cfg, times, values, mask):
    d = cfg["d"]
    x = time_encoding(times, d) + values[..., None] * P[pre + ".embed.w"] + P[pre + ".embed.b"]
    for i in range(cfg["blocks"]):
        x = conformer(x, P, f"{pre}.block{i}", mask, d, cfg["heads"], cfg["kernel"])
    h = lstm(x, P[pre + ".lstm.w_ih"], P[pre + ".lstm.w_hh"], P[pre + ".lstm.b_ih"], P[pre + ".lstm.b_hh"])
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1).clamp(min=1.0)[:, None]
    return linear(pooled, P, pre + ".head")


def register_causal(P, pre, cfg):
    d = cfg["d"]
    P.add(pre + ".embed.w", (d,), 0.0, 1.0)
    P.add(pre + ".embed.b", (d,), 0.0, 0.1)
    for i in range(cfg["blocks"]):
        register_conformer(P, f"{pre}.block{i}", d, cfg["ff"], cfg["kernel"])
    s = 1.0 / math.sqrt(d)
    P.add(pre + ".lstm.w_ih", (4 * d, d), 0.0, s)
    P.add(pre + ".lstm.w_hh", (4 * d, d), 0.0, s)
    P.add(pre + ".lstm.b_ih", (4 * d,), 0.0, 0.1)
    P.add(pre + ".lstm.b_hh", (4 * d,), 0.0, 0.1)
    P.lin(pre + ".head", cfg["latent"], d)


# ---------------------------------------------------------------------------------------------
# Astromer 2 encoder
# ---------------------------------------------------------------------------------------------
def register_astromer(P, pre, cfg):
    d, ff = cfg["d"], cfg["ff"]
    P.add(pre + ".embed.w", (d,), 0.0, 1.0)
    P.add(pre + ".embed.b", (d,), 0.0, 0.1)
    P.add(pre + ".mask_token", (d,), 0.0, 0.5)
    for i in range(cfg["blocks"]):
        b = f"{pre}.block{i}"
        P.lin(b + ".attn.qkv", 3 * d, d)
        P.lin(b + ".attn.proj", d, d)
        P.ln(b + ".ln1", d)
        P.lin(b + ".ffn.fc1", ff, d)
        P.lin(b + ".ffn.fc2", d, ff)
        P.ln(b + ".ln2", d)
    P.ln(pre + ".head_ln", d)
    P.lin(pre + ".head", 1, d)


def astromer(P, pre, cfg, times, values, valid, replace):
    d = cfg["d"]
    e = values[..., None] * P[pre + ".embed.w"] + P[pre + ".embed.b"]
    e = torch.where(replace[..., None] != 0, P[pre + ".mask_token"].expand_as(e), e)
    x = e + time_encoding(times, d)
    keymask = valid * (1.0 - replace)
    res = cfg["residual"]
    for i in range(cfg["blocks"]):
        b = f"{pre}.block{i}"
        a = linear(attention(linear(x, P, b + ".attn.qkv"), keymask, d, cfg["heads"]), P, b + ".attn.proj")
        h = layer_norm(a + x if res else a, P, b + ".ln1")
        f = linear(torch.tanh(linear(h, P, b + ".ffn.fc1")), P, b + ".ffn.fc2")
        x = layer_norm(f + h if res else f, P, b + ".ln2")
    return linear(layer_norm(x, P, pre + ".head_ln"), P, pre + ".head")[..., 0]


def astromer_weights(err, valid):
    """1/err min-max normalised over each window's valid points, + 1e-3; 0 on padding."""
    e = torch.where(valid != 0, 1.0 / err, torch.zeros_like(err))
    lo = torch.where(valid != 0, e, torch.full_like(e, float("inf"))).min(dim=1, keepdim=True).values
    hi = torch.where(valid != 0, e, torch.full_like(e, float("-inf"))).max(dim=1, keepdim=True).values
    span = hi - lo
    w = torch.where(span > 0, (e - lo) / torch.where(span > 0, span, torch.ones_like(span)), torch.ones_like(e))
    return torch.where(valid != 0, w + 1e-3, torch.zeros_like(e))


def astromer_rmse(pred, target, weight, probed):
    """sqrt(mean over windows of sum(w m r^2) / sum(m)); windows without probed points add 0."""
    s = (weight * probed * (pred - target) ** 2).sum(dim=1)
    m = probed.sum(dim=1)
    per_window = torch.where(m > 0, s / torch.where(m > 0, m, torch.ones_like(m)), torch.zeros_like(s))
    return torch.sqrt(per_window.mean())


# ---------------------------------------------------------------------------------------------
def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tools/reference/nn_reference.bin"
    records = []

    def rec(name, kind, arr, offset=0.0, scale=0.0):
        a = np.asarray(arr, dtype=np.float32)
        records.append((name, kind, a, offset, scale))

    def f32(x):  # round inputs to float32 so both sides start from identical values
        return torch.tensor(np.asarray(x, dtype=np.float32).astype(np.float64))

    # Causal encoder: full configuration, B = 3 sequences of T = 40, the last padded after 29.
    cc = dict(d=64, heads=4, ff=128, blocks=4, kernel=31, latent=20, T=40, B=3)
    B, T = cc["B"], cc["T"]
    rng = np.random.default_rng(7)
    times = f32(np.sort(rng.uniform(0, 30, (B, T)), axis=1))
    values = f32(rng.normal(0, 1, (B, T)))
    mask = torch.ones(B, T)
    mask[2, 29:] = 0.0
    R = f32(rng.normal(0, 1, (B, cc["latent"])))
    P = Params()
    register_causal(P, "causal", cc)
    z = causal_encoder(P, "causal", cc, times, values, mask)
    (z * R).sum().backward()
    rec("causal.config", 0, [cc[k] for k in ("d", "heads", "ff", "blocks", "kernel", "latent", "T", "B")])
    rec("causal.times", 0, times)
    rec("causal.values", 0, values)
    rec("causal.mask", 0, mask)
    rec("causal.dz", 0, R)
    rec("causal.z", 2, z.detach())
    for name, shape, off, sc in P.spec:
        rec(name, 1, P[name].grad, off, sc)

    # Astromer 2 encoder (reduced width), B = 2 windows of T = 24, hidden tokens and padding.
    ac = dict(d=64, heads=4, ff=32, blocks=2, residual=0, T=24, B=2)
    B, T = ac["B"], ac["T"]
    times = f32(np.sort(rng.uniform(0, 50, (B, T)), axis=1))
    values = f32(rng.normal(0, 1, (B, T)))
    valid = torch.ones(B, T)
    valid[1, 20:] = 0.0
    replace = torch.zeros(B, T)
    replace[0, [2, 7, 11]] = 1.0
    replace[1, [0, 5, 13]] = 1.0
    R = f32(rng.normal(0, 1, (B, T)))
    Q = Params()
    register_astromer(Q, "astromer", ac)
    pred = astromer(Q, "astromer", ac, times, values, valid, replace)
    (pred * R).sum().backward()
    rec("astromer.config", 0, [ac[k] for k in ("d", "heads", "ff", "blocks", "residual", "T", "B")])
    rec("astromer.times", 0, times)
    rec("astromer.values", 0, values)
    rec("astromer.valid", 0, valid)
    rec("astromer.replace", 0, replace)
    rec("astromer.dpred", 0, R)
    rec("astromer.pred", 2, pred.detach())
    for name, shape, off, sc in Q.spec:
        rec(name, 1, Q[name].grad, off, sc)

    # Astromer 2 pretraining objective at the paper's width (d 256, 4 heads of 64, ff 128, tanh):
    # one block with and one without residual connections, the head (layer norm, linear), the
    # error weights and the weighted RMSE over probed points; gradients of the LOSS itself.
    for pre, res, d, ff in (("astromer2", 0, 256, 128), ("astromer2r", 1, 64, 32)):
        ac = dict(d=d, heads=4, ff=ff, blocks=1, residual=res, T=20, B=3)
        B, T = ac["B"], ac["T"]
        times = f32(np.sort(rng.uniform(-40, 40, (B, T)), axis=1))
        values = f32(rng.normal(0, 0.5, (B, T)))
        err = f32(rng.uniform(0.01, 0.2, (B, T)))
        valid = torch.ones(B, T)
        valid[2, 13:] = 0.0
        probed = torch.zeros(B, T)
        replace = torch.zeros(B, T)
        for b, idx in enumerate(([1, 4, 6, 9, 12, 15, 18], [0, 2, 3, 8, 11, 16, 19], [1, 5, 7, 10])):
            probed[b, idx] = 1.0
            replace[b, idx[2:]] = 1.0  # the first two probed points keep / take another value
        target = f32(values.numpy() + rng.normal(0, 0.3, (B, T)) * probed.numpy())
        Q = Params()
        register_astromer(Q, pre, ac)
        pred = astromer(Q, pre, ac, times, values, valid, replace)
        weight = astromer_weights(err, valid)
        loss = astromer_rmse(pred, target, weight, probed)
        loss.backward()
        rec(pre + ".config", 0, [ac[k] for k in ("d", "heads", "ff", "blocks", "residual", "T", "B")])
        rec(pre + ".times", 0, times)
        rec(pre + ".values", 0, values)
        rec(pre + ".err", 0, err)
        rec(pre + ".valid", 0, valid)
        rec(pre + ".replace", 0, replace)
        rec(pre + ".probed", 0, probed)
        rec(pre + ".target", 0, target)
        rec(pre + ".weight", 2, weight.detach())
        rec(pre + ".pred", 2, pred.detach())
        rec(pre + ".loss", 2, loss.detach().reshape(1))
        for name, shape, off, sc in Q.spec:
            rec(name, 1, Q[name].grad, off, sc)

    with open(out_path, "wb") as f:
        f.write(b"LCFMNNR1")
        f.write(struct.pack("<I", len(records)))
        for name, kind, a, off, sc in records:
            shape = list(a.shape) + [0] * (4 - a.ndim)
            f.write(struct.pack("<64sII4qff", name.encode(), kind, a.ndim, *shape, off, sc))
            f.write(a.astype("<f4").tobytes())
    total = sum(r[2].size for r in records)
    print(f"wrote {out_path}: {len(records)} records, {total} floats")


if __name__ == "__main__":
    main()
