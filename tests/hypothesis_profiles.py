"""Hypothesis profiles: `quick` for the edit-test loop, `ci` for the whole suite.

- `ci` (`make test`, so CI): every property test runs the number of examples it asks for
  with `examples(n)`, the counts this suite has always used.
- `quick` (the default, and `make test-fast`): a tenth of that, at least 10 examples, so
  a property test costs a second or two instead of ten.

Pick one with `pytest --hypothesis-profile=ci` or `HYPOTHESIS_PROFILE=ci`. Neither profile
has a deadline: a per-example time limit is a timing assert, and on a loaded 2-core machine
running tests in parallel it fails at random without saying anything about the code.

Loaded from tests/conftest.py, before any test module is imported, so `examples()` sees
the profile that pytest's `--hypothesis-profile` option chose.
"""
from __future__ import annotations

import os

from hypothesis import settings

CI_EXAMPLES = 100  # hypothesis's own default; `examples(n)` scales n by the profile's share of it
QUICK_EXAMPLES = 10

settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)
settings.register_profile("quick", max_examples=QUICK_EXAMPLES, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def examples(ci_count: int) -> int:
    """How many examples a property test runs: `ci_count` under `ci`, a tenth under `quick`."""
    return max(QUICK_EXAMPLES, ci_count * settings.default.max_examples // CI_EXAMPLES)
