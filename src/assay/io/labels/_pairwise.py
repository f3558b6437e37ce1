"""Presets for published pairwise verdicts: AlpacaEval, Arena-Hard, MT-Bench, Chatbot Arena, HH-RLHF.

Multi-turn conversations (MT-Bench, Chatbot Arena, HH-RLHF) share their user turns and
differ in the assistant's. The item holds the user turns up to the judged answer as chat
messages (one turn: a plain prompt); each response's text is the answer judged (the
last assistant turn), and, when earlier turns exist, ``metadata["conversation"]`` holds
the model's whole conversation up to it. HH-RLHF's earlier assistant turns are shared by
both answers, so they stay in the item's messages.
"""

from __future__ import annotations

from typing import Any

from assay.io.labels._parsed import Answer, Parsed, RaterRef, RowError, Verdict, rater_kind
from assay.io.labels._writer import now_or
from assay.io.labels.labelmaps import LabelMap
from assay.io.labels.presets import Preset, conversation, field, hh_transcript, preset, text, up_to_turn
from assay.io.readers import Row

_AB = LabelMap("A>>B")
_ARENA = LabelMap("model_a/model_b/tie")
_ALPACA = LabelMap("alpaca-eval")


@preset("alpaca-eval")
class AlpacaEval(Preset):
    """AlpacaEval's annotations (``annotations.json``): instruction, output_1/2, generator_1/2, preference.

    ``preference`` 1 prefers output_1, 2 output_2, 0 (AlpacaEval 1's draw) or 1.5 a tie; a
    weighted judge's value between 1 and 2 is 1 + the probability that output_2 is
    preferred, stored as a soft preference. The judge is ``annotator`` (an LLM). A row
    with no preference (the judge's answer was unusable) imports its answers without a
    verdict. AlpacaEval shows the judge the outputs in a random order and stores the
    preference already put back in the given order, so the order shown is the given one.
    """

    dataset = "alpaca-eval"

    def __call__(self, row: Row) -> Parsed:
        prompt = text(row, "instruction")
        answers = [Answer(self.model(field(row, f"generator_{i}"), f"generator_{i}"), text(row, f"output_{i}"))
                   for i in (1, 2)]
        sub = row.get("dataset")
        p = Parsed(prompt=prompt, category=sub if isinstance(sub, str) else None, answers=answers)
        pref = row.get("preference")
        if pref is None:
            p.skipped.append("no preference")
            return p
        label = _ALPACA(pref, 2, "preference")
        judge = row.get("annotator")
        rater = RaterRef(judge if isinstance(judge, str) and judge else "alpaca_eval", "llm", ("alpaca-eval",))
        detail = {k: row[k] for k in ("preference", "price_per_example", "time_per_example", "raw_completion")
                  if row.get(k) is not None}
        p.verdicts.append(Verdict(answers=[0, 1], rater=rater, outcome=label.outcome, winner=label.winner,
                                  probability=label.probability, detail=detail))
        return p


_Q, _A0 = "<|User Prompt|>\n", "\n\n<|The Start of Assistant A's Answer|>\n"
_A1 = "\n<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n"
_B1 = "\n<|The End of Assistant B's Answer|>"


def _arena_hard_prompt(value: Any, fieldname: str) -> tuple[str, str, str]:
    """Question, answer A and answer B from an Arena-Hard v0.1 judge prompt (its section markers)."""
    if not isinstance(value, str):
        raise RowError(fieldname, f"expected the judge's prompt as text, got {type(value).__name__}")
    try:
        start = value.index(_Q) + len(_Q)
        q_end = value.index(_A0, start)
        a_end = value.index(_A1, q_end + len(_A0))
        b_end = value.rindex(_B1)
    except ValueError:
        raise RowError(fieldname, "not an Arena-Hard v0.1 judge prompt: the <|User Prompt|> and "
                                  "<|The Start/End of Assistant A/B's Answer|> sections are missing") from None
    if b_end < a_end:
        raise RowError(fieldname, "the answer sections are out of order")
    return value[start:q_end], value[q_end + len(_A0):a_end], value[a_end + len(_A1):b_end]


@preset("arena-hard")
class ArenaHard(Preset):
    """Arena-Hard-Auto model judgments (``model_judgment/JUDGE/MODEL.jsonl``): two games per question.

    Each row is one model on one question: ``question_id``, ``model``, ``judge``, ``games``.
    Game 1 shows the baseline as assistant A and the model as B, game 2 the other way
    round; ``score`` is a verdict such as ``A>>B`` on the order shown (a missing score, an
    unparsed judge answer, is skipped, as Arena-Hard does), ``judgment`` the judge's text.
    The question and both answers are read from the judge's prompt (``user_prompt``) by
    its section markers. The baseline is the row's ``baseline`` field when present (v2),
    else ``--baseline`` (default gpt-4-0314, v0.1's). Both games are stored as comparisons
    of (baseline, model) with the order shown, so ``assay rank --comparisons
    --strong-weight 3 --baseline gpt-4-0314@arena-hard`` is Arena-Hard's leaderboard.
    """

    dataset = "arena-hard"
    takes = frozenset({"model_version", "baseline"})

    def __call__(self, row: Row) -> Parsed:
        qid = field(row, "question_id")
        model = self.model(field(row, "model"), "model")
        base = row.get("baseline") or self.options.baseline or "gpt-4-0314"
        baseline = self.model(base, "baseline")
        if model == baseline:
            raise RowError("model", f"the model is the baseline {baseline!r}")
        games = field(row, "games")
        if not isinstance(games, list) or not games:
            raise RowError("games", "expected a list of games")
        judge = text(row, "judge")
        texts: dict[str, str] | None = None
        question = None
        for g, game in enumerate(games):
            if not isinstance(game, dict):
                raise RowError(f"games[{g}]", "expected an object")
            q, a, b = _arena_hard_prompt(game.get("user_prompt"), f"games[{g}].user_prompt")
            # game 1 (index 0) shows the baseline as A; game 2 shows the model as A
            got = {baseline: a, model: b} if g % 2 == 0 else {model: a, baseline: b}
            if texts is None:
                texts, question = got, q
            elif got != texts or q != question:
                raise RowError(f"games[{g}].user_prompt", "its question or answers differ from game 1's")
        assert texts is not None and question is not None
        p = Parsed(prompt=question, external_id=str(qid), metadata={"question_id": qid},
                   answers=[Answer(baseline, texts[baseline]), Answer(model, texts[model])])
        rater = RaterRef(judge, "llm", ("arena-hard",))
        for g, game in enumerate(games):
            shown = [0, 1] if g % 2 == 0 else [1, 0]
            score = game.get("score")
            if score is None:
                p.skipped.append("game without a verdict")
                continue
            label = _AB(score, 2, f"games[{g}].score")
            judgment = game.get("judgment")
            p.verdicts.append(Verdict(
                answers=[0, 1], rater=rater, outcome=label.outcome,
                winner=shown[label.winner] if label.winner is not None else None, strength=label.strength,
                shown=shown, justification=judgment if isinstance(judgment, str) else "",
                detail={"game": g + 1, "label": score}, key=f"game {g + 1}"))
        return p


def _rater_of_judge(judge: Any, source: str) -> RaterRef:
    """MT-Bench's ``judge``: a person (``expert_3``), GPT-4 (``gpt4_pair``) or FastChat's [model, prompt]."""
    if isinstance(judge, list) and judge and all(isinstance(j, str) for j in judge):
        return RaterRef(judge[0], "llm", (source, *judge[1:]))
    if not isinstance(judge, str) or not judge.strip():
        raise RowError("judge", f"expected the judge's name, got {judge!r}")
    if judge.lower().startswith(("gpt4", "gpt-4", "gpt-3.5", "claude")):
        return RaterRef(judge, "llm", (source,))
    return RaterRef(judge, "human")


def _two_conversations(row: Row, turn: int, models: list[str]) -> tuple[list[dict[str, str]], list[Answer]]:
    out: list[Answer] = []
    users = None
    for side, model in zip("ab", models):
        name = f"conversation_{side}"
        conv = conversation(field(row, name), name)
        u, said, idx = up_to_turn(conv, turn, name)
        if users is None:
            users = u
        elif u != users:
            raise RowError(name, "its user turns differ from conversation_a's")
        out.append(Answer(model, said, {"conversation": conv[:idx + 1]} if turn > 1 else {}))
    assert users is not None
    return users, out


@preset("mt-bench")
class MtBench(Preset):
    """MT-Bench's pairwise judgments (lmsys/mt_bench_human_judgments, splits ``human`` and ``gpt4_pair``),
    and its questions (``question.jsonl``).

    A judgment row: ``question_id``, ``model_a``, ``model_b``, ``winner`` (model_a, model_b,
    tie, or ``tie (inconsistent)``: GPT-4's verdict changed with the order, a tie),
    ``judge`` (``expert_N`` and ``author_N`` are people, ``gpt4_pair`` GPT-4),
    ``conversation_a``/``_b`` and ``turn``: the verdict is on that turn, so the item is the
    user turns up to it and the answers are each model's answer to that turn. A question
    row (``question_id``, ``category``, ``turns``) imports as an item whose chat messages
    are its turns, the item turn-2 verdicts attach to.
    """

    dataset = "mt-bench"

    def __call__(self, row: Row) -> Parsed:
        if "turns" in row and "model_a" not in row:
            turns = field(row, "turns")
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
                raise RowError("turns", "expected a list of the question's turns (text)")
            cat = row.get("category")
            meta = {"question_id": field(row, "question_id")}
            if row.get("reference") is not None:
                meta["reference"] = row["reference"]
            return Parsed(prompt=None, messages=[{"role": "user", "content": t} for t in turns],
                          category=cat if isinstance(cat, str) else None, metadata=meta)
        if "model_1" in row and "g1_winner" in row:
            raise RowError("model_1", "FastChat's model_judgment file holds no answers: import "
                                      "lmsys/mt_bench_human_judgments (with conversations) instead")
        qid = field(row, "question_id")
        turn = field(row, "turn")
        if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
            raise RowError("turn", f"expected a turn number 1, 2, ..., got {turn!r}")
        models = [self.model(field(row, f"model_{s}"), f"model_{s}") for s in "ab"]
        users, answers = _two_conversations(row, turn, models)
        label = _ARENA(field(row, "winner"), 2, "winner")
        rater = _rater_of_judge(row.get("judge"), "mt-bench")
        verdict = Verdict(answers=[0, 1], rater=rater, outcome=label.outcome, winner=label.winner,
                          detail={"label": row["winner"], "turn": turn, "question_id": qid})
        return Parsed(prompt=None, messages=users, metadata={"question_id": qid},
                      answers=answers, verdicts=[verdict])


@preset("chatbot-arena")
class ChatbotArena(Preset):
    """Chatbot Arena battles (lmsys/chatbot_arena_conversations): two anonymous models, one user's vote.

    ``model_a``, ``model_b``, ``winner`` (model_a, model_b, tie, ``tie (bothbad)``),
    ``judge`` (the voter, a person), ``conversation_a``/``_b`` (multi-turn), ``turn``,
    ``language``, ``tstamp`` (the vote's time, kept as the comparison's), ``anony``. The
    vote is on the whole conversation: the item is the user's turns, the answers each
    model's last turn (with the whole conversation in the response's metadata).
    """

    dataset = "chatbot-arena"

    def __call__(self, row: Row) -> Parsed:
        field(row, "question_id")
        models = [self.model(field(row, f"model_{s}"), f"model_{s}") for s in "ab"]
        conv_a = conversation(field(row, "conversation_a"), "conversation_a")
        turns = sum(m["role"] == "assistant" for m in conv_a)
        users, answers = _two_conversations(row, turns, models)
        label = _ARENA(field(row, "winner"), 2, "winner")
        judge = row.get("judge")
        if not isinstance(judge, str) or not judge.strip():
            raise RowError("judge", f"expected the voter's id, got {judge!r}")
        lang = row.get("language")
        detail = {k: row[k] for k in ("question_id", "anony", "turn", "language") if row.get(k) is not None}
        verdict = Verdict(answers=[0, 1], rater=RaterRef(judge, "human"), outcome=label.outcome,
                          winner=label.winner, detail={"label": row["winner"], **detail},
                          created_at=now_or(row.get("tstamp"), "tstamp"))
        return Parsed(prompt=None, messages=users, language=lang if isinstance(lang, str) else None,
                      answers=answers, verdicts=[verdict])


@preset("hh-rlhf")
class HhRlhf(Preset):
    """Anthropic HH-RLHF pairs: ``chosen`` and ``rejected`` transcripts that differ in the last answer.

    The transcripts (``\\n\\nHuman: ...\\n\\nAssistant: ...``) share every turn but the last
    assistant one: those turns are the item's chat messages, the two last answers the
    responses, and the crowdworker's choice a win of ``chosen``. Neither the model (one
    model wrote both) nor the worker is named: ``--model`` (default unknown@hh-rlhf) and
    ``--rater`` (default hh-rlhf, a person) stand for them. A pair whose two answers are
    the same text carries no preference and is skipped.
    """

    dataset = "hh-rlhf"
    takes = frozenset({"model_version", "model", "rater", "rater_kind"})

    def __call__(self, row: Row) -> Parsed:
        model = self.model(self.options.model or "unknown@hh-rlhf", "--model")
        chosen = hh_transcript(field(row, "chosen"), "chosen")
        rejected = hh_transcript(field(row, "rejected"), "rejected")
        for name, conv in (("chosen", chosen), ("rejected", rejected)):
            if conv[-1]["role"] != "assistant":
                raise RowError(name, "the transcript must end with an Assistant turn")
        if chosen[:-1] != rejected[:-1]:
            raise RowError("rejected", "it differs from chosen before the last Assistant turn")
        p = Parsed(prompt=None, messages=chosen[:-1])
        if chosen[-1]["content"] == rejected[-1]["content"]:
            p.skipped.append("chosen and rejected are the same text")
            return p
        p.answers = [Answer(model, chosen[-1]["content"]), Answer(model, rejected[-1]["content"])]
        rater = RaterRef(self.options.rater or "hh-rlhf", rater_kind(self.options.rater_kind or "human"))
        p.verdicts.append(Verdict(answers=[0, 1], rater=rater, outcome="win", winner=0))
        return p
