"""Loading YAML suites: parse with line numbers, validate everything, fail in one line.

Validation happens at collection, before any environment is created, and every mistake
becomes ``file:line: what was expected``. ruamel.yaml keeps the line of each key, so a
pydantic error location (``scenarios.0.policies.1.policy``) maps back to the line the
user must fix. Cross-references (a policy naming an unknown repository, a trigger on an
unknown policy, an invalid semver range ...) are checked the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from .checkers import CHECKER_NAMES, GIT_CHECKER_NAMES
from .explore.spec import ExploreSpec
from .scenario import Bounds, Model, Scenario
from .variants import PRESETS, Variant, VariantError, resolve

Loc = tuple[str | int, ...]


class Defaults(Model):
    variants: list[str] | None = None
    bounds: dict[str, Any] | None = None


class SuiteDoc(Model):
    suite: str | None = None
    description: str = ""
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    scenarios: list[dict[str, Any]] = Field(default_factory=list)
    explore: dict[str, Any] | None = None


@dataclass
class Suite:
    path: Path
    name: str
    description: str
    variants: dict[str, Variant]
    scenarios: list[Scenario]
    default_variants: list[str] = field(default_factory=lambda: ["single"])
    lines: dict[str, int] = field(default_factory=dict)  # scenario name -> line
    explore: ExploreSpec | None = None  # the suite's ``explore:`` section

    def variants_for(self, scenario: Scenario, override: Sequence[str] | None = None) -> list[str]:
        """Variants to run: the command line wins, then the scenario, then the suite default."""
        return list(override or scenario.variants or self.default_variants)


@dataclass(frozen=True)
class SuiteIssue:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class SuiteError(Exception):
    """One or more problems in a suite file; ``str()`` is one line per problem."""

    def __init__(self, issues: list[SuiteIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def _line_of(root: Any, loc: Loc) -> int | None:
    """The 1-based line of the deepest node along ``loc`` that has one."""
    node, line = root, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    if line is None and isinstance(root, (CommentedMap, CommentedSeq)):
        line = root.lc.line + 1
    return line


PATTERN_HINTS = {
    "name": "a lowercase Kubernetes name (a-z, 0-9, '-', '.')",
    "target": "leader, standby, registry or pod-N",
    "memory": "a quantity like 512Mi or 1Gi",
}


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    got = error.get("input")
    if kind == "extra_forbidden":
        msg = "unknown key (not part of the suite schema)"
    elif kind == "missing":
        msg = "required key is missing"
    elif kind == "literal_error":
        msg = f"expected {msg.removeprefix('Input should be ')}, got {got!r}"
    elif kind == "string_pattern_mismatch":
        field = str(error["loc"][-1])
        msg = f"expected {PATTERN_HINTS.get(field, 'a value matching ' + msg.split('pattern ')[-1])}, got {got!r}"
    return f"{loc}: {msg}" if loc else msg


def _pydantic_issues(path: Path, root: Any, exc: ValidationError, prefix: Loc) -> list[SuiteIssue]:
    errors: list[dict[str, Any]] = []
    for raw in exc.errors():
        loc = prefix + tuple(p for p in raw["loc"] if not str(p).startswith("function-"))
        errors.append({**raw, "loc": loc})
    # A misspelt key shows up twice (unknown key + required key missing): say it once.
    missing = {e["loc"]: e for e in errors if e["type"] == "missing"}
    merged: list[dict[str, Any]] = []
    dropped: set[Loc] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            parent, key = error["loc"][:-1], str(error["loc"][-1])
            candidates = [str(m[-1]) for m in missing if m[:-1] == parent]
            close = difflib.get_close_matches(key, candidates, n=1)
            if close:
                dropped.add(parent + (close[0],))
                error = {**error, "msg": f"unknown key; did you mean {close[0]!r}?",
                         "type": "custom"}
        merged.append(error)
    issues: list[SuiteIssue] = []
    seen: set[Loc] = set()
    for error in merged:
        if error["loc"] in dropped and error["type"] == "missing":
            continue
        # A union reports one error per member; keep the first per location.
        key = error["loc"][: len(prefix) + 3]
        if key in seen:
            continue
        seen.add(key)
        issues.append(SuiteIssue(path, _line_of(root, error["loc"]), _describe(error)))
    return issues


def load_suite(path: str | Path) -> Suite:
    """Parse and fully validate a suite file; raises :class:`SuiteError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError([SuiteIssue(path, None, f"cannot read suite: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        byte_line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise SuiteError([SuiteIssue(path, byte_line, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                                                 f"offset {exc.start}); a suite is a YAML file")]) from None
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = int(mark.line) + 1 if mark else None
        raise SuiteError([SuiteIssue(path, at, f"invalid YAML: {exc.problem or exc.context}")]) from None
    except ReaderError as exc:  # a character YAML does not allow (a control byte, ...)
        char_line = text[:exc.position].count("\n") + 1
        raise SuiteError([SuiteIssue(path, char_line, f"invalid YAML: unacceptable character "
                                                 f"#x{exc.character:04x}")]) from None
    except YAMLError as exc:  # anything else ruamel rejects: still one line
        raise SuiteError([SuiteIssue(path, None, f"invalid YAML: {' '.join(str(exc).split())}")]) from None
    if not isinstance(root, CommentedMap):
        got = "an empty file" if root is None else f"a {'list' if isinstance(root, list) else 'scalar'}"
        raise SuiteError([SuiteIssue(path, 1, f"expected a mapping with a 'scenarios' list, got {got}")])
    try:
        doc = SuiteDoc.model_validate(_plain(root))
    except ValidationError as exc:
        raise SuiteError(_pydantic_issues(path, root, exc, ())) from None

    issues: list[SuiteIssue] = []
    custom: dict[str, Variant] = {}
    for name, body in doc.variants.items():
        try:
            custom[name] = Variant.model_validate({**body, "name": name})
        except ValidationError as exc:
            issues += _pydantic_issues(path, root, exc, ("variants", name))
    for name in custom:
        try:
            resolve(name, custom)
        except VariantError as exc:
            issues.append(SuiteIssue(path, _line_of(root, ("variants", name)), str(exc)))
    known_variants = {**PRESETS, **custom}
    default_variants = doc.defaults.variants or ["single"]
    for i, name in enumerate(default_variants):
        if name not in known_variants:
            issues.append(SuiteIssue(path, _line_of(root, ("defaults", "variants", i)),
                                     _unknown_variant(name, known_variants)))

    scenarios, lines = [], {}
    for index, raw in enumerate(doc.scenarios):
        body = dict(raw)
        if doc.defaults.bounds is not None:
            body["bounds"] = {**doc.defaults.bounds, **(body.get("bounds") or {})}
        try:
            scenario = Scenario.model_validate(body)
        except ValidationError as exc:
            issues += _pydantic_issues(path, root, exc, ("scenarios", index))
            continue
        if scenario.name in lines:
            issues.append(SuiteIssue(path, _line_of(root, ("scenarios", index, "name")),
                                     f"scenarios.{index}.name: duplicate scenario name "
                                     f"{scenario.name!r}"))
        lines[scenario.name] = _line_of(root, ("scenarios", index)) or 1
        issues += [SuiteIssue(path, _line_of(root, ("scenarios", index) + loc),
                              f"scenarios.{index}.{msg}")
                   for loc, msg in check_references(scenario, known_variants)]
        scenarios.append(scenario)
    explore = None
    if doc.explore is not None:
        explore, problems = _explore(path, root, doc, known_variants)
        issues += problems
    elif not doc.scenarios:
        issues.append(SuiteIssue(path, 1, "expected a 'scenarios' list or an 'explore' section"))
    if issues:
        raise SuiteError(sorted(issues, key=lambda i: i.line or 0))
    return Suite(path=path, name=doc.suite or path.stem, description=doc.description,
                 variants=custom, scenarios=scenarios, default_variants=default_variants,
                 lines=lines, explore=explore)


def _explore(path: Path, root: Any, doc: SuiteDoc,
             known_variants: dict[str, Any]) -> tuple[ExploreSpec | None, list[SuiteIssue]]:
    """The ``explore:`` section, checked like a scenario (its world) plus its own rules."""
    body = dict(doc.explore or {})
    if doc.defaults.bounds is not None:
        body["bounds"] = {**doc.defaults.bounds, **(body.get("bounds") or {})}
    try:
        spec = ExploreSpec.model_validate(body)
    except ValidationError as exc:
        return None, _pydantic_issues(path, root, exc, ("explore",))
    issues = [SuiteIssue(path, _line_of(root, ("explore",) + loc), f"explore.{msg}")
              for loc, msg in check_references(spec.base(), known_variants)]
    for i, name in enumerate(spec.variants or []):
        if name not in known_variants:
            issues.append(SuiteIssue(path, _line_of(root, ("explore", "variants", i)),
                                     f"explore.variants.{i}: {_unknown_variant(name, known_variants)}"))
    for image in spec.images:
        if not image.tags:
            issues.append(SuiteIssue(path, _line_of(root, ("explore", "images")),
                                     f"explore.images: image {image.name!r} needs a tag sequence to push from"))
    return spec, issues


def _unknown_variant(name: str, known: dict[str, Any]) -> str:
    return f"unknown variant {name!r}; expected one of: {', '.join(sorted(known))}"


def check_references(scenario: Scenario, known_variants: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Cross-field rules pydantic cannot see; returns ``(location, message)`` pairs."""
    from .policy import PolicyError, validate_policy

    out: list[tuple[Loc, str]] = []
    images = {i.name for i in scenario.images}
    repos = {r.name for r in scenario.repositories}
    policies = {p.name for p in scenario.policies}
    named: tuple[tuple[str, list[str]], ...] = (
        ("images", [i.name for i in scenario.images]),
        ("repositories", [r.name for r in scenario.repositories]),
        ("policies", [p.name for p in scenario.policies]))
    for kind, names in named:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                out.append(((kind, i, "name"), f"{kind}.{i}.name: duplicate name {name!r}"))
            seen.add(name)
    for i, repo in enumerate(scenario.repositories):
        if repo.image not in images:
            out.append((("repositories", i, "image"),
                        f"repositories.{i}.image: unknown image {repo.image!r}; "
                        f"expected one of: {', '.join(sorted(images))}"))
    for i, pol in enumerate(scenario.policies):
        if pol.repository not in repos:
            out.append((("policies", i, "repository"),
                        f"policies.{i}.repository: unknown repository {pol.repository!r}; "
                        f"expected one of: {', '.join(sorted(repos))}"))
        try:
            validate_policy(pol.policy, pol.filter_tags)
        except PolicyError as exc:
            out.append((("policies", i, "policy"), f"policies.{i}.policy: {exc.message}"))
    fault_ids: set[str] = set()
    for i, step in enumerate(scenario.steps):
        action = step.push or step.delete
        if action is not None and action.image not in images:
            key = "push" if step.push else "delete"
            out.append((("steps", i, key, "image"),
                        f"steps.{i}.{key}.image: unknown image {action.image!r}"))
        if (step.push and step.push.next and step.push.image in images
                and not scenario.image(step.push.image).tags):
            out.append((("steps", i, "push", "next"),
                        f"steps.{i}.push.next: image {step.push.image!r} has no tag sequence"))
        if step.reconcile is not None:
            rec = step.reconcile
            if rec.repository is not None and rec.repository not in repos:
                out.append((("steps", i, "reconcile", "repository"),
                            f"steps.{i}.reconcile.repository: unknown repository {rec.repository!r}"))
            if rec.policy is not None and rec.policy not in policies:
                out.append((("steps", i, "reconcile", "policy"),
                            f"steps.{i}.reconcile.policy: unknown policy {rec.policy!r}"))
        image = getattr(step.fault.params, "image", None) if step.fault else None
        if image is not None and image != "*" and image not in images:
            out.append((("steps", i, "fault", "image"),
                        f"steps.{i}.fault.image: unknown image {image!r}; "
                        f"expected * or one of: {', '.join(sorted(images))}"))
        if step.fault and step.fault.id:
            if step.fault.id in fault_ids:
                out.append((("steps", i, "fault", "id"),
                            f"steps.{i}.fault.id: duplicate fault id {step.fault.id!r}"))
            fault_ids.add(step.fault.id)
        trig = step.after
        if trig is not None:
            if trig.policy is not None and trig.policy not in policies:
                out.append((("steps", i, "after", "policy"),
                            f"steps.{i}.after.policy: unknown policy {trig.policy!r}"))
            if trig.scan is not None and trig.scan not in repos:
                out.append((("steps", i, "after", "scan"),
                            f"steps.{i}.after.scan: unknown repository {trig.scan!r}"))
            if trig.fault is not None and trig.fault not in fault_ids:
                out.append((("steps", i, "after", "fault"),
                            f"steps.{i}.after.fault: no earlier fault with id {trig.fault!r}"))
    for idx, variant in enumerate(scenario.variants or []):
        if variant not in known_variants:
            out.append((("variants", idx), f"variants.{idx}: {_unknown_variant(variant, known_variants)}"))
    for key, verdicts in scenario.expect.items():
        variant = key.split("@", 1)[0]
        if variant != "*" and variant not in known_variants:
            out.append((("expect", key), f"expect.{key}: {_unknown_variant(variant, known_variants)}"))
        for checker in verdicts:
            if checker not in CHECKER_NAMES:
                out.append((("expect", key, checker),
                            f"expect.{key}.{checker}: unknown checker; expected one of: "
                            f"{', '.join(CHECKER_NAMES)}"))
            elif checker in GIT_CHECKER_NAMES and scenario.automation is None:
                out.append((("expect", key, checker),
                            f"expect.{key}.{checker}: judges Git, but the scenario has no "
                            f"automation: section"))
    return out


def _plain(node: Any) -> Any:
    """ruamel's commented containers -> plain dicts/lists (pydantic wants plain types)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


__all__ = ["Bounds", "Suite", "SuiteError", "SuiteIssue", "load_suite", "check_references"]
