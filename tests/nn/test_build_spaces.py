"""Every shipped space: 50 random architectures build and run forward and backward on a batch
(CIFAR/DVS-sized spaces at batch 1), through the one builder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnas.nn import build_network
from snnas.space import load_space, shipped_spaces

N_ARCHS = 50


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(shipped_spaces()))
def test_fifty_random_architectures_build_forward_backward(name):
    space = load_space(name)
    small = space.dataset == "digits"
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    for i in range(N_ARCHS):
        arch = space.sample(rng)
        model = build_network(space, arch)
        x = torch.rand(arch.time_steps, 4 if small else 1, *space.input_shape)
        out = model(x)
        assert out.shape == (x.shape[1], space.num_classes), (i, arch.summary())
        out.sum().backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert any(g is not None for g in grads), (i, arch.summary())
        assert all(torch.isfinite(g).all() for g in grads if g is not None), (i, arch.summary())
