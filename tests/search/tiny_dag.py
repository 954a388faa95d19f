"""A dag-topology cell space in SpikeNAS-Bench's layout (4 nodes, its five edge ops, T = 5) at
8x8 digits size, small enough to build and train on a CPU; shared by the dag, space and bench tests
(importable by name: tests/conftest.py puts this folder on the path)."""

TINY_DAG = """\
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10, time_steps: 5}
family: cell
cell:
  topology: dag
  nodes: 4
  ops: [zero, skip, 'neuron_conv_3x3{threshold: 0.5}', 'neuron_conv_3x3{threshold: 1}',
        'neuron_conv_3x3{threshold: 1.5}']
  layers: 2
  stem_channels: 8
neuron: {kind: lif, tau: 1.3333333333333333, threshold: 1.0, reset: hard, detach_reset: true}
surrogate: {family: atan}
"""
