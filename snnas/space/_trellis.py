"""The resolution trellis of the cell family (SpikeDHS / Auto-DeepLab layer-level search).

Layer i of the network runs at level ``trellis[i]`` (0 = the stem's resolution, k = 1/2**k). Before
layer 0 the network is at level 0; each layer moves by one of the allowed transitions, must stay
within the levels, and the last layer must end at a head level. Genomes hold one move per layer;
a move that would leave the trellis, or make the head unreachable, is replaced by the nearest
feasible move (`walk`), so every genome within bounds decodes to a valid path, and every valid path
is encoded by its own moves (`moves_of`) and decodes back unchanged.
"""

from __future__ import annotations


class Trellis:
    def __init__(self, n_levels: int, moves: tuple[int, ...], heads: tuple[int, ...], layers: int):
        self.n_levels, self.moves, self.layers = n_levels, tuple(moves), layers
        self.heads = tuple(h for h in heads if 0 <= h < n_levels)
        # ok[i] = levels from which, having finished layer i - 1, a head is still reachable
        # (ok[layers] = the head levels; ok[0] is about the stem's level before layer 0).
        ok: list[frozenset[int]] = [frozenset()] * (layers + 1)
        ok[layers] = frozenset(self.heads)
        for i in range(layers - 1, -1, -1):
            ok[i] = frozenset(lv for lv in range(n_levels)
                              if any(lv + m in ok[i + 1] for m in self.moves))
        self._ok = ok

    def feasible(self, i: int, level: int) -> list[int]:
        """Moves allowed at layer i from ``level`` that keep a head reachable."""
        return [m for m in self.moves if 0 <= level + m < self.n_levels and level + m in self._ok[i + 1]]

    def count(self) -> int:
        """Number of valid paths (0 when the head cannot be reached)."""
        ways = {0: 1} if 0 in self._ok[0] else {}
        for i in range(self.layers):
            nxt: dict[int, int] = {}
            for lv, n in ways.items():
                for m in self.feasible(i, lv):
                    nxt[lv + m] = nxt.get(lv + m, 0) + n
            ways = nxt
        return sum(ways.values())

    def walk(self, wanted: list[int]) -> tuple[int, ...]:
        """Levels of the path following ``wanted`` moves, each repaired to the nearest feasible one."""
        level, levels = 0, []
        for i, m in enumerate(wanted):
            ok = self.feasible(i, level)
            if m not in ok:
                m = min(ok, key=lambda x: (abs(x - m), x))
            level += m
            levels.append(level)
        return tuple(levels)

    def moves_of(self, levels: tuple[int, ...]) -> list[int]:
        """The moves of a valid path; ValueError naming the first problem otherwise."""
        if len(levels) != self.layers:
            raise ValueError(f"has {len(levels)} levels, expected {self.layers} (one per layer)")
        out, prev = [], 0
        for i, lv in enumerate(levels):
            if lv - prev not in self.feasible(i, prev):
                raise ValueError(f"layer {i} moves from level {prev} to {lv}, which is not allowed "
                                 f"(moves {list(self.moves)}, {self.n_levels} levels, heads "
                                 f"{list(self.heads)})")
            out.append(lv - prev)
            prev = lv
        return out
