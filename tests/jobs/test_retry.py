"""The retry policy's properties: bounded, non-decreasing before jitter, never past the cap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.retry import RetryPolicy

policies = st.builds(
    RetryPolicy,
    base=st.floats(min_value=0, max_value=600, allow_nan=False),
    factor=st.floats(min_value=1, max_value=10, allow_nan=False),
    cap=st.floats(min_value=0, max_value=86_400, allow_nan=False),
    jitter=st.floats(min_value=0, max_value=1, allow_nan=False),
)
attempts = st.integers(min_value=1, max_value=10_000)
unit = st.floats(min_value=0, max_value=1, exclude_max=True, allow_nan=False)


@given(policies, attempts)
def test_delay_before_jitter__never_beyond_the_cap(policy: RetryPolicy, attempt: int) -> None:
    assert 0 <= policy.delay_before_jitter(attempt) <= policy.cap


@given(policies, attempts)
def test_delay_before_jitter__non_decreasing(policy: RetryPolicy, attempt: int) -> None:
    assert policy.delay_before_jitter(attempt) <= policy.delay_before_jitter(attempt + 1)


@given(policies, attempts, unit)
def test_delay__jitter_stays_within_its_band(policy: RetryPolicy, attempt: int, r: float) -> None:
    capped = policy.delay_before_jitter(attempt)
    delay = policy.delay(attempt, rng=lambda: r)
    assert capped * (1 - policy.jitter) - 1e-9 <= delay <= capped + 1e-9
    assert delay <= policy.cap


def test_delay__exponential_until_the_cap() -> None:
    policy = RetryPolicy(base=2, factor=2, cap=30, jitter=0)
    assert [policy.delay(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize("kwargs", [{"base": -1}, {"factor": 0.5}, {"jitter": 1.5}, {"cap": -3}])
def test_policy__rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(**kwargs)


def test_delay__attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        RetryPolicy().delay(0)
