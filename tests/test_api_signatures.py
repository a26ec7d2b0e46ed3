"""The public API that benchmarks (bench/) and users call: its signatures are pinned so a change is noticed.

A pinned function keeps every parameter listed here, in this order, with the same kind and default. New parameters
may be added only as keyword-only parameters with a default (calls written against the pinned signature keep
working); parameters whose names start with an underscore are private and not pinned. Changing a pinned parameter
means changing this file in the same commit, with the reason in the commit message.
"""

from __future__ import annotations

import inspect

import pytest

REQ = inspect.Parameter.empty
P, K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY

PINNED = {
    "evidence.did:twfe": ("EstimateResult", [("design", P, REQ), ("outcome", P, REQ), ("log", K, False), ("alpha", K, 0.05), ("engine", K, "auto"), ("controls", K, None)]),
    "evidence.did:event_study": ("EventStudyResult", [("design", P, REQ), ("outcome", P, REQ), ("log", K, False), ("window", K, (-12, 12)), ("alpha", K, 0.05), ("engine", K, "numpy"), ("controls", K, None)]),
    "evidence.synth:sdid": ("SynthResult", [("design", P, REQ), ("outcome", P, REQ), ("log", K, False), ("estimator", K, "sdid"), ("inference", K, "placebo"), ("draws", K, 200), ("seed", K, 0), ("alpha", K, 0.05), ("units", K, None), ("noise_level", K, None)]),
    "evidence.staggered:sun_abraham": ("EventStudyResult", [("design", P, REQ), ("outcome", P, REQ), ("log", K, False), ("control", K, "never_treated"), ("window", K, None), ("alpha", K, 0.05), ("controls", K, None)]),
    "evidence.staggered:imputation": ("EventStudyResult", [("design", P, REQ), ("outcome", P, REQ), ("log", K, False), ("anticipation", K, 0), ("horizons", K, None), ("alpha", K, 0.05), ("controls", K, None)]),
    "evidence.staggered:att_gt": (
        "AttGtResult",
        [
            ("data", P, REQ), ("yname", P, REQ), ("tname", P, REQ), ("idname", P, REQ), ("gname", P, REQ), ("covariates", P, None),
            ("control_group", P, "never_treated"), ("est_method", P, "dr"), ("base_period", P, "varying"), ("anticipation", P, 0),
            ("cluster", P, None), ("alpha", P, 0.05), ("bootstrap_draws", P, 0), ("seed", P, None), ("outcome_label", P, None),
            ("allow_unbalanced", K, False), ("bootstrap_weights", K, "rademacher"),
        ],
    ),
    "evidence.design:from_frame": (
        "Design",
        [
            ("df", P, REQ), ("unit", K, REQ), ("time", K, REQ), ("outcome", K, REQ), ("cohort", K, REQ), ("start", K, None), ("end", K, None),
            ("comparison", K, "not_yet_treated"), ("cluster", K, None), ("controls", K, None), ("covariates", K, None), ("outcome_kinds", K, None),
            ("first_period", K, None), ("missing", K, "error"), ("name", K, "data frame"),
        ],
    ),
}


def _resolve(path: str):
    module, name = path.split(":")
    return getattr(__import__(module, fromlist=[name]), name)


@pytest.mark.parametrize("path", sorted(PINNED))
def test_public_signature_is_pinned(path):
    returns, pinned = PINNED[path]
    sig = inspect.signature(_resolve(path))
    public = [p for p in sig.parameters.values() if not p.name.startswith("_")]
    got = [(p.name, p.kind, p.default) for p in public[: len(pinned)]]
    assert got == pinned, f"{path}: the pinned parameters changed"
    for p in public[len(pinned) :]:  # additions: keyword-only with a default, so existing calls keep working
        assert p.kind == K and p.default is not REQ, f"{path}: new parameter {p.name!r} must be keyword-only with a default"
    annotation = sig.return_annotation
    assert (annotation if isinstance(annotation, str) else annotation.__name__) == returns


def test_pinned_functions_are_reachable_from_their_packages():
    import evidence

    assert evidence.design.from_frame is _resolve("evidence.design:from_frame")
    assert evidence.did.twfe is _resolve("evidence.did:twfe") and evidence.staggered.att_gt is _resolve("evidence.staggered:att_gt")
