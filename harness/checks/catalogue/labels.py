"""Label and token-budget checks: what TinyLLaVA's template masking and max length do to each record.

Each check reads the record's analysis from the context (``harness.text.labels.make_context``), which
computes it once per record and shares it between these checks.
"""
from __future__ import annotations

from collections.abc import Iterable

from harness.checks.findings import Finding
from harness.checks.registry import register


@register("labels.blanked", kind="record", severity="error",
          description="TinyLLaVA's label masking loses count of the rounds (an end-of-turn string inside an "
                      "answer, the separator inside a prompt, a tokenizer the template does not fit): it prints "
                      "'tokenization mismatch' and ignores every label, so the sample trains on nothing")
def blanked(record, ctx) -> Iterable[Finding]:
    a = ctx.analysis(record)
    if a is not None and a.blanked:
        cur, total = a.mismatch
        yield blanked.on_record(
            record, f"labels blanked: tokenization mismatch: {cur} vs. {total} ({ctx.template.name} template); "
                    f"all {a.answer_tokens} answer tokens ignored")


@register("labels.mask_mismatch", kind="record", severity="warning",
          description="the template's mask differs from the answers without blanking: prompt tokens learned "
                      "or answer tokens ignored (not judged with the byte proxy, whose boundaries differ)")
def mask_mismatch(record, ctx) -> Iterable[Finding]:
    a = ctx.analysis(record)
    if a is None or a.blanked or ctx.tokenizer.kind == "proxy":
        return
    if a.wrongly_learned or a.wrongly_ignored:
        yield mask_mismatch.on_record(
            record, f"{ctx.template.name} template mask differs from the answers: {a.wrongly_learned} prompt "
                    f"tokens learned, {a.wrongly_ignored} answer tokens ignored")


@register("labels.placeholders", kind="record", severity="error",
          description="image placeholders TinyLLaVA turns into other than one image slot for the record's image: "
                      "<image> in an answer, in several questions, in none, or without an image")
def placeholders(record, ctx) -> Iterable[Finding]:
    a = ctx.analysis(record)
    if a is None:
        return
    for k in a.placeholder_answers:
        yield placeholders.on_record(
            record, f"<image> inside answer {k}: TinyLLaVA inserts another image slot mid-answer")
    if record.image is not None and a.placeholder_questions == 0 and a.image_tokens_inserted == 0:
        yield placeholders.on_record(
            record, "the record has an image but no question holds <image>: no image slot, the image is "
                    "silently ignored")
    elif a.placeholder_questions > 1:
        yield placeholders.on_record(
            record, f"<image> in {a.placeholder_questions} questions: {a.placeholder_questions} image slots "
                    f"for one image")
    if record.image is None and a.image_tokens_inserted:
        yield placeholders.on_record(
            record, f"{a.image_tokens_inserted} image slot(s) but no image: the model is fed a blank one")


@register("labels.empty_supervision", kind="record", severity="error",
          description="an answer with no text: the sample teaches only the end-of-turn token")
def empty_supervision(record, ctx) -> Iterable[Finding]:
    a = ctx.analysis(record)
    if a is not None and (a.empty_answers or a.rounds == 0):
        which = ", ".join(map(str, a.empty_answers)) or "none at all"
        yield empty_supervision.on_record(
            record, f"zero-length supervised answer (answer {which}): "
                    f"{a.supervised_tokens_template} token(s) learned")


@register("tokens.over_max_length", kind="record", severity="warning",
          description="the formatted sample, each image counted as image_tokens, is longer than max_length: "
                      "the collator cuts it silently and the end of the answer is never learned (an error "
                      "when every answer token is cut: the sample trains on nothing)")
def over_max_length(record, ctx) -> Iterable[Finding]:
    a = ctx.analysis(record)
    if a is not None and a.total_tokens > ctx.cfg.max_length:
        whole = a.answer_tokens > 0 and a.truncated_answer_tokens >= a.answer_tokens
        yield over_max_length.on_record(
            record, f"{a.total_tokens} tokens with the image(s) > max_length {ctx.cfg.max_length}: "
                    f"{a.truncated_answer_tokens} of {a.answer_tokens} answer tokens cut"
                    + (": the whole answer, so the sample trains on nothing" if whole else "")
                    + (" (proxy byte tokenizer: pass --tokenizer for exact counts)"
                       if ctx.tokenizer.kind == "proxy" else ""),
            severity="error" if whole else None)


@register("labels.context_too_short", kind="dataset", severity="error",
          description="max_length cannot hold one image's tokens plus the shortest image sample's prompt: the "
                      "collator cuts every image sample before its answer, so none trains on anything (the "
                      "classic case: TinyLLaVA's default model_max_length 512 against 728 image tokens)")
def context_too_short(dataset, images, ctx) -> Iterable[Finding]:
    image_samples = [a for r in dataset.all_records()
                     if r.image is not None and (a := ctx.analysis(r)) is not None and a.image_tokens_inserted
                     and a.answer_tokens]
    if image_samples and all(a.truncated_answer_tokens >= a.answer_tokens for a in image_samples):
        shortest = min(a.prompt_tokens for a in image_samples)
        yield context_too_short.finding(
            f"max_length {ctx.cfg.max_length} leaves no room for an answer: the shortest image prompt is "
            f"{shortest} tokens with the image's {ctx.cfg.image_tokens}, so all {len(image_samples):,} image "
            f"samples train on nothing; raise model_max_length (--max-length here) well above {shortest}")


def run_label_checks(records, ctx) -> list[Finding]:
    """These checks alone over ``records`` (``harness labels``), analyses computed in batches first."""
    ctx.prefill(records)
    fns = (blanked, mask_mismatch, placeholders, empty_supervision, over_max_length)
    return [f for r in records for fn in fns for f in fn(r, ctx)]
