"""OpenECAD code emission and the random generator."""
from __future__ import annotations

import ast

import numpy as np
import pytest

from harness.cad.code import API, fmt, to_code
from harness.cad.generate import generate, model_id


def test_numbers_print_as_numpy_does():
    assert fmt([-32.5, -10.0]) == "[-32.5, -10. ]"
    assert fmt([0.0, -1.0, 0.0]) == "[ 0., -1.,  0.]"
    assert fmt(2.0) == "2." and fmt(2.54) == "2.54" and fmt(31.035533) == "31.0355"


def test_generator_is_deterministic_and_ids_are_eight_digits():
    assert to_code(generate(3, 7)) == to_code(generate(3, 7))
    assert to_code(generate(3, 7)) != to_code(generate(4, 7))
    assert len(model_id(3, 7)) == 8 and model_id(3, 7) != model_id(3, 8)


def test_code_parses_and_calls_only_the_api():
    for i in range(40):
        code = to_code(generate(0, i))
        tree = ast.parse(code)
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert calls <= set(API), calls - set(API)
        assert "add_extrude" in calls


@pytest.mark.slow
def test_answer_lengths_spread_like_deepcad():
    """The seed's answers: mean 932, up to 27,592 characters. Ours: one whole block at least, a mean near
    900-1,000 and a rare tail of many-step, many-sided models past 15,000 characters."""
    lengths = np.array([len(to_code(generate(0, i))) for i in range(3000)])
    assert 350 < lengths.min() < 450                 # one block with the smallest profile
    assert 850 < lengths.mean() < 1100
    assert np.median(lengths) < 0.8 * lengths.mean()   # a long right tail
    assert 15_000 < lengths.max() < 32_000
    assert 2 <= (lengths > 10_000).sum() <= 30        # rare
