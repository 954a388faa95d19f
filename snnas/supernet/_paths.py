"""The layer-level trellis of a cell supernet: move probabilities, path marginals, Viterbi.

Layer i of a cell network runs at a resolution level; before layer 0 the network is at level 0 (the
stem). ``beta[i, l]`` holds the logits of the moves (e.g. -1 / 0 / +1) out of level ``l`` into layer
i, masked to the moves `snnas.space.Trellis.feasible` allows there (inside the levels, a head level
still reachable). Everything is dense ``[n_levels, n_levels]`` matrices: ``Q_i[l, s]`` is the
probability of moving from ``l`` (layer i - 1) to ``s`` (layer i), so the level marginals are
``P_i = P_{i-1} Q_i`` and the supernet can weight a layer's candidate inputs by exact conditional
probabilities; with one-hot moves that is exactly the discrete path.
"""

from __future__ import annotations

import torch

from snnas.space._trellis import Trellis


class MoveTable:
    """Index tables of the feasible moves of a `Trellis`: ``mask[i, l, m]`` is True when move
    ``moves[m]`` out of level ``l`` into layer i is allowed."""

    def __init__(self, trellis: Trellis):
        self.trellis = trellis
        self.moves = tuple(trellis.moves)
        self.n_levels, self.layers = trellis.n_levels, trellis.layers
        mask = torch.zeros(self.layers, self.n_levels, len(self.moves), dtype=torch.bool)
        for i in range(self.layers):
            for lv in range(self.n_levels):
                for m in trellis.feasible(i, lv):
                    mask[i, lv, self.moves.index(m)] = True
        self.mask = mask
        # where each (l, m) lands in the flattened [n_levels, n_levels] matrix (clamped when infeasible)
        lv = torch.arange(self.n_levels).unsqueeze(1)
        to = (lv + torch.tensor(self.moves).unsqueeze(0)).clamp(0, self.n_levels - 1)
        self.flat = (lv * self.n_levels + to).reshape(-1)
        # levels each layer can be at (reachable from level 0 along feasible moves)
        reach, cur = [], {0}
        for i in range(self.layers):
            cur = {lv + m for lv in cur for m in trellis.feasible(i, lv)}
            reach.append(sorted(cur))
        self.reachable: list[list[int]] = reach

    def probabilities(self, beta: torch.Tensor) -> torch.Tensor:
        """Move probabilities ``[layers, n_levels, n_moves]``: softmax of ``beta`` over the feasible
        moves of each (layer, level); rows without a feasible move are all zero."""
        mask = self.mask.to(beta.device)
        logits = torch.where(mask, beta, torch.full_like(beta, -1e9))
        return torch.softmax(logits, dim=-1) * mask

    def matrices(self, probs: torch.Tensor) -> list[torch.Tensor]:
        """``Q_i`` ``[n_levels, n_levels]`` for each layer from move probabilities."""
        n = self.n_levels
        flat = self.flat.to(probs.device)
        return [torch.zeros(n * n, dtype=probs.dtype, device=probs.device).index_add(0, flat, p.reshape(-1))
                .reshape(n, n) for p in probs]

    def one_hot(self, levels: tuple[int, ...]) -> torch.Tensor:
        """Move probabilities that follow the path ``levels`` with certainty (off-path rows: the
        first feasible move), e.g. to run a supernet as one derived network."""
        moves = self.trellis.moves_of(tuple(levels))
        probs = torch.zeros(self.mask.shape)
        prev = 0
        for i, (m, lv) in enumerate(zip(moves, levels, strict=True)):
            for row in range(self.n_levels):
                feas = self.mask[i, row].nonzero().flatten().tolist()
                if row == prev:
                    probs[i, row, self.moves.index(m)] = 1.0
                elif feas:
                    probs[i, row, feas[0]] = 1.0
            prev = lv
        return probs


def marginals(qs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Level marginals ``P_{-1} .. P_{L-1}`` (``P_{-1}`` = level 0 with certainty: the stem)."""
    n = qs[0].shape[0]
    p = torch.zeros(n, dtype=qs[0].dtype, device=qs[0].device)
    p[0] = 1.0
    out = [p]
    for q in qs:
        out.append(out[-1] @ q)
    return out


def input_weights(qs: list[torch.Tensor], ps: list[torch.Tensor], i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditional weights of layer i's two inputs, ``W[a, s] = P(source at a | layer i at s)``:
    input 1 is layer i - 1 (the stem for i = 0), input 0 is layer i - 2 (the stem for i < 2).
    ``ps`` is `marginals` (index 0 = the stem)."""
    p_i = ps[i + 1].clamp_min(1e-30)
    w1 = ps[i].unsqueeze(1) * qs[i] / p_i
    if i < 2:
        # input 0 is the stem (level 0): P(level 0 | s) = 1 wherever s is reachable
        w0 = torch.zeros_like(w1)
        w0[0] = (ps[i + 1] > 0).to(w1.dtype)
        return w0, w1
    w0 = ps[i - 1].unsqueeze(1) * (qs[i - 1] @ qs[i]) / p_i
    return w0, w1


def viterbi(qs: list[torch.Tensor], heads: tuple[int, ...]) -> tuple[int, ...]:
    """The most probable level path from level 0 (before layer 0) to a head level under the move
    matrices ``qs`` (``Q_i[l, s]``; zero = infeasible). Ties go to the lower level."""
    n = qs[0].shape[0]
    neg = float("-inf")
    score = [0.0 if lv == 0 else neg for lv in range(n)]
    back: list[list[int]] = []
    for q in qs:
        logq = torch.log(q.detach().double().cpu()).tolist()
        new, arg = [neg] * n, [0] * n
        for s in range(n):
            for lv in range(n):
                v = score[lv] + logq[lv][s]
                if v > new[s]:
                    new[s], arg[s] = v, lv
        score = new
        back.append(arg)
    end = max((h for h in heads if score[h] > neg), key=lambda h: (score[h], -h), default=None)
    if end is None:
        raise ValueError("no feasible path reaches a head level")
    path = [end]
    for arg in reversed(back[1:]):
        path.append(arg[path[-1]])
    return tuple(reversed(path))
