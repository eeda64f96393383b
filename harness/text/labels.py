"""Label-mask analysis of records: per-record figures, the RECORDS token columns, and the check context.

``analyse_records`` tokenises records as TinyLLaVA does and compares the mask a correct pipeline would
use (answers and their end-of-turn tokens) with the one its template rule produces (see
``harness.text.analysis``). ``make_context(cfg)`` builds what the label checks share, analyses included.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.data.records import Record
from harness.text.analysis import Analyser, RecordAnalysis, split_turns
from harness.text.templates import Template, get_template
from harness.text.tokenizers import PieceTokenizer, ProxyTokenizer, load_tokenizer

__all__ = ["TOKEN_COLUMNS", "LabelContext", "RecordAnalysis", "analyse_record", "analyse_records",
           "make_context", "split_turns", "token_columns"]

TOKEN_COLUMNS = ("prompt_tokens", "answer_tokens", "total_tokens", "truncated_answer_tokens", "placeholders",
                 "supervised_tokens_correct", "supervised_tokens_template")


def analyse_records(records: Sequence[Record], tokenizer: PieceTokenizer, template: Template, *,
                    max_length: int, image_tokens: int) -> list[RecordAnalysis | None]:
    """One analysis per record; None where TinyLLaVA could not pair the turns (it stops there)."""
    return Analyser(tokenizer, template, max_length=max_length, image_tokens=image_tokens).analyse(records)


def analyse_record(record: Record, tokenizer: PieceTokenizer, template: Template, *, max_length: int,
                   image_tokens: int) -> RecordAnalysis | None:
    return analyse_records([record], tokenizer, template, max_length=max_length, image_tokens=image_tokens)[0]


def token_columns(analysis: RecordAnalysis | None) -> dict[str, int | None]:
    """The RECORDS columns this analysis fills; nulls for a record it could not analyse."""
    return {c: (getattr(analysis, c) if analysis is not None else None) for c in TOKEN_COLUMNS}


@dataclass(eq=False)
class LabelContext:
    """What the label checks share: the run's config, tokenizer, template and one analysis per record."""

    cfg: Any
    tokenizer: PieceTokenizer
    template: Template
    analyser: Analyser
    analyses: dict[tuple[str, int], RecordAnalysis | None] = field(default_factory=dict)

    def prefill(self, records: Sequence[Record]) -> None:
        """Analyse many records in batched tokeniser calls (far faster than one at a time)."""
        todo = [r for r in records if (r.split, r.index) not in self.analyses]
        for r, a in zip(todo, self.analyser.analyse(todo)):
            self.analyses[(r.split, r.index)] = a

    def analysis(self, record: Record) -> RecordAnalysis | None:
        key = (record.split, record.index)
        if key not in self.analyses:
            self.prefill([record])
        return self.analyses[key]


def make_context(cfg: Any) -> LabelContext:
    """The label checks' context for a CheckConfig: its template, and its tokenizer or, when none is
    given, the byte proxy with the template's end-of-turn string as EOS (a stand-in of the right shape)."""
    template = get_template(cfg.template)
    if cfg.tokenizer is None:
        tok: PieceTokenizer = ProxyTokenizer(eos=template.end_of_turn or "</s>", add_bos=template.adds_bos)
    else:
        tok = load_tokenizer(cfg.tokenizer, legacy=getattr(cfg, "legacy", None))
    analyser = Analyser(tok, template, max_length=cfg.max_length, image_tokens=cfg.image_tokens)
    return LabelContext(cfg=cfg, tokenizer=tok, template=template, analyser=analyser)
