"""Property tests: malformed variants of the shipped spaces give SpaceError or a valid space, never a
traceback and never a hang."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnas.errors import SpaceError
from snnas.space import SECTIONS, SearchSpace, describe, load_space_text, shipped_spaces, space_from_dict

TEXTS = {name: path.read_text() for name, path in shipped_spaces().items()}
DOCS = {name: yaml.safe_load(text) for name, text in TEXTS.items()}
FUZZ = settings(max_examples=120, deadline=3000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

KEYS = sorted({k.name for keys in SECTIONS.values() for k in keys} | {"choice", "range", "step", "init",
                                                                     "bounds", "learnable", "dgs"})
WORDS = ["lif", "plif", "if", "psn", "ann", "skip", "zero", "conv_3x3", "ssa", "qk", "dspike", "atan",
         "digits", "events", "direct", "1/2", "1/4", "3/4", "1e-3", "hard", "soft", "cell",
         "transformer", "max", "min", "energy_mj <= 1", "time_steps >= 100", "sps", ".inf", ""]
SCALARS = (st.none() | st.booleans() | st.integers(-3, 12) | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(WORDS) | st.sampled_from(KEYS)
           | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8))
VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), c, max_size=3),
                      max_leaves=8)


@contextmanager
def no_hang(seconds: int = 20):
    """Fail (instead of hanging the suite) if one load takes longer than ``seconds``."""
    def boom(*_):
        raise TimeoutError(f"loading took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check(load) -> None:
    """Loading either fails with SpaceError or gives a space whose operators all work."""
    with no_hang():
        try:
            space = load()
        except SpaceError as e:
            assert str(e) and "\n" not in str(e).strip()
            return
        assert isinstance(space, SearchSpace)
        arch = space.sample(np.random.default_rng(0))
        assert space.decode(space.encode(arch)) == arch
        assert space.size() >= 1
        describe(space)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated_docs(draw):
    name = draw(st.sampled_from(sorted(DOCS)))
    doc = yaml.safe_load(TEXTS[name])  # a fresh copy
    for _ in range(draw(st.integers(1, 3))):
        all_paths = [p for p in paths(doc) if p]
        if not all_paths or not isinstance(doc, dict):
            break
        path = draw(st.sampled_from(all_paths))
        parent, last = get(doc, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "replace", "insert", "wrap", "stringify"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(VALUES)
        elif op == "insert" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS) | st.text(min_size=1, max_size=6))] = draw(VALUES)
        elif op == "wrap":
            parent[last] = draw(st.sampled_from([[parent[last]], {"choice": parent[last]},
                                                 {"range": parent[last]}]))
        else:
            parent[last] = str(parent[last])
    return doc


@FUZZ
@given(doc=mutated_docs())
def test_structural_mutations(doc):
    check(lambda: space_from_dict(doc))
    try:
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return
    check(lambda: load_space_text(text, file="fuzz.yaml"))


SPECIAL = ":-[]{}&*!|>'\"%@`#,? \n\t01/."


@st.composite
def mutated_texts(draw):
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    for _ in range(draw(st.integers(1, 3))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 12)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "dup_line", "indent"]))
        chunk = draw(st.text(st.sampled_from(SPECIAL) | st.characters(blacklist_categories=("Cs",)),
                             max_size=6))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + chunk + text[i:]
        elif op == "replace":
            text = text[:i] + chunk + text[j:]
        else:
            lines = text.splitlines()
            k = draw(st.integers(0, max(0, len(lines) - 1)))
            if lines:
                lines.insert(k, lines[k] if op == "dup_line" else "  " + lines[k])
            text = "\n".join(lines)
    return text


@FUZZ
@given(text=mutated_texts())
def test_text_mutations(text):
    check(lambda: load_space_text(text, file="fuzz.yaml"))


@settings(max_examples=60, deadline=3000)
@given(value=VALUES)
def test_arbitrary_documents(value):
    check(lambda: space_from_dict(value))
