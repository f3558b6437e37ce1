"""Counterfactual probes: controlled changes to a failing prompt, each testing one cause of the failure.

A probe is a registered factory (kind ``probe``, in ``assay.plugins``) that returns a
:class:`Change`: what it tests, the phrase its fix rate is read with ("fixed by giving
the reference"), and ``messages(item, rewritten)``, the changed chat messages, or None
when the probe does not apply to the item (no reference to give). A probe whose change
a model writes (a paraphrase) also has ``rewrite(item)``: the messages asking for it;
the answer comes back as ``rewritten``. Every prompt here is our own text.

    from assay.library.probes import Change, probe

    @probe("shorter")
    def shorter(limit: int = 200):
        \"\"\"The prompt cut to its first characters: does the tail mislead it?\"\"\"
        def messages(item, rewritten):
            return [{"role": "user", "content": item.prompt_text()[:limit]}]
        return Change(messages, fixed_by="shortening the prompt")

Built-ins: ``resample`` (the same prompt again: is it unstable?), ``paraphrase``,
``explicit``, ``reference`` and ``system``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay import records as R
from assay.plugins import Configured, Factories

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Change:
    """What a probe factory returns: the changed messages of an item (None: does not apply), and how to read a fix."""

    messages: Callable[[R.Item, str | None], Messages | None]
    fixed_by: str
    """The phrase a fix is read with: "fixed by <fixed_by>"."""
    rewrite: Callable[[R.Item], Messages | None] | None = None
    """When a model writes the change: the messages asking it to (its answer is ``messages``' second argument)."""
    control: bool = False
    """A control (``resample``): it changes nothing, so its pass rate is what chance alone fixes; it is asked
    ``samples`` times per prompt, and other probes count as causes only above it."""


class Probe(Configured):
    """A configured probe: its name, version, recorded arguments, and the change it makes."""

    what = "probe"

    @property
    def tests(self) -> str:
        """What the probe tests, in a few words (its factory's docstring's first line)."""
        return self.description

    @property
    def fixed_by(self) -> str:
        return self._made.fixed_by

    @property
    def control(self) -> bool:
        return self._made.control

    @property
    def rewrites(self) -> bool:
        """Whether a model writes the change first (``rewrite_messages``)."""
        return self._made.rewrite is not None

    def rewrite_messages(self, item: R.Item) -> Messages | None:
        return self._made.rewrite(item) if self._made.rewrite is not None else None

    def messages(self, item: R.Item, rewritten: str | None = None) -> Messages | None:
        """The item's changed messages, or None when the probe does not apply to it."""
        return self._made.messages(item, rewritten)


_PROBES: Factories[Probe] = Factories("probe", Probe)


def probe(name: str, *, version: str = "1", description: str | None = None
          ) -> Callable[[Callable[..., Change]], Callable[..., Probe]]:
    """Register a probe factory under ``name``; its docstring's first line says what it tests."""
    return _PROBES.register(name, version=version, description=description)


get = _PROBES.get
names = _PROBES.names
create = _PROBES.create
parse = _PROBES.parse
from_spec = _PROBES.from_spec


def _with_user(item: R.Item, content: str) -> Messages:
    """The item's chat with its last user message replaced by ``content`` (other turns kept)."""
    chat = item.chat()
    last = max((i for i, m in enumerate(chat) if m["role"] == "user"), default=len(chat) - 1)
    return [*chat[:last], {"role": chat[last]["role"], "content": content}, *chat[last + 1:]]


PARAPHRASE_SYSTEM = ("You rewrite requests in other words. Keep every fact, constraint, number, name and "
                     "required format of the request; change only its wording and sentence order. "
                     "Do not answer the request.")
PARAPHRASE = ("Rewrite the request between the markers in different words, keeping its meaning and every "
              "instruction in it. Reply with the rewritten request only.\n\n<<<REQUEST>>>\n{prompt}\n<<<END>>>")

EXPLICIT = """Read the task below carefully before you answer.

Task:
{prompt}

Work in three steps:
1. List every instruction in the task, including any requirement on length, format, language, or what to leave out.
2. Work out the answer.
3. Check the answer against each instruction from step 1, fix anything that breaks one, and give the final answer."""

EXPLICIT_SYSTEM = ("You make requests unambiguous. Rewrite the request as an explicit numbered list of steps "
                   "and constraints that, followed in order, fulfil it exactly. Keep every fact and "
                   "constraint; add none. Do not answer the request.")
EXPLICIT_ASK = ("Rewrite the request between the markers as explicit numbered steps. Reply with the rewritten "
                "request only.\n\n<<<REQUEST>>>\n{prompt}\n<<<END>>>")

REFERENCE = """Here is information that may help you answer:

<<<INFORMATION>>>
{passage}
<<<END INFORMATION>>>

{prompt}"""

SYSTEM = ("You are a careful and knowledgeable assistant. Read the whole request, follow every instruction "
          "in it exactly, and answer accurately and completely.")


@probe("resample")
def resample() -> Change:
    """The same prompt again: is the failure unstable?"""
    return Change(lambda item, _: item.chat(), fixed_by="asking again", control=True)


def _cleaned(rewritten: str | None) -> str | None:
    text = (rewritten or "").strip()
    for marker in ("<<<REQUEST>>>", "<<<END>>>"):
        text = text.replace(marker, "")
    return text.strip() or None


@probe("paraphrase")
def paraphrase() -> Change:
    """The prompt in other words, written by a model: does the wording matter?"""

    def ask(item: R.Item) -> Messages:
        return [{"role": "system", "content": PARAPHRASE_SYSTEM},
                {"role": "user", "content": PARAPHRASE.format(prompt=item.prompt_text())}]

    def messages(item: R.Item, rewritten: str | None) -> Messages | None:
        text = _cleaned(rewritten)
        return _with_user(item, text) if text else None

    return Change(messages, fixed_by="a paraphrase", rewrite=ask)


@probe("explicit")
def explicit(written_by_model: bool = False) -> Change:
    """The instruction made explicit and split into steps: was it misread?

    By default our own template wraps the prompt; ``written_by_model`` has the rewriting
    model restate it as numbered steps instead.
    """
    if not written_by_model:
        return Change(lambda item, _: _with_user(item, EXPLICIT.format(prompt=item.prompt_text())),
                      fixed_by="making the instruction explicit")

    def ask(item: R.Item) -> Messages:
        return [{"role": "system", "content": EXPLICIT_SYSTEM},
                {"role": "user", "content": EXPLICIT_ASK.format(prompt=item.prompt_text())}]

    def messages(item: R.Item, rewritten: str | None) -> Messages | None:
        text = _cleaned(rewritten)
        return _with_user(item, text) if text else None

    return Change(messages, fixed_by="a model-written explicit instruction", rewrite=ask)


@probe("reference")
def reference(field: str = "reference") -> Change:
    """The item's reference answer (or a supporting passage) given in context: does it lack the knowledge?

    ``field``: ``reference`` (the item's reference answer) or the name of a metadata key
    holding a supporting passage (e.g. ``passage``). Items without one are left out.
    """
    if not field:
        raise ValueError("field must name the item's reference or a metadata key")

    def messages(item: R.Item, _: str | None) -> Messages | None:
        passage: Any = item.reference if field == "reference" else item.metadata.get(field)
        if not isinstance(passage, str) or not passage.strip():
            return None
        return _with_user(item, REFERENCE.format(passage=passage.strip(), prompt=item.prompt_text()))

    return Change(messages, fixed_by="giving the reference" if field == "reference" else f"giving the {field}")


@probe("system")
def system(prompt: str = SYSTEM) -> Change:
    """Another system prompt (replacing the item's, if it has one): does the framing matter?"""
    if not prompt.strip():
        raise ValueError("prompt must not be empty")

    def messages(item: R.Item, _: str | None) -> Messages:
        return [{"role": "system", "content": prompt}, *(m for m in item.chat() if m["role"] != "system")]

    return Change(messages, fixed_by="another system prompt")
