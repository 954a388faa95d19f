"""The weight-entangled spiking-transformer supernet (Auto-Spikformer) and its sandwich training.

The supernet is ``build_network(space, largest)``; every subnet is made of *leading slices* of
its tensors: embed dim (linears' in/out, BN features, each patch-embed stage's conv/BN, whose
widths are ``embed_dim // 2**k``), MLP hidden (``round(ratio * dim)``), q/k/v and output
projections, and the first ``depth`` blocks. A subnet is never computed by hand: its module is
``build_network(space, arch)`` built once on the meta device (no memory, no RNG), run by
``torch.func.functional_call`` on slices of the shared tensors. So heads, per-block neurons (tau
and threshold on *every* neuron of a block, the attention neuron at half the threshold, the stem
at block 0's) and the attention kind act exactly as in the exported network, and supernet ==
extracted subnet bit for bit. Time steps are the input's length. Neuron tensors are shared like
the rest: a PLIF's learned ``w`` (so a learnable tau gene only names its initial value) and a PSN's
``[T, T]`` mixing matrix (leading ``T x T`` block).

Weights, BN affines and running statistics are shared, with one exception: each BN affine has a
*switchable* copy per setting of the neuron genes of its block (Slimmable networks' switchable BN,
keyed by neuron setting instead of width; ``name@setting`` in `TransformerSupernet.shared_state`):
one affine cannot scale a layer's input right for both a threshold of 0.5 and of 1.0 (on the digits
transformer space the copies lift the ranking's Kendall tau from 0.29 to 0.44 over 10 supernets:
results/supernet_ranking/variants.md). A subnet uses its setting's copy and the extracted network
holds it, so supernet == extracted subnet still holds. A subnet's BN in train mode updates the
leading slice of the supernet's running stats in place. Those mixed statistics are the usual
one-shot pitfall, hence `recalibrate_subnet` on the *extracted* copy before scoring.

Training follows the sandwich rule (BigNAS/AutoFormer): every step accumulates the gradients of
the largest, the smallest and ``random_subnets`` uniform subnets, then takes one optimizer step.
"Largest" and "smallest" bound the *size* genes only (embed dim, depth, heads, MLP ratio, T); their
attention kind and neuron genes are drawn at random each step like a random subnet's, since fixing
them at the first choices trains the shared weights for one neuron setting and misranks the others.
Candidates inherit an exponential moving average of the weights (BigNAS), not the last step's.
Batches and subnets come from generators seeded by (seed, epoch, step), never global RNG state,
so a trainer resumed from `SandwichTrainer.state` continues bit-identically.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from snnas.errors import SpaceError
from snnas.evaluate import encode, iter_batches
from snnas.evaluate._data import DataSplits
from snnas.evaluate._trainer import OPTIMIZERS, TrainConfig, _generator, recalibrate_bn
from snnas.nn import build_network
from snnas.space._architecture import Architecture
from snnas.supernet._train import _gen

_GROW = ("time_steps", "embed_dim", "depth")
_GROW_SUFFIX = (".heads", ".mlp_ratio")


class WeightSharingError(SpaceError, ValueError):
    """The space's choices cannot share one set of weights (e.g. ``ssa`` beside ``qk_token``)."""


def _grows(name: str) -> bool:
    return name in _GROW or name.endswith(_GROW_SUFFIX)


def _extreme(space: Any, pick: Any) -> Architecture:
    genome = [d.choices.index(pick(d.choices)) if _grows(d.name) else 0 for d in space.decisions]
    return space.decode(genome)


def _rest_from(space: Any, extreme: Architecture, other: Architecture) -> Architecture:
    """``extreme``'s size genes with every other gene (attention, neurons) taken from ``other``."""
    genome = [e if _grows(d.name) else o
              for d, e, o in zip(space.decisions, space.encode(extreme), space.encode(other), strict=True)]
    return space.decode(genome)


def pin_genes(space: Any, arch: Architecture, fixed: Iterable[tuple[int, int]]) -> Architecture:
    """``arch`` with gene ``i`` set to choice ``v`` for each ``(i, v)`` of ``fixed``."""
    genome = list(space.encode(arch))
    for i, v in fixed:
        genome[i] = v
    return space.decode(genome)


def largest_architecture(space: Any) -> Architecture:
    """Max embed_dim, depth, heads, mlp_ratio and time steps; first attention and neuron choices."""
    return _extreme(space, max)


def smallest_architecture(space: Any) -> Architecture:
    """Min embed_dim, depth, heads, mlp_ratio and time steps; first attention and neuron choices."""
    return _extreme(space, min)


def _meta_network(space: Any, arch: Architecture) -> nn.Module:
    """``build_network(space, arch)`` on the meta device: the subnet's code and shapes, no data."""
    with torch.device("meta"):
        return build_network(space, arch)


def _leading(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """The leading ``shape`` slice of ``t`` (``t`` itself when the shapes match): a view."""
    return t if tuple(t.shape) == shape else t[tuple(slice(0, s) for s in shape)]


def _slices(shapes: Mapping[str, tuple[int, ...]], tensors: Mapping[str, torch.Tensor],
            what: str) -> dict[str, torch.Tensor]:
    out = {}
    for key, shape in shapes.items():
        t = tensors.get(key)
        if t is None:
            raise WeightSharingError(f"{what} has no tensor '{key}' (is it the supernet of this space?)")
        if t.ndim != len(shape) or any(s > n for s, n in zip(shape, t.shape, strict=True)):
            raise WeightSharingError(f"{what}: '{key}' has shape {tuple(t.shape)}, the subnet needs "
                                     f"{shape} (a leading slice)")
        out[key] = _leading(t, shape)
    return out


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _pd(flat: str) -> str:
    return flat.replace(".", ":")  # a ParameterDict key holds no dots


def _flat(key: str) -> str:
    return key.replace(":", ".")


SWITCH = "@"
"""Separates a BN affine's name from its neuron setting in a switchable copy's key
(``blocks.0.mlp.fc1.bn.weight@1-0``: that tensor for choice 1 of the first neuron gene, 0 of the
second)."""
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def _neuron_genes(space: Any, block: int) -> list[int]:
    """Indices of the genes that set block ``block``'s neurons (``neuron.*`` when shared)."""
    names = [d.name for d in space.decisions]
    own = [i for i, n in enumerate(names) if n.startswith(f"block{block}.neuron.")]
    return own or [i for i, n in enumerate(names) if n.startswith("neuron.")]


def _block_of(key: str) -> int:
    """The block whose neurons follow the tensor ``key`` (the stem's follow block 0's)."""
    m = _BLOCK.match(key)
    return int(m.group(1)) if m else 0


def _setting(space: Any, genome: tuple[int, ...] | list[int], block: int) -> str:
    return "-".join(str(genome[i]) for i in _neuron_genes(space, block))


def _switched(space: Any, arch: Architecture, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with every BN affine that has a switchable copy for ``arch``'s neuron setting
    replaced by that copy (under the plain name); the other copies dropped."""
    if not any(SWITCH in k for k in state):
        return state
    genome = space.encode(arch)
    out = {k: v for k, v in state.items() if SWITCH not in k}
    for k in out:
        copy = f"{k}{SWITCH}{_setting(space, genome, _block_of(k))}"
        if copy in state:
            out[k] = state[copy]
    return out


def subnet_state_dict(space: Any, arch: Architecture,
                      supernet_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict of ``build_network(space, arch)`` as leading slices of ``supernet_state``
    (the supernet network's state dict with its switchable BN copies, `TransformerSupernet.shared_state`;
    a `TransformerSupernet`'s own state dict, keys ``net.*`` and ``switch.*``, works too). A BN
    affine with a copy for ``arch``'s neuron setting (key ``name@setting``) is taken from it.

    The slices are *views*: they share storage with the supernet's tensors, so writing to one
    writes to the supernet (copy, or use `extract_subnet`, for an independent network). Only
    tensors are needed, so a Ray worker can rebuild any subnet from the supernet's state alone.
    """
    state = dict(supernet_state)
    if state and all(k.startswith(("net.", "switch.")) for k in state):  # a TransformerSupernet's own
        state = {k[4:] if k.startswith("net.") else _flat(k[7:]): v for k, v in state.items()}
    return _slices(_shapes(_meta_network(space, arch)), _switched(space, arch, state), "supernet state")


def extract_subnet(space: Any, arch: Architecture, supernet_state: Mapping[str, torch.Tensor],
                   device: str | torch.device | None = None) -> nn.Module:
    """``build_network(space, arch)`` holding *copies* of its slices of ``supernet_state`` (on
    ``device``, default the state's): training or recalibrating it never touches the supernet."""
    views = subnet_state_dict(space, arch, supernet_state)
    if device is None:
        device = next(iter(views.values())).device if views else "cpu"
    model = _meta_network(space, arch).to_empty(device=device)
    model.load_state_dict(views)
    return model


def check_weight_sharing(space: Any, largest: Architecture | None = None) -> None:
    """Raise `WeightSharingError` unless every attention kind and neuron kind of ``space`` has the
    same tensors as the largest architecture (ssa/sdsa: q/k/v + proj; qk_token/qk_channel: q/k;
    lif/if: none, plif: w), so that one supernet holds them all."""
    if space.family != "transformer":
        raise WeightSharingError(f"a weight-entangled supernet needs a transformer space, "
                                 f"'{space.name}' is {space.family}")
    largest = largest or largest_architecture(space)
    base = space.encode(largest)
    names = [d.name for d in space.decisions]
    ref = _shapes(_meta_network(space, largest))
    for gene in ("attention", "neuron.kind", *(f"block{i}.neuron.kind" for i in range(space.max_depth))):
        if gene not in names:
            continue
        i = names.index(gene)
        for j, choice in enumerate(space.decisions[i].choices):
            genome = list(base)
            genome[i] = j
            if gene.endswith("kind"):  # the same kind in every block
                genome = [j if n.endswith("neuron.kind") else g for n, g in zip(names, genome, strict=True)]
            keys = set(_shapes(_meta_network(space, space.decode(genome))))
            if keys != set(ref):
                diff = sorted(keys ^ set(ref))[:4]
                raise WeightSharingError(
                    f"{gene} choice '{choice}' has other parameters than "
                    f"'{space.decisions[i].choices[base[i]]}' (e.g. {', '.join(diff)}), so they cannot "
                    f"share one supernet; search them in separate spaces", file=space.path)


class TransformerSupernet(nn.Module):
    """``net = build_network(space, largest)``; ``with supernet.subnet(arch): supernet(x)`` (or
    `set_subnet`) runs ``arch`` on leading slices of ``net``'s tensors (BN affines: its neuron
    setting's switchable copy in ``switch``, unless ``switchable_bn=False``), exactly as
    ``extract_subnet(space, arch, supernet.shared_state())`` would. Gradients reach the shared
    parameters; train-mode BN updates the shared running statistics. No subnet set: the largest."""

    def __init__(self, space: Any, cache: int = 64, switchable_bn: bool = True):
        super().__init__()
        self.space = space
        self.largest = largest_architecture(space)
        check_weight_sharing(space, self.largest)
        self.net = build_network(space, self.largest)
        self.switch = nn.ParameterDict()
        if switchable_bn:
            params = dict(self.net.named_parameters())
            for name, m in self.net.named_modules():
                genes = _neuron_genes(space, _block_of(name + "."))
                if not isinstance(m, nn.modules.batchnorm._BatchNorm) or not m.affine or not genes:
                    continue
                for combo in itertools.product(*(range(len(space.decisions[i].choices)) for i in genes)):
                    for part in ("weight", "bias"):
                        key = f"{name}.{part}{SWITCH}{'-'.join(map(str, combo))}"
                        self.switch[_pd(key)] = nn.Parameter(params[f"{name}.{part}"].detach().clone())
        self.arch: Architecture | None = None
        self._cache: OrderedDict[str, nn.Module] = OrderedDict()
        self._cache_size = int(cache)

    def set_subnet(self, arch: Architecture | None) -> None:
        """Run ``arch`` from now on (None: the largest, i.e. ``net`` itself)."""
        if arch is not None:
            self._module(arch)  # fail now, not at the next forward
        self.arch = arch

    @contextlib.contextmanager
    def subnet(self, arch: Architecture | None) -> Iterator[TransformerSupernet]:
        """``set_subnet(arch)`` for the ``with`` block, then back to the previous subnet."""
        previous = self.arch
        self.set_subnet(arch)
        try:
            yield self
        finally:
            self.arch = previous

    def _module(self, arch: Architecture) -> nn.Module:
        key = arch.to_json()
        module = self._cache.pop(key, None)
        if module is None:
            module = _meta_network(self.space, arch)
            _slices(_shapes(module), self._tensors(arch), "supernet")  # shapes check
        self._cache[key] = module
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return module

    def live_parameters(self) -> dict[str, nn.Parameter]:
        """Every trained tensor under its flat name: ``net``'s parameters and the switchable BN
        copies (``name@setting``)."""
        return {**dict(self.net.named_parameters()), **{_flat(k): v for k, v in self.switch.items()}}

    def switch_state(self) -> dict[str, torch.Tensor]:
        """The switchable BN copies under their flat names (``name@setting``), detached."""
        return {_flat(k): v.detach() for k, v in self.switch.items()}

    def shared_state(self) -> dict[str, torch.Tensor]:
        """What every subnet is cut from (`subnet_state_dict`, `extract_subnet`): ``net``'s state
        dict plus the switchable BN copies, detached."""
        return {**self.net.state_dict(), **self.switch_state()}

    def _tensors(self, arch: Architecture) -> dict[str, torch.Tensor]:
        live = {**self.live_parameters(), **dict(self.net.named_buffers())}
        return _switched(self.space, arch, live)

    def subnet_tensors(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """``arch``'s slices of the live parameters (autograd reaches the supernet through them)."""
        return _slices(_shapes(self._module(arch)), self._tensors(arch), "supernet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.arch is None and not len(self.switch):
            return self.net(x)
        arch = self.arch or self.largest  # net's own BN affines are unused when they have copies
        module = self._module(arch).train(self.training)
        params = {n for n, _ in module.named_parameters()}
        # parameters as contiguous copies (differentiable, the layout a loaded module has, so the
        # kernels add in the same order); buffers as views, so BN updates the shared statistics
        tensors = {k: v.contiguous() if k in params else v for k, v in self.subnet_tensors(arch).items()}
        return functional_call(module, tensors, (x,), strict=True)


@torch.no_grad()
def recalibrate_subnet(model: nn.Module, data: DataSplits, batch_size: int = 64, batches: int = 8,
                       time_steps: int | None = None, encoding: str | None = None, seed: int = 0,
                       device: str = "cpu") -> nn.Module:
    """Re-estimate the BN statistics of an *extracted* subnet (`extract_subnet`) from ``batches``
    training batches (plain average), weights untouched: the supernet's running stats mix every
    subnet's, so scoring with them misranks candidates. Acts on ``model`` only, seeded by
    ``seed``, so candidates scored in any order or in parallel get the same numbers. Returns
    ``model`` in eval mode. ``time_steps`` defaults to ``model.architecture.time_steps``."""
    T = int(time_steps or model.architecture.time_steps)
    enc = encoding or data.default_encoding or "direct"
    cfg = TrainConfig(batch_size=batch_size, time_steps=T, seed=seed, device=device,
                      bn_recalibrate=batches, quiet=True)
    model.to(device)
    recalibrate_bn(model, data, cfg, enc, torch.Generator().manual_seed(seed), _generator(seed + 1, device))
    return model.eval()


@dataclass(frozen=True)
class SandwichConfig:
    """Sandwich-rule training settings (no epoch count: the trainer runs one epoch per call).

    ``time_steps=None`` runs every subnet at its own ``time_steps`` (the largest at the space's
    max T, the smallest at its min); an int runs all at that T. The LR is constant. ``ema`` is the
    per-step decay of the weight average that candidates inherit (0: the last step's weights);
    ``switchable_bn`` gives each BN affine a copy per neuron setting (`TransformerSupernet`).
    ``fixed`` pins genes in every subnet trained, as (gene index, choice index) pairs: one
    partition of a few-shot split (``snnas.search._oneshot``).
    """

    batch_size: int = 64
    lr: float = 0.005
    optimizer: str = "adam"
    weight_decay: float = 0.0
    random_subnets: int = 2
    seed: int = 0
    device: str = "cpu"
    encoding: str | None = None
    max_batches: int | None = None
    time_steps: int | None = None
    ema: float = 0.97
    switchable_bn: bool = True
    fixed: tuple[tuple[int, int], ...] = ()


class SandwichTrainer:
    """Trains a `TransformerSupernet` of ``space`` on ``data.train`` (the search split's train
    half; ``data.val`` is for scoring, ``data.test`` is never read)."""

    def __init__(self, space: Any, data: DataSplits, cfg: SandwichConfig | None = None):
        self.space, self.data, self.cfg = space, data, cfg or SandwichConfig()
        self.device = torch.device(self.cfg.device)
        self.encoding = self.cfg.encoding or data.default_encoding or space.encoding
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            self.supernet = TransformerSupernet(space, switchable_bn=self.cfg.switchable_bn).to(self.device)
        self.smallest = smallest_architecture(space)
        self.opt = OPTIMIZERS.get(self.cfg.optimizer)(list(self.supernet.parameters()), self.cfg.lr,
                                                      self.cfg.weight_decay)
        if not 0.0 <= self.cfg.ema < 1.0:
            raise ValueError(f"SandwichConfig.ema must be in [0, 1), got {self.cfg.ema}")
        self.ema = {k: v.detach().clone() for k, v in self.supernet.live_parameters().items()}
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    @property
    def largest(self) -> Architecture:
        return self.supernet.largest

    def sandwich(self, epoch: int, step: int) -> list[Architecture]:
        """The subnets of one step, seeded by (seed, epoch, step): the largest and the smallest
        sizes (attention and neuron genes drawn at random), then uniform samples; genes in
        ``cfg.fixed`` pinned in all of them."""
        rng = np.random.default_rng([self.cfg.seed, epoch, step])
        ends = [_rest_from(self.space, end, self.space.sample(rng)) for end in (self.largest, self.smallest)]
        archs = [*ends, *(self.space.sample(rng) for _ in range(self.cfg.random_subnets))]
        return [pin_genes(self.space, a, self.cfg.fixed) for a in archs] if self.cfg.fixed else archs

    def _x(self, x: torch.Tensor, arch: Architecture, g: torch.Generator) -> torch.Tensor:
        T = self.cfg.time_steps or arch.time_steps
        return encode(x, T, self.encoding, g).to(self.device)  # encoded on CPU: same on any device

    def train_epoch(self) -> dict[str, Any]:
        """One epoch of sandwich steps; returns (and appends to ``history``) its row: loss and acc
        of the largest, loss of the smallest, mean loss over all subnets trained, seconds."""
        cfg, net, e = self.cfg, self.supernet, self.epoch
        start = time.perf_counter()
        net.train()
        noise = _gen(cfg.seed, e, 3)
        sums = {"largest": 0.0, "smallest": 0.0, "all": 0.0}
        correct = seen = 0
        batches = iter_batches(self.data.train, cfg.batch_size, _gen(cfg.seed, e, 1), cfg.max_batches)
        for step, (x, y) in enumerate(batches):
            y = y.to(self.device)
            self.opt.zero_grad(set_to_none=True)
            archs = self.sandwich(e, step)
            for k, arch in enumerate(archs):
                with net.subnet(arch):
                    logits = net(self._x(x, arch, noise))
                loss = F.cross_entropy(logits, y)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at epoch {e + 1} step {step} for "
                                             f"{arch.summary()}")
                loss.backward()
                value = float(loss.detach()) * len(y)
                sums["all"] += value / len(archs)
                if k == 0:
                    sums["largest"] += value
                    correct += int((logits.argmax(1) == y).sum())
                elif k == 1:
                    sums["smallest"] += value
            self.opt.step()
            self._average()
            seen += len(y)
        self.opt.zero_grad(set_to_none=True)
        self.epoch += 1
        n = max(seen, 1)
        row = {"epoch": self.epoch, "loss": sums["largest"] / n, "acc": correct / n,
               "loss_smallest": sums["smallest"] / n, "loss_all": sums["all"] / n,
               "lr": self.opt.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
        self.history.append(row)
        return row

    @torch.no_grad()
    def _average(self) -> None:
        if self.cfg.ema:
            for k, v in self.supernet.live_parameters().items():
                self.ema[k].lerp_(v, 1.0 - self.cfg.ema)

    def subnet_state(self) -> dict[str, torch.Tensor]:
        """The supernet network's state dict as candidates inherit it (what `extract_subnet`
        reads): the averaged weights (``cfg.ema``), the live BN statistics (recalibrated per
        subnet anyway)."""
        state = self.supernet.shared_state()
        return {k: self.ema[k] if self.cfg.ema and k in self.ema else v for k, v in state.items()}

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "model": self.supernet.net.state_dict(),
                "switch": self.supernet.switch_state(),
                "ema": dict(self.ema), "optimizer": self.opt.state_dict(),
                "history": [dict(r) for r in self.history]}

    def load_state(self, state: Mapping[str, Any]) -> None:
        net = self.supernet
        net.net.load_state_dict(state["model"])
        switch = state.get("switch") or {}  # older checkpoints: the copies start from net's affines
        with torch.no_grad():
            for k, v in net.switch.items():
                v.copy_(switch[_flat(k)] if _flat(k) in switch else state["model"][_flat(k).split(SWITCH)[0]])
        ema = state.get("ema") or {}  # a checkpoint written before the average existed: start it here
        self.ema = {k: ema[k].to(v).clone() if k in ema else v.detach().clone()
                    for k, v in net.live_parameters().items()}
        if switch or not len(net.switch):  # an older checkpoint's optimizer has no copies: Adam restarts
            self.opt.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.history = [dict(r) for r in state["history"]]

