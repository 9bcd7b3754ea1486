"""Judge a history: true / false / unknown, with evidence (docs/design.md, section 6).

The checkers read only the history (and the context: the policies under test and
the bounds); they consult the policy oracle (``pytest_fluxchaos.policy``) for the
order of tags and for the tag Flux should pick.

``no-regression``  every change of a policy's latest tag moves forward in its order
``converges``      after the faults, each policy reaches the oracle's tag, Ready
``never-stuck``    no policy stays not-Ready long while matching tags exist
``ready-honest``   no policy stays Ready=True long while its repository fails
``no-oom``         no controller container OOM-killed except by an injected oom-kill
``faults-landed``  every injected fault was confirmed (else unknown, never true)
``git-no-regression``  no commit on the push branch moves a setter marker backwards
``git-converges``  the push branch ends at the best tag within the bound
(the two Git checkers apply only to scenarios with ``automation:``)

Typical use::

    verdicts = run_checkers(history, CheckContext(policies=(PolicyUnderTest(...),)))
    if overall(verdicts) is not Validity.TRUE:
        print("\\n".join(v.render() for v in verdicts.values()))
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from pytest_fluxchaos.history import History

from .converges import Converges
from .core import (CheckContext, Checker, PolicyUnderTest, Validity, Verdict, combine,
                   overall)
from .faults_landed import FaultsLanded
from .git_converges import GitConverges
from .git_no_regression import GitNoRegression
from .never_stuck import NeverStuck
from .no_oom import NoOom
from .no_regression import NoRegression
from .ready_honest import ReadyHonest

DEFAULT_CHECKERS: tuple[Checker, ...] = (NoRegression(), Converges(), NeverStuck(),
                                         ReadyHonest(), NoOom(), FaultsLanded(), GitNoRegression(),
                                         GitConverges())

CHECKERS_BY_NAME: dict[str, Checker] = {c.name: c for c in DEFAULT_CHECKERS}
CHECKER_NAMES: tuple[str, ...] = tuple(CHECKERS_BY_NAME)
"""The one list of checker names: suites' ``expect``, reports and JUnit properties read it."""
GIT_CHECKER_NAMES: tuple[str, ...] = ("git-no-regression", "git-converges")
"""Checkers that judge the automation's Git history; they apply only with ``automation:``."""


def applies(checker: Checker, ctx: CheckContext) -> bool:
    """A checker applies unless it says otherwise (the Git ones need an automation)."""
    test = getattr(checker, "applies", None)
    return bool(test(ctx)) if callable(test) else True


def checker_names(automation: bool) -> tuple[str, ...]:
    """The checkers a scenario is judged by."""
    return tuple(n for n in CHECKER_NAMES if automation or n not in GIT_CHECKER_NAMES)


def run_checkers(history: History, ctx: CheckContext,
                 checkers: Iterable[Checker] = DEFAULT_CHECKERS) -> dict[str, Verdict]:
    """Run each checker; a checker that raises yields an *unknown* verdict with the error
    (as in Jepsen: a crashed checker proves nothing either way), never hides the others."""
    verdicts: dict[str, Verdict] = {}
    for checker in checkers:
        if not applies(checker, ctx):
            continue
        try:
            verdict = checker.check(history, ctx)
        except Exception as exc:  # noqa: BLE001 - reported in the verdict
            verdict = Verdict(
                checker.name, Validity.UNKNOWN,
                f"checker crashed: {type(exc).__name__}: {exc}",
                [f"checker {checker.name} raised {type(exc).__name__}: {exc}"],
                {"error": repr(exc), "traceback": traceback.format_exc()},
            )
        verdicts[checker.name] = verdict
    return verdicts


__all__ = [
    "CHECKERS_BY_NAME", "CHECKER_NAMES", "CheckContext", "Checker", "Converges", "DEFAULT_CHECKERS",
    "FaultsLanded", "GIT_CHECKER_NAMES", "GitConverges", "GitNoRegression", "NeverStuck",
    "NoOom", "NoRegression", "PolicyUnderTest", "ReadyHonest", "Validity", "Verdict",
    "applies", "checker_names", "combine", "overall", "run_checkers",
]
