"""The default baseline spiking CNN: the reference point every search result is compared with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from snnas.nn._registry import OPS


class SpikingCNN(nn.Module):
    """Spiking conv feature layers, then flatten -> linear -> mean over T."""

    def __init__(self, features: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.features = features
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x):  # unannotated: torch.fx would copy the hints into exported source
        y = self.features(x)
        return self.head(y.flatten(2)).mean(0)


def baseline_cnn(input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10,
                 channels: Sequence[int] = (32, 64), neuron: dict[str, Any] | None = None) -> nn.Module:
    """A small spiking CNN built from registered ops: a ``conv_3x3`` stem with ``channels[0]``
    channels at full resolution, one ``cml_down`` (conv-BN-maxpool-neuron, stride 2) per entry of
    ``channels``, then a linear classifier on the flattened spikes (AC).

    Takes ``[T, B, *input_shape]``, returns ``[B, num_classes]``; ``neuron`` defaults to LIF tau 2.
    With the defaults it reaches 98-99% test accuracy on digits (T=4, 20 epochs of Adam at 1e-3,
    batch 64); the full-resolution stem is what makes that hold on every seeded split, the two
    strided layers alone land near 97.8% on some.
    """
    c, h, w = (int(v) for v in input_shape)
    layers = [OPS.get("conv_3x3")(c, int(channels[0]), 1, neuron)]
    c = int(channels[0])
    for width in channels:
        layers.append(OPS.get("cml_down")(c, int(width), 2, neuron))
        c, h, w = int(width), (h + 1) // 2, (w + 1) // 2
    model = SpikingCNN(nn.Sequential(*layers), c * h * w, int(num_classes))
    model.architecture = None
    model.build_args = {"builder": "baseline_cnn", "input_shape": [int(v) for v in input_shape],
                        "num_classes": int(num_classes), "channels": [int(v) for v in channels],
                        "neuron": None if neuron is None else dict(neuron)}
    return model
