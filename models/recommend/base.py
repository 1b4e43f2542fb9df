"""The interface every recommendation policy implements, and its shared contract check.

Like river's ``check_estimator``: any new policy (a learned bandit, say) must pass
:func:`check_policy`, which tests/models/test_recommend.py runs for each implementation.
"""

from __future__ import annotations

import copy
from typing import Callable, Protocol, runtime_checkable

from .policy import Recommendation
from .state import RoomState


@runtime_checkable
class NextBestActionPolicy(Protocol):
    def evaluate(self, state: RoomState, now_ms: int) -> list[Recommendation]:
        """Recommendations that apply at stream time ``now_ms``; records cooldown/dedup in ``state``."""
        ...


def check_policy(policy: NextBestActionPolicy, busy_state: Callable[[], RoomState]) -> None:
    """Assert the policy contract. ``busy_state()`` builds a state on which the policy recommends
    something at ``now_ms = busy_state().latest_ms``."""
    assert isinstance(policy, NextBestActionPolicy)

    # A fresh room with no data: no crash, nothing to recommend.
    assert policy.evaluate(RoomState("empty-room"), 0) == []

    state = busy_state()
    now = state.latest_ms
    twin = copy.deepcopy(state)
    recs = policy.evaluate(state, now)
    assert recs, "busy_state() must yield at least one recommendation"
    # Deterministic: the same state at the same time gives the same answer.
    assert policy.evaluate(twin, now) == recs
    for rec in recs:
        assert isinstance(rec, Recommendation)
        assert rec.rec_type and rec.message_zh and rec.message_en and rec.reason
        assert 0 <= rec.priority <= 100
        assert rec.expires_ms > now
        assert rec.dedup_key.startswith(f"{state.room_id}:")
        assert isinstance(rec.evidence, dict) and rec.evidence
    assert [r.priority for r in recs] == sorted((r.priority for r in recs), reverse=True)
    assert len({r.dedup_key for r in recs}) == len(recs)
    # No spam: asking again at once repeats nothing.
    assert policy.evaluate(state, now) == []
    assert policy.evaluate(state, now + 1) == []
