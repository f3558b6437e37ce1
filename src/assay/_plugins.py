"""What every plug-in registry shares: one factory per name, and the arguments it was built with.

Program judges (``judges.registry``), prompt converters (``redteam.converters``) and
curation steps (``curate.steps``) are decorated factories registered by name. A stored run
names them with the arguments they were built with, so those arguments are recorded with
their defaults filled in, as JSON. ``Registry`` is the whole pattern for plug-ins whose
factory returns the work and whose built object is a ``Configured`` subclass.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar


def claim(registry: Mapping[str, Any], name: str, factory: Callable[..., Any], what: str) -> str:
    """Refuse a second, different factory under ``name``; the factory's summary (its docstring's first line)."""
    known = registry.get(name)
    if known is not None and (known.factory.__module__, known.factory.__qualname__) != (factory.__module__, factory.__qualname__):
        raise ValueError(f"a {what} named {name!r} is already registered")
    return ((factory.__doc__ or "").strip().splitlines() or [""])[0]


def recorded_arguments(label: str, signature: inspect.Signature, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of one call, defaults filled in, as JSON values; ValueError naming ``label`` otherwise."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as e:
        raise ValueError(f"{label}: {e}") from None
    bound.apply_defaults()
    try:
        return json.loads(json.dumps(dict(bound.arguments)))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{label}: arguments must be JSON values to be recorded ({e})") from None


@dataclass(frozen=True)
class Registration:
    """One registered factory: its name, version, summary, the factory and its arguments' defaults."""

    name: str
    version: str
    description: str
    factory: Callable[..., Any]
    defaults: Mapping[str, Any]
    """Each argument's default (``inspect.Parameter.empty`` when it has none)."""


class Configured:
    """A plug-in built by a Registry: its name, version, recorded arguments and what its factory made."""

    what = "plug-in"

    def __init__(self, registration: Registration, args: dict[str, Any], made: Any) -> None:
        self.registration = registration
        self.name = registration.name
        self.version = registration.version
        self.description = registration.description
        self.args = args
        self._made = made

    def spec(self) -> dict[str, Any]:
        """What rebuilds it: ``Registry.from_spec(spec)``."""
        return {"name": self.name, "version": self.version, "args": dict(self.args)}

    def label(self) -> str:
        """``name``, or ``name(k=v, ...)`` with the arguments that differ from the defaults."""
        defaults = self.registration.defaults
        changed = {k: v for k, v in self.args.items() if defaults.get(k, inspect.Parameter.empty) != v}
        if not changed:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in changed.items()) + ")"

    def __repr__(self) -> str:
        return f"<{self.what} {self.label()}@{self.version}>"


C = TypeVar("C", bound=Configured)


class Registry(Generic[C]):
    """Factories by name (``@registry.register("name")``), each building a ``make`` (a Configured class).

    A factory takes keyword configuration (JSON values, recorded with defaults filled in),
    may refuse it with ValueError, and returns what ``make`` wraps. Names are lower-case
    letters, digits, '_' and '-'.
    """

    def __init__(self, what: str, make: type[C]) -> None:
        self.what = what
        self.make = make
        self._registry: dict[str, Registration] = {}
        self._builders: dict[str, Callable[..., C]] = {}

    def register(self, name: str, *, version: str = "1", description: str | None = None
                 ) -> Callable[[Callable[..., Any]], Callable[..., C]]:
        """Register a factory under ``name``; calling the result builds a configured plug-in."""
        if not re.fullmatch(r"[a-z][a-z0-9_\-]*", name):
            raise ValueError(f"{self.what} name {name!r} must be lower-case letters, digits, '_' or '-'")

        def register(factory: Callable[..., Any]) -> Callable[..., C]:
            summary = claim(self._registry, name, factory, self.what)
            signature = inspect.signature(factory)
            registration = Registration(name, version, description or summary, factory,
                                        {k: p.default for k, p in signature.parameters.items()})
            self._registry[name] = registration

            @functools.wraps(factory)
            def build(*args: Any, **kwargs: Any) -> C:
                recorded = recorded_arguments(f"{self.what} {name}", signature, args, kwargs)
                try:
                    made = factory(**recorded)
                except ValueError as e:
                    raise ValueError(f"{self.what} {name}: {e}") from None
                return self.make(registration, recorded, made)

            self._builders[name] = build
            return build

        return register

    def get(self, name: str) -> Registration:
        """The registration of ``name``; ValueError naming the known ones when there is none."""
        try:
            return self._registry[name]
        except KeyError:
            raise ValueError(f"no {self.what} named {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._registry)

    def registrations(self) -> list[Registration]:
        return [self._registry[n] for n in self.names()]

    def arguments(self, name: str) -> dict[str, Any]:
        """The arguments ``name`` takes, with their defaults (``inspect.Parameter.empty`` when required)."""
        return dict(self.get(name).defaults)

    def create(self, name: str, /, **args: Any) -> C:
        return self._builders[self.get(name).name](**args)

    def from_spec(self, spec: Mapping[str, Any], *, differs: str = "results may differ") -> C:
        """Rebuild from ``x.spec()``; warns when the code's version differs from the stored one."""
        built = self.create(spec["name"], **dict(spec.get("args") or {}))
        if spec.get("version") not in (None, built.version):
            warnings.warn(f"{self.what} {built.name}: stored version {spec['version']} differs from this code's "
                          f"{built.version}; {differs}", stacklevel=3)
        return built

    def parse(self, text: str) -> C:
        """One plug-in from the CLI's syntax ``name`` or ``name(key=value, ...)``."""
        name, args = parse_call(text, self.what, self.arguments)
        return self.create(name, **args)


# ---- the CLI's call syntax: ``name``, ``name(key=value, ...)``, joined by ``+`` ----------------

_CALL = re.compile(r"\s*([a-z][a-z0-9_\-]*)\s*(?:\((.*)\))?\s*", re.S)


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` cut at each ``sep`` outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def split_calls(text: str, sep: str = "+") -> list[str]:
    """The calls of ``a+b(k=v)+c``, cut at ``sep`` outside brackets and quotes; empty parts left out."""
    return [p for p in (p.strip() for p in _split_top(text, sep)) if p]


def parse_value(raw: str) -> Any:
    """One argument value: JSON, else a list of such values in brackets, else the text (quotes stripped)."""
    raw = raw.strip()
    try:
        return json.loads(raw)
    except ValueError:
        pass
    if raw.startswith("[") and raw.endswith("]"):
        return [parse_value(p) for p in split_calls(raw[1:-1], ",")]
    return raw.strip("'\"")


def parse_call(text: str, what: str, known: Callable[[str], Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """``(name, arguments)`` of one call ``name`` or ``name(key=value, ...)``.

    ``known(name)`` gives the arguments a name takes (and raises ValueError for an unknown
    name). ValueError names the call, the argument at fault and what ``what`` takes.
    """
    m = _CALL.fullmatch(text)
    if not m:
        raise ValueError(f"cannot read {what} step {text.strip()!r}: write NAME or NAME(key=value, ...)")
    name, raw = m.group(1), m.group(2) or ""
    takes = known(name)
    args: dict[str, Any] = {}
    for pair in split_calls(raw, ","):
        key, eq, value = pair.partition("=")
        if not eq:
            raise ValueError(f"{what} {name}: argument {pair!r} must be written key=value")
        args[key.strip()] = parse_value(value)
    unknown = sorted(set(args) - set(takes))
    if unknown:
        raise ValueError(f"{what} {name} takes no argument {', '.join(unknown)}; it takes: {', '.join(takes) or 'none'}")
    return name, args
