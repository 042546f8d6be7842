"""Cancellation policies: how much of the price comes back when a guest cancels, by how early they cancel.

A policy (``Property.cancellation_policy``, copied onto each reservation when it is made) is a list of rules
``{"days_before": d, "refund_percent": p}``: cancelling no later than ``d`` days before check-in, at the property's
check-in time in Asia/Ho_Chi_Minh, refunds ``p`` % of what was paid. The most generous rule whose deadline has not
passed applies; once every deadline has passed nothing is refunded. ``no_show_refund_percent`` applies to a guest
who never came. Refund amounts are computed in whole minor units by payments (issue 8) from this snapshot.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import msgspec

from src.kernel.localtime import VIETNAM


class RefundRule(msgspec.Struct, forbid_unknown_fields=True):
    """Cancel at least ``days_before`` days before check-in (at check-in time) to get ``refund_percent`` back."""

    days_before: Annotated[int, msgspec.Meta(ge=0, le=365)]
    refund_percent: Annotated[int, msgspec.Meta(ge=0, le=100)]


class CancellationPolicy(msgspec.Struct, forbid_unknown_fields=True):
    """A property's cancellation policy (see the module docstring)."""

    rules: Annotated[list[RefundRule], msgspec.Meta(max_length=10)] = []
    no_show_refund_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0

    def __post_init__(self) -> None:
        days = [rule.days_before for rule in self.rules]
        if len(set(days)) != len(days):
            raise ValueError("each rule needs its own days_before")
        self.rules.sort(key=lambda rule: -rule.days_before)


def parse_policy(value: dict[str, Any]) -> CancellationPolicy:
    """Validate a stored or submitted policy; raises ``msgspec.ValidationError`` or ``ValueError``."""
    return msgspec.convert(value, CancellationPolicy)


def policy_json(policy: CancellationPolicy) -> dict[str, Any]:
    """The JSON form stored on properties and reservations."""
    return dict(msgspec.to_builtins(policy))


def deadline(check_in: date, check_in_time: time, days_before: int) -> datetime:
    """The UTC instant ``days_before`` days before check-in at ``check_in_time`` (local, Asia/Ho_Chi_Minh)."""
    local = datetime.combine(check_in - timedelta(days=days_before), check_in_time, tzinfo=VIETNAM)
    return local.astimezone(UTC)


def terms(policy: CancellationPolicy, check_in: date, check_in_time: time) -> list[dict[str, Any]]:
    """The policy applied to one stay: ``[{"until": <UTC instant>, "refund_percent": p}, ...]`` in time order; a
    cancellation at ``at`` gets the first entry with ``at <= until``, and 0 after the last one. A cancellation gets
    the most generous rule whose deadline it meets, so the percentages only go down over time."""
    steps = sorted(
        ((deadline(check_in, check_in_time, rule.days_before), rule.refund_percent) for rule in policy.rules),
        key=lambda step: step[0],
    )
    entries: list[dict[str, Any]] = []
    best = 0
    for until, percent in reversed(steps):  # latest deadline first: a cancellation before it also meets later ones
        best = max(best, percent)
        if entries and entries[-1]["refund_percent"] == best:
            continue  # the same refund until a later deadline already: this earlier one adds nothing
        entries.append({"until": until, "refund_percent": best})
    entries.reverse()
    return [entry for entry in entries if entry["refund_percent"] > 0]


def refund_percent_at(policy: CancellationPolicy, check_in: date, check_in_time: time, at: datetime) -> int:
    """The percent of the amount paid refunded for a cancellation at ``at`` (aware)."""
    for entry in terms(policy, check_in, check_in_time):
        if at <= entry["until"]:
            return int(entry["refund_percent"])
    return 0


def free_cancellation_until(policy: CancellationPolicy, check_in: date, check_in_time: time) -> datetime | None:
    """The last instant a full refund is given, or ``None`` when the stay is never fully refundable."""
    full = [e["until"] for e in terms(policy, check_in, check_in_time) if e["refund_percent"] == 100]
    return max(full) if full else None
