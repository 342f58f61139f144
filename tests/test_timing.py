"""Account enumeration by timing: registration and password reset answer the same 202 whether or
not the e-mail has an account; they must also take the same time. Requests for existing and new
addresses are interleaved (in random order within each pair) through the real stack, and the two
distributions compared: medians and 90th percentiles within 0.8-1.25 of each other, and a
Mann-Whitney U test that finds no difference.

Every existing address is a different account, so the cap of 5 e-mails an hour per account
never drops the existing path's work (which would make it faster)."""

from __future__ import annotations

import math
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.accounts_flow import PASSWORD, activation_code, captcha
from tests.support import SmtpSink, Stack

pytestmark = pytest.mark.timing

SAMPLES = int(os.environ.get("TIMING_SAMPLES", "30"))
WARM_UP = 4
BOUNDS = (0.8, 1.25)


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    pooled = sorted((value, group) for group, values in ((0, a), (1, b)) for value in values)
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        size = j - i + 1
        ties += size**3 - size
        i = j + 1
    n1, n2 = len(a), len(b)
    rank_sum = sum(r for r, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma if sigma else 0.0
    return math.erfc(max(z, 0.0) / math.sqrt(2))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def compare(what: str, existing: list[float], new: list[float]) -> dict[str, float]:
    figures = {
        "existing_median_ms": statistics.median(existing) * 1000,
        "new_median_ms": statistics.median(new) * 1000,
        "existing_p90_ms": percentile(existing, 0.9) * 1000,
        "new_p90_ms": percentile(new, 0.9) * 1000,
        "mann_whitney_p": mann_whitney_p(existing, new),
    }
    figures["median_ratio"] = figures["existing_median_ms"] / figures["new_median_ms"]
    figures["p90_ratio"] = figures["existing_p90_ms"] / figures["new_p90_ms"]
    print(
        f"\n{what}: {len(existing)}+{len(new)} requests; median existing "
        f"{figures['existing_median_ms']:.1f} ms / new {figures['new_median_ms']:.1f} ms "
        f"(ratio {figures['median_ratio']:.3f}); p90 {figures['existing_p90_ms']:.1f} / "
        f"{figures['new_p90_ms']:.1f} ms (ratio {figures['p90_ratio']:.3f}); "
        f"Mann-Whitney U p = {figures['mann_whitney_p']:.3f}"
    )
    return figures


def timed(send: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.text
    return elapsed


def interleaved(
    existing: list[str], probe: Callable[[str], float]
) -> tuple[list[float], list[float]]:
    """One existing and one new address per round, in random order; a few rounds to warm up."""
    rng = random.Random(int(os.environ.get("TIMING_SEED", "0")) or None)
    for _ in range(WARM_UP):
        probe(f"am.nong.{uuid.uuid4().hex[:10]}@example.vn")
    old_times: list[float] = []
    new_times: list[float] = []
    for address in existing:
        fresh = f"moi.{uuid.uuid4().hex[:10]}@example.vn"
        pair = [(address, old_times), (fresh, new_times)]
        rng.shuffle(pair)
        for email, into in pair:
            into.append(probe(email))
    return old_times, new_times


@pytest.fixture(scope="module")
def accounts(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def existing(accounts: httpx.Client, smtp: SmtpSink) -> list[str]:
    """SAMPLES active accounts, one per probe, each e-mailed once so far."""
    emails = [f"co.san.{uuid.uuid4().hex[:10]}@example.vn" for _ in range(SAMPLES)]
    for email in emails:
        body = {
            "email": email,
            "password": PASSWORD,
            "full_name": "Phạm Văn Có",
            "captcha_id": captcha(accounts),
            "captcha_answer": "test",
        }
        assert accounts.post("/register", json=body).status_code == 202
    for email in emails:
        code = activation_code(smtp, email)
        assert accounts.post("/activate", json={"email": email, "code": code}).status_code == 200
    return emails


def test_registration_takes_as_long_for_an_existing_email(
    accounts: httpx.Client, existing: list[str]
) -> None:
    def register(email: str) -> float:
        body = {
            "email": email,
            "password": "Mat-khau-Thu-2025",
            "full_name": "Người Thử",
            "captcha_id": captcha(accounts),
            "captcha_answer": "test",
        }
        return timed(lambda: accounts.post("/register", json=body))

    old, new = interleaved(existing, register)
    figures = compare("registration", old, new)
    assert BOUNDS[0] <= figures["median_ratio"] <= BOUNDS[1], figures
    assert BOUNDS[0] <= figures["p90_ratio"] <= BOUNDS[1], figures
    assert figures["mann_whitney_p"] > 0.001, figures


def test_password_reset_takes_as_long_for_an_existing_email(
    accounts: httpx.Client, existing: list[str]
) -> None:
    def reset(email: str) -> float:
        return timed(lambda: accounts.post("/password-reset", json={"email": email}))

    old, new = interleaved(existing, reset)
    figures = compare("password reset", old, new)
    assert BOUNDS[0] <= figures["median_ratio"] <= BOUNDS[1], figures
    assert BOUNDS[0] <= figures["p90_ratio"] <= BOUNDS[1], figures
    assert figures["mann_whitney_p"] > 0.001, figures
