"""assay's one plug-in registry: factories keyed by kind and name, built-in or added by installed packages.

Every extension point is a kind (:data:`KINDS`): program judges (``verifier``, ``metric``),
prompt converters, curation steps, model providers, run executors, a run's unit work,
published label formats, and the iterative attack's program scorers. A factory is
registered with one decorator, built-in or not::

    from assay import plugins

    @plugins.register("verifier", "shouting", version="1")
    def shouting(min_caps: float = 0.5):
        \"\"\"The response is mostly capital letters.\"\"\"
        ...  # returns check(response, target) -> Verdict

    plugins.names("verifier")                       # [..., 'shouting', ...]
    plugins.create("verifier", "shouting", min_caps=0.8)

What the decorator returns depends on the kind: for judges, converters and curation steps
a builder that records the arguments it is called with (defaults filled in, as JSON), so
``x.spec()`` stored in a run's config rebuilds the same component (:class:`Factories`,
:class:`Configured`); for the other kinds the factory itself.

**Entry points.** An installed package adds plug-ins by naming, in the entry-point group
``assay.plugins``, a module that registers them when imported (or a callable, called with
no arguments, that does)::

    [project.entry-points."assay.plugins"]
    shouting = "assay_shouting"

They are loaded once, on the first look-up of any kind, so commands that look nothing up
import no plug-in. A plug-in that fails to load is skipped with one line on the ``assay.plugins``
logger (stderr when logging is not configured) naming it and the error, and what it had
registered before failing is withdrawn; other plug-ins and every command that does not need it
work as before, and asking for a name it would have provided says it did not load. A plug-in may
not take a name assay or another plug-in already uses in the same kind (``verifier`` and
``metric`` share their names): it is refused the same way.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import logging
import re
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

ENTRY_POINT_GROUP = "assay.plugins"

log = logging.getLogger("assay.plugins")


@dataclass(frozen=True)
class Kind:
    """One kind of plug-in: how messages name it, and the modules that define it and hold its built-ins."""

    name: str
    what: str
    modules: tuple[str, ...]
    namespace: str = ""
    """Kinds with the same namespace share their names (program judges: verifier and metric)."""
    pattern: str | None = None
    """What a name must match, when the kind restricts it."""


_SIMPLE = r"[a-z][a-z0-9_\-]*"

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("verifier", "program judge", ("assay.judges.registry", "assay.redteam.bbq", "assay.redteam.canary",
                                       "assay.redteam.code", "assay.redteam.rendering"), namespace="program judge"),
    Kind("metric", "program judge", ("assay.judges.registry",), namespace="program judge"),
    Kind("converter", "converter", ("assay.redteam.converters",), pattern=_SIMPLE),
    Kind("curation-step", "curation step", ("assay.curate.steps",), pattern=_SIMPLE),
    Kind("provider", "provider", ("assay.providers._registry", "assay.providers._openai")),
    Kind("executor", "executor", ("assay.runs._executor",)),
    Kind("unit-work", "unit work", ("assay.runs._remote",)),
    Kind("label-preset", "label preset", ("assay.io.labels._pairwise", "assay.io.labels._ratings")),
    Kind("attack-scorer", "program scorer", ("assay.redteam.iterative",)),
    Kind("probe", "probe", ("assay.library.probes",), pattern=_SIMPLE),
    Kind("suite-probe", "suite probe", ("assay.redteam.suites",), pattern=_SIMPLE),
)}
"""Every kind of plug-in assay has."""


@dataclass(frozen=True)
class Registration:
    """One registered factory: its kind, name, version, summary, the factory and its arguments' defaults."""

    kind: str
    name: str
    version: str | Callable[[dict[str, Any]], str]
    """A version, or a function of the recorded arguments giving one (e.g. a library's version)."""
    description: str
    factory: Callable[..., Any]
    defaults: Mapping[str, Any]
    """Each argument's default (``inspect.Parameter.empty`` when it has none)."""
    plugin: str | None = None
    """The entry point that registered it; None for assay's own."""


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


Wrap = Callable[[Registration], Callable[..., Any]]


class Registry:
    """Every plug-in by kind and name; the module's :data:`REGISTRY` is the one instance."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {k: {} for k in KINDS}
        self._built: dict[tuple[str, str], Callable[..., Any]] = {}
        self._wraps: dict[str, Wrap] = {}
        self._ready: set[str] = set()
        self._lock = threading.RLock()
        self._loaded = False
        self._loader: int | None = None
        """The thread loading the entry points, while it does."""
        self._loading: str | None = None
        """The entry point that thread is loading, if any: what it registers is that plug-in's."""
        self._added: list[tuple[str, str]] = []
        self.failed: dict[str, str] = {}
        """Plug-ins that did not load: entry point name -> the one-line reason."""

    # ---- kinds -------------------------------------------------------------------------------

    def _kind(self, kind: str) -> Kind:
        try:
            return KINDS[kind]
        except KeyError:
            raise ValueError(f"no plug-in kind {kind!r}; kinds: {', '.join(KINDS)}") from None

    def _ensure(self, kind: str) -> Kind:
        """The kind, its defining modules imported (so its built-ins are registered before anything else)."""
        k = self._kind(kind)
        if kind not in self._ready:
            self._ready.add(kind)
            loading, self._loading = self._loading, None  # built-ins imported while a plug-in loads are assay's
            try:
                for module in k.modules:
                    importlib.import_module(module)
            except BaseException:
                self._ready.discard(kind)
                raise
            finally:
                self._loading = loading
        return k

    def define(self, kind: str, wrap: Wrap) -> None:
        """Say what the decorator returns for ``kind``: ``wrap(registration)`` (by default the factory itself)."""
        self._kind(kind)
        self._wraps[kind] = wrap

    # ---- registering -------------------------------------------------------------------------

    def register(self, kind: str, name: str, *, version: str | Callable[[dict[str, Any]], str] = "1",
                 description: str | None = None) -> Callable[[Callable[..., Any]], Any]:
        """Register a factory of ``kind`` under ``name``; the decorated name becomes what the kind makes of it."""
        k = self._ensure(kind)
        if k.pattern and not re.fullmatch(k.pattern, name):
            raise ValueError(f"{k.what} name {name!r} must be lower-case letters, digits, '_' or '-'")

        def register(factory: Callable[..., Any]) -> Any:
            plugin = self._plugin()
            summary = self._claim(k, name, factory, plugin)
            signature = inspect.signature(factory)
            reg = Registration(kind, name, version, description or summary, factory,
                               {p: v.default for p, v in signature.parameters.items()}, plugin)
            built = self._wraps.get(kind, lambda r: r.factory)(reg)
            self._entries[kind][name] = reg
            self._built[kind, name] = built
            if plugin is not None:
                self._added.append((kind, name))
            return built

        return register

    def _plugin(self) -> str | None:
        """The plug-in being loaded by this thread, if any."""
        return self._loading if self._loader == threading.get_ident() else None

    def _claim(self, k: Kind, name: str, factory: Callable[..., Any], plugin: str | None) -> str:
        """Refuse a second, different factory under ``name``; the factory's summary (its docstring's first line)."""
        for other in KINDS.values():
            if other.name != k.name and (not k.namespace or other.namespace != k.namespace):
                continue
            known = self._entries[other.name].get(name)
            if known is None or (known.factory.__module__, known.factory.__qualname__) == (
                    factory.__module__, factory.__qualname__):
                continue
            if plugin is not None:
                owner = f"plug-in {known.plugin!r}" if known.plugin else "assay"
                raise ValueError(f"{k.what} {name!r} is already registered by {owner}; a plug-in may not replace it")
            if known.plugin is not None:
                raise ValueError(f"plug-in {known.plugin!r} registered {k.what} {name!r}, which is assay's own; "
                                 f"uninstall or rename it")
            raise ValueError(f"a {k.what} named {name!r} is already registered")
        return ((factory.__doc__ or "").strip().splitlines() or [""])[0]

    # ---- looking up --------------------------------------------------------------------------

    def _lookup(self, kind: str) -> Kind:
        k = self._ensure(kind)
        if not self._loaded:
            self.load_plugins()
        return k

    def get(self, kind: str, name: str) -> Registration:
        """The registration of ``name``; ValueError naming the known ones when there is none."""
        k = self._lookup(kind)
        try:
            return self._entries[kind][name]
        except KeyError:
            raise ValueError(f"no {k.what} named {name!r}; known: {', '.join(self.names(kind))}"
                             f"{self.failure_note()}") from None

    def find(self, kind: str, name: str) -> Registration | None:
        """The registration of ``name``, or None."""
        self._lookup(kind)
        return self._entries[kind].get(name)

    def names(self, kind: str) -> list[str]:
        self._lookup(kind)
        return sorted(self._entries[kind])

    def registrations(self, kind: str) -> list[Registration]:
        return [self._entries[kind][n] for n in self.names(kind)]

    def builder(self, kind: str, name: str) -> Callable[..., Any]:
        """What the decorator returned for ``name`` (a builder recording its arguments, or the factory)."""
        return self._built[kind, self.get(kind, name).name]

    def create(self, kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Build ``name`` of ``kind`` with these arguments."""
        return self.builder(kind, name)(*args, **kwargs)

    def failure_note(self) -> str:
        """``" (plug-ins that did not load: ...)"`` when some did not, else ``""``; for unknown-name messages."""
        return f" (plug-ins that did not load: {', '.join(sorted(self.failed))})" if self.failed else ""

    # ---- entry points ------------------------------------------------------------------------

    def load_plugins(self) -> None:
        """Load every installed entry point of the group ``assay.plugins`` (once; later calls do nothing)."""
        with self._lock:  # another thread's look-up waits until the plug-ins are loaded
            if self._loaded or self._loader == threading.get_ident():  # a plug-in looking something up
                return
            from importlib.metadata import entry_points

            self._loader = threading.get_ident()
            try:
                for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                    self._load_one(ep)
            finally:
                self._loader = None
                self._loaded = True

    def _load_one(self, ep: Any) -> None:
        self._loading, self._added = ep.name, []
        try:
            loaded = ep.load()
            if callable(loaded) and not inspect.ismodule(loaded):
                loaded()
        except Exception as e:  # noqa: BLE001 - any failure of a plug-in is reported and skipped
            for kind, name in self._added:
                self._entries[kind].pop(name, None)
                self._built.pop((kind, name), None)
            reason = " ".join(f"{type(e).__name__}: {e}".split())
            self.failed[ep.name] = reason
            log.warning("assay: plug-in %r (%s) did not load and is skipped: %s", ep.name, ep.value, reason)
        finally:
            self._loading, self._added = None, []


REGISTRY = Registry()
"""assay's one registry of plug-ins."""


def register(kind: str, name: str, *, version: str | Callable[[dict[str, Any]], str] = "1",
             description: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Register the decorated factory as ``name`` of ``kind`` (see :data:`KINDS`)."""
    return REGISTRY.register(kind, name, version=version, description=description)


def get(kind: str, name: str) -> Registration:
    """The registration of ``name`` of ``kind``; ValueError naming the known ones when there is none."""
    return REGISTRY.get(kind, name)


def names(kind: str) -> list[str]:
    """The names registered for ``kind``, built-in and from plug-ins."""
    return REGISTRY.names(kind)


def create(kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build ``name`` of ``kind``: a configured component, or what the factory returns."""
    return REGISTRY.create(kind, name, *args, **kwargs)


# ---- configured plug-ins: recorded arguments, spec and from_spec ---------------------------------


class Configured:
    """A plug-in built with recorded arguments: its name, version, arguments and what its factory made."""

    what = "plug-in"

    def __init__(self, registration: Registration, args: dict[str, Any], made: Any) -> None:
        self.registration = registration
        self.name = registration.name
        version = registration.version
        self.version = version(args) if callable(version) else version
        self.description = registration.description
        self.args = args
        self._made = made

    def spec(self) -> dict[str, Any]:
        """What rebuilds it: ``Factories.from_spec(spec)``."""
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


class Factories(Generic[C]):
    """The plug-ins of one kind whose factories take keyword configuration and are built into a ``make``.

    A factory takes keyword configuration (JSON values, recorded with defaults filled in),
    may refuse it with ValueError, and returns what ``make`` (a Configured class) wraps.
    ``prefix``: ValueErrors from the factory are prefixed with the kind and name.
    """

    def __init__(self, kind: str, make: type[C], *, prefix: bool = True) -> None:
        self.kind = kind
        self.what = KINDS[kind].what
        self.make = make
        what = self.what

        def wrap(reg: Registration) -> Callable[..., C]:
            signature = inspect.signature(reg.factory)
            label = f"{what} {reg.name}" if prefix else reg.name

            @functools.wraps(reg.factory)
            def build(*args: Any, **kwargs: Any) -> C:
                recorded = recorded_arguments(label, signature, args, kwargs)
                if not prefix:
                    return make(reg, recorded, reg.factory(**recorded))
                try:
                    made = reg.factory(**recorded)
                except ValueError as e:
                    raise ValueError(f"{label}: {e}") from None
                return make(reg, recorded, made)

            return build

        REGISTRY.define(kind, wrap)

    def register(self, name: str, *, version: str | Callable[[dict[str, Any]], str] = "1",
                 description: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., C]]:
        """Register a factory under ``name``; calling the result builds a configured plug-in."""
        return REGISTRY.register(self.kind, name, version=version, description=description)

    def get(self, name: str) -> Registration:
        """The registration of ``name``; ValueError naming the known ones when there is none."""
        return REGISTRY.get(self.kind, name)

    def names(self) -> list[str]:
        return REGISTRY.names(self.kind)

    def registrations(self) -> list[Registration]:
        return REGISTRY.registrations(self.kind)

    def arguments(self, name: str) -> dict[str, Any]:
        """The arguments ``name`` takes, with their defaults (``inspect.Parameter.empty`` when required)."""
        return dict(self.get(name).defaults)

    def create(self, name: str, /, **args: Any) -> C:
        return REGISTRY.create(self.kind, name, **args)

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


__all__ = ["ENTRY_POINT_GROUP", "KINDS", "REGISTRY", "Configured", "Factories", "Kind", "Registration", "Registry",
           "create", "get", "names", "parse_call", "parse_value", "recorded_arguments", "register", "split_calls"]
