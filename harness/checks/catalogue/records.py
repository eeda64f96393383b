"""Record checks: the structure TinyLLaVA's loader relies on, judged one record at a time.

Severities follow what TinyLLaVA does with the record (shared/deepcad/README.md): error when it stops
training (KeyError, "qa is not match" assertion) or trains silently on a spoiled sample; warning when the
sample loads and trains but is probably not what was meant. ``ctx.root`` is the image folder.
"""
from __future__ import annotations

from collections.abc import Iterable

from harness.checks.findings import Finding
from harness.checks.registry import register
from harness.data.records import ANSWER, DROPPED, QUESTION, turn_slots
from harness.text.analysis import split_turns

# Roles read as meant after the first turn (TinyLLaVA reads none of them; these say what the record means).
USER_ROLES = ("human", "user")
ASSISTANT_ROLES = ("gpt", "assistant")
KNOWN_ROLES = frozenset(USER_ROLES + ASSISTANT_ROLES + ("system",))
IMAGE_TOKEN = "<image>"
# Seed-style answers write `...` where arc and circle parameters should be.
PLACEHOLDER = "..."


@register("record.not_object", kind="record", severity="error",
          description="a list entry that is not a JSON object: the loader indexes it like a dict and fails")
def not_object(record, ctx) -> Iterable[Finding]:
    if not isinstance(record.raw, dict):
        yield not_object.on_record(record, f"entry is a {type(record.raw).__name__}, not an object")


@register("record.conversations_missing", kind="record", severity="error",
          description="no 'conversations' key: KeyError stops training")
def conversations_missing(record, ctx) -> Iterable[Finding]:
    if isinstance(record.raw, dict) and "conversations" not in record.raw:
        yield conversations_missing.on_record(record, "no 'conversations' key (KeyError in training)")


@register("record.conversations_malformed", kind="record", severity="error",
          description="'conversations' is not a list of {from, value} strings: the loader fails on it")
def conversations_malformed(record, ctx) -> Iterable[Finding]:
    if isinstance(record.raw, dict) and "conversations" in record.raw and record.turns is None:
        conv = record.raw["conversations"]
        what = ("not a list" if not isinstance(conv, list)
                else "a turn that is not an object with string 'from' and 'value'")
        yield conversations_malformed.on_record(record, f"'conversations' is {what}")


@register("record.turn_structure", kind="record", severity="error",
          description="turns as TinyLLaVA's _get_list_from_message pairs them: a first turn whose 'from' is not "
                      "exactly 'human' is dropped, the rest alternate question, answer by position, roles unread. "
                      "Error: no turns (trains on nothing), unequal counts (assertion 'qa is not match' stops "
                      "training), or a user turn in an answer slot or an assistant turn in a question slot (a "
                      "question trained as an answer). Warning: a dropped first turn (system prompt, greeting) "
                      "with the rest pairing as meant. Info: roles it does not know, trained by position",
          user_roles=list(USER_ROLES), assistant_roles=list(ASSISTANT_ROLES))
def turn_structure(record, ctx) -> Iterable[Finding]:
    turns = record.turns
    if turns is None:
        return
    if not turns:
        yield turn_structure.on_record(record, "no turns: the prompt is empty and every label is ignored")
        return
    slots = turn_slots(turns)
    dropped = (f"turn 0 ({turns[0][0]!r}) is dropped: TinyLLaVA skips a first turn whose 'from' is not exactly "
               f"'human'" if slots[0] == DROPPED else "")
    qa = split_turns(turns)
    if qa is None:
        nq, na = slots.count(QUESTION), slots.count(ANSWER)
        yield turn_structure.on_record(
            record, "; ".join(filter(None, [
                dropped, f"{nq} question(s) and {na} answer(s) by position, the last question unanswered "
                         "(assertion 'qa is not match' stops training)"])))
        return
    wrong = [f"turn {i} ({role!r}) is trained as {'an answer' if slot == ANSWER else 'a question'}"
             for i, ((role, _), slot) in enumerate(zip(turns, slots))
             if (slot == ANSWER and role not in ASSISTANT_ROLES and role in KNOWN_ROLES)
             or (slot == QUESTION and role in ASSISTANT_ROLES)]
    if wrong:
        yield turn_structure.on_record(
            record, "; ".join(filter(None, [dropped, "paired by position, " + ", ".join(wrong[:3])
                                            + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")
                                            + ": the sample trains on a spoiled conversation"])))
        return
    if dropped:
        yield turn_structure.on_record(
            record, f"{dropped} ({len(turns[0][1])} chars not trained; the template's own system prompt is "
                    "used); the rest pairs as meant", severity="warning")
        return
    unknown = sorted({r for (r, _), s in zip(turns, slots) if s != DROPPED and r not in KNOWN_ROLES})
    if unknown:
        yield turn_structure.on_record(
            record, f"role(s) {', '.join(map(repr, unknown))} unknown: TinyLLaVA never reads them and trains "
                    "the turns by position", severity="info")


@register("record.prompt_empty", kind="record", severity="warning",
          description="an empty question (by TinyLLaVA's positional pairing): trains, but without an instruction")
def prompt_empty(record, ctx) -> Iterable[Finding]:
    turns = record.turns or ()
    for i, ((_, text), slot) in enumerate(zip(turns, turn_slots(turns))):
        if slot == QUESTION and not text.strip():
            yield prompt_empty.on_record(record, f"turn {i}: empty prompt")


# An empty answer and a missing or misplaced <image> are judged by the label simulation
# (harness.checks.catalogue.labels: labels.empty_supervision, labels.placeholders), which sees what TinyLLaVA does.


@register("record.image_path_unsafe", kind="record", pictures=True, severity="error",
          description="'image' that is not a relative path inside the image folder (not a string, absolute, "
                      "'..', or a symlink leading out): training opens a file it should not, or fails")
def image_path_unsafe(record, ctx) -> Iterable[Finding]:
    if not isinstance(record.raw, dict) or "image" not in record.raw:
        return
    value = record.raw["image"]
    if not isinstance(value, str):
        yield image_path_unsafe.on_record(record, f"'image' is a {type(value).__name__}, not a path")
        return
    problem = ctx.unsafe_image(value)   # resolved once per name (the image list asked first)
    if problem is not None:
        yield image_path_unsafe.on_record(record, f"image path {value!r} is unsafe: {problem}")


@register("record.image_key_misnamed", kind="record", severity="error",
          description="an 'images' key (or another spelling) where 'image' was meant: TinyLLaVA reads only "
                      "'image', so the picture is never opened and the sample trains on a blank image",
          keys=["images", "Image", "img", "image_path", "image_file"])
def image_key_misnamed(record, ctx) -> Iterable[Finding]:
    if not isinstance(record.raw, dict) or "image" in record.raw:
        return
    for key in image_key_misnamed.params["keys"]:
        if key in record.raw:
            yield image_key_misnamed.on_record(
                record, f"key {key!r} instead of 'image': TinyLLaVA ignores it, never opens the picture "
                        f"({record.raw[key]!r:.60}) and trains the sample on a blank image")
            return


@register("record.placeholder_parameters", kind="record", severity="warning",
          description="'...' in an answer: placeholder parameters teach code that cannot rebuild the model",
          placeholder=PLACEHOLDER)
def placeholder_parameters(record, ctx) -> Iterable[Finding]:
    turns = record.turns or ()
    n = sum(t.count(PLACEHOLDER) for (_, t), s in zip(turns, turn_slots(turns)) if s == ANSWER)
    if n:
        yield placeholder_parameters.on_record(
            record, f"placeholder parameters: '{PLACEHOLDER}' {n} time(s) in the answer")
