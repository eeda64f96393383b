"""The label-mask engine: one record's correct mask and TinyLLaVA's, measured in token positions.

The sample is tokenised as TinyLLaVA's ``tokenizer_image_token`` does (split on ``<image>``, each chunk
tokenised with special tokens, one IMAGE_TOKEN_INDEX between chunks, one BOS kept). Masks are kept as
position intervals, never per-token arrays: the correct one covers answers and their end-of-turn tokens,
TinyLLaVA's one replays ``make_labels`` (rounds split on the end-of-turn string, instruction lengths from
re-tokenised pieces, BOS/EOS offsets, the llama ``legacy`` adjustment, the all-ignored fallback).

Speed: every tokeniser call is cut into pieces between special tokens and ``<image>``; the distinct pieces
of a batch of records are encoded together, once, and the short ones (repeated prompts) kept.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.data.records import ANSWER, QUESTION, Record, turn_slots
from harness.text.proxy import IMAGE_PLACEHOLDER
from harness.text.templates import PROMPT, Template
from harness.text.tokenizers import Key, PieceTokenizer

KEEP_CHARS = 512       # pieces up to this long stay cached across batches (system prompt, questions)
BATCH = 512            # records tokenised per batched call
Layout = list[tuple[int, list[tuple[int, int, int | None]]]]   # chunks: (start, [(start, end, special id)])
Spans = list[list[int]]                                         # sorted disjoint [start, end) positions


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordAnalysis:
    split: str
    index: int
    rounds: int
    prompt_tokens: int                 # everything a correct mask ignores, each image as image_tokens
    answer_tokens: int                 # answers and their end-of-turn tokens
    total_tokens: int
    truncated_answer_tokens: int       # answer tokens at or past max_length
    placeholders: int                  # "<image>" anywhere in the record
    image_tokens_inserted: int         # image slots in the formatted sample
    placeholder_questions: int         # questions holding "<image>"
    placeholder_answers: tuple[int, ...]   # answers (1-based) holding "<image>"
    empty_answers: tuple[int, ...]     # answers (1-based) with no text
    supervised_tokens_correct: int     # answer tokens within max_length
    supervised_tokens_template: int    # tokens TinyLLaVA's rule learns within max_length
    wrongly_learned: int               # prompt tokens the rule learns
    wrongly_ignored: int               # answer tokens the rule ignores
    blanked: bool                      # every label ignored ("tokenization mismatch")
    mismatch: tuple[int, int] | None   # (cur_len, total_len) as TinyLLaVA prints them; None for pretrain


def split_turns(turns: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]] | None:
    """Questions and answers as TinyLLaVA pairs them (``harness.data.records.turn_slots``); None where its
    "qa is not match" assertion would stop training."""
    slots = turn_slots(turns)
    qs = [t for (_, t), s in zip(turns, slots) if s == QUESTION]
    ans = [t for (_, t), s in zip(turns, slots) if s == ANSWER]
    return (qs, ans) if len(qs) == len(ans) else None


def _overlap(a: Spans, b: Spans) -> int:
    """Positions in both interval lists."""
    i = j = n = 0
    while i < len(a) and j < len(b):
        n += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return n


def _inside(points: list[int], spans: Spans) -> int:
    return sum(any(s <= p < e for s, e in spans) for p in points)


class Analyser:
    def __init__(self, tokenizer: PieceTokenizer, template: Template, *, max_length: int, image_tokens: int):
        self.tok, self.tpl = tokenizer, template
        self.max_length, self.image_tokens = max_length, image_tokens
        self._cache: dict[Key, np.ndarray] = {}
        self._pads: dict[Key, int] = {}
        self._lens: dict[str, int] = {}        # tii lengths of short texts
        # the base rule's ``len(tokenizer.encode(eos_token))``, with special tokens
        self._eos_len = len(tokenizer.encode(template.end_of_turn, add_special_tokens=True))
        # pretrain's mask: ``len(tokenizer_image_token("<image>"))`` (no piece to encode)
        self._image_len = self._tii_len(IMAGE_PLACEHOLDER, self._layout(IMAGE_PLACEHOLDER))

    # ---- pieces ---------------------------------------------------------------------------------------
    def _layout(self, text: str) -> Layout:
        out, pos = [], 0
        for chunk in text.split(IMAGE_PLACEHOLDER):
            out.append((pos, [(pos + s, pos + e, sid) for s, e, sid in self.tok.split(chunk)]))
            pos += len(chunk) + len(IMAGE_PLACEHOLDER)
        return out

    def _keys(self, text: str, layout: Layout) -> Iterable[Key]:
        key = self.tok.key
        return (key(text[s:e], s == c0) for c0, spans in layout for s, e, sid in spans if sid is None)

    def _ids(self, text: str, c0: int, s: int, e: int) -> np.ndarray:
        return self._cache[self.tok.key(text[s:e], s == c0)]

    def _first_id(self, text: str, chunk: tuple[int, list]) -> int | None:
        if self.tok.prefix_ids:
            return self.tok.prefix_ids[0]
        c0, spans = chunk
        for s, e, sid in spans:
            if sid is not None:
                return sid
            piece = self._ids(text, c0, s, e)
            if len(piece):
                return int(piece[0])
        return self.tok.suffix_ids[0] if self.tok.suffix_ids else None

    def _tii_len(self, text: str, layout: Layout) -> int:
        """``len(tokenizer_image_token(text))`` from cached pieces."""
        known = self._lens.get(text)
        if known is not None:
            return known
        tok, lens = self.tok, []
        for c0, spans in layout:
            n = len(tok.prefix_ids) + len(tok.suffix_ids)
            for s, e, sid in spans:
                n += 1 if sid is not None else len(self._ids(text, c0, s, e))
            lens.append(n)
        # TinyLLaVA keeps one BOS: the first chunk's, when that chunk starts with it
        first = self._first_id(text, layout[0]) if lens[0] else None
        off = 1 if first is not None and first == tok.bos_id else 0
        n = off + sum(max(k - off, 0) for k in lens) + len(lens) - 1
        if len(text) <= KEEP_CHARS:
            self._lens[text] = n
        return n

    # ---- batches ------------------------------------------------------------------------------------
    def _plan(self, record: Record):
        qa = split_turns(record.turns) if record.turns is not None else None
        if qa is None:
            return None
        segs = self.tpl.segments(*qa)
        prompt = "".join(t for t, _ in segs)
        bounds, pos, prev = [], 0, PROMPT   # char offsets where supervision switches on or off
        for t, kind in segs:
            if (kind != PROMPT) != (prev != PROMPT):
                bounds.append(pos)
            pos, prev = pos + len(t), kind
        layout = self._layout(prompt)
        keys = set(self._keys(prompt, layout))
        for c0, spans in layout:           # prefixes that locate an answer boundary inside a piece
            for s, e, sid in spans:
                if sid is None:
                    for b in bounds[bisect_right(bounds, s):bisect_right(bounds, e - 1)]:
                        keys.add(self.tok.key(prompt[s:b], s == c0))
        pairs = []
        if self.tpl.rule != "pretrain":
            for rou in prompt.split(self.tpl.end_of_turn):
                parts = rou.split(self.tpl.separator)
                if rou == "" or len(parts) != 2:
                    break
                part0 = parts[0] + self.tpl.separator
                pair = [(t, self._layout(t)) for t in (rou, part0)]
                for t, lay in pair:
                    if t not in self._lens:
                        keys.update(self._keys(t, lay))
                pairs.append(pair)
        return (record, qa, prompt, bounds, layout, pairs), keys

    def analyse(self, records: Sequence[Record]) -> list[RecordAnalysis | None]:
        out: list[RecordAnalysis | None] = []
        for i in range(0, len(records), BATCH):
            plans = [self._plan(r) for r in records[i:i + BATCH]]
            todo = list({k for p in plans if p for k in p[1]}.difference(self._cache))
            pad = self.tok.pad_id
            for k, arr in zip(todo, self.tok.encode_keys(todo, counting=True)):
                self._cache[k] = arr
                self._pads[k] = int(np.count_nonzero(arr == pad)) if pad is not None else 0
            out.extend(self._compute(*p[0]) if p else None for p in plans)
            self._cache = {k: v for k, v in self._cache.items() if len(k[0]) <= KEEP_CHARS}
        return out

    # ---- one record -----------------------------------------------------------------------------------
    def _walk(self, prompt: str, bounds: list[int], layout: Layout):
        """Token count, supervised spans, image positions and pad count of the whole sample."""
        tok, pad = self.tok, self.tok.pad_id
        first = self._first_id(prompt, layout[0])
        off = 1 if first is not None and first == tok.bos_id else 0
        sup: Spans = []
        images: list[int] = []
        state = {"pos": 0, "skip": 0}
        pads = 0

        def emit(n: int, on: bool) -> None:
            drop = min(state["skip"], n)   # tokenizer_image_token drops each later chunk's first token
            state["skip"] -= drop
            s, e = state["pos"], state["pos"] + n - drop
            if on and e > s:
                if sup and sup[-1][1] == s:
                    sup[-1][1] = e
                else:
                    sup.append([s, e])
            state["pos"] = e

        for k, (c0, spans) in enumerate(layout):
            if k:
                images.append(state["pos"])
                state["pos"] += 1
                state["skip"] = off
            emit(len(tok.prefix_ids), False)
            pads += tok.prefix_ids.count(pad) if k == 0 or not off else tok.prefix_ids[1:].count(pad)
            for s, e, sid in spans:
                on = bisect_right(bounds, s) % 2 == 1
                if sid is not None:
                    emit(1, on)
                    pads += sid == pad
                    continue
                key = tok.key(prompt[s:e], s == c0)
                piece, start = self._cache[key], 0
                pads += self._pads[key]
                for b in bounds[bisect_right(bounds, s):bisect_right(bounds, e - 1)]:
                    before = self._ids(prompt, c0, s, b)
                    m = min(len(before), len(piece))
                    diff = np.flatnonzero(piece[:m] != before[:m])
                    cut = max(int(diff[0]) if diff.size else m, start)
                    emit(cut - start, on)
                    on, start = not on, cut
                emit(len(piece) - start, on)
            emit(len(tok.suffix_ids), False)
            pads += tok.suffix_ids.count(pad)
        return state["pos"], sup, images, pads

    def _rule(self, prompt: str, n: int, pads: int, pairs) -> tuple[Spans, bool, tuple[int, int] | None]:
        """TinyLLaVA's ``make_labels``: learned spans, blanked, and (cur_len, total_len) or None."""
        tok, tpl = self.tok, self.tpl
        masked = []

        def mask(a: int, b: int) -> None:   # labels[a:b] = IGNORE, with Python's slice semantics
            a, b, _ = slice(a, b).indices(n)
            if b > a:
                masked.append((a, b))

        if tpl.rule == "pretrain":
            mask(0, self._image_len)
            lengths, blanked = None, False
        else:
            total = n - pads if tok.pad_id is not None else n
            if tok.pad_id is not None and tok.pad_id == tok.eos_id:
                total += prompt.count(tpl.end_of_turn)
            bos_rule = tpl.rule in ("llama", "gemma")
            cur = 1 if bos_rule else 0
            mask(0, cur)
            eos_len = 1 if bos_rule else self._eos_len
            for i, ((rou, rl), (part0, pl)) in enumerate(pairs):
                round_len = self._tii_len(rou, rl) + eos_len - (1 if bos_rule else 0)
                instruction = self._tii_len(part0, pl) - (2 if bos_rule else 1)
                # the llama rule assumes tokenizers>=0.14 in the training environment
                if tpl.rule == "llama" and i != 0 and not tok.legacy:
                    round_len, instruction = round_len - 1, instruction - 1
                mask(cur, cur + instruction)
                cur += round_len
            mask(cur, n)
            lengths, blanked = (cur, total), cur < self.max_length and cur != total
        if blanked:
            return [], True, lengths
        learned, pos = [], 0
        for a, b in sorted(masked):
            if a > pos:
                learned.append([pos, a])
            pos = max(pos, b)
        if pos < n:
            learned.append([pos, n])
        return learned, blanked, lengths

    def _kept(self, n: int, images: list[int]) -> int:
        """Positions before this one survive the cut at max_length once each image is image_tokens long."""
        shift, prev = 0, 0
        for p in images:
            if p + shift >= self.max_length:
                return max(prev, self.max_length - shift)
            shift, prev = shift + self.image_tokens - 1, p + 1
        return min(n, max(prev, self.max_length - shift))

    def _compute(self, record: Record, qa, prompt: str, bounds: list[int], layout: Layout, pairs):
        n, sup, images, pads = self._walk(prompt, bounds, layout)
        learned, blanked, lengths = self._rule(prompt, n, pads, pairs)
        kept = [[0, self._kept(n, images)]]
        answer = sum(e - s for s, e in sup)
        total = n + len(images) * (self.image_tokens - 1)
        correct = _overlap(sup, kept)
        learned_n = sum(e - s for s, e in learned) - _inside(images, learned)
        learned_kept = _overlap(learned, kept) - _inside([p for p in images if p < kept[0][1]], learned)
        hit = _overlap(sup, learned)
        qs, ans = qa
        return RecordAnalysis(
            split=record.split, index=record.index, rounds=len(qs),
            prompt_tokens=total - answer, answer_tokens=answer, total_tokens=total,
            truncated_answer_tokens=answer - correct,
            placeholders=sum(t.count(IMAGE_PLACEHOLDER) for _, t in record.turns or ()),
            image_tokens_inserted=len(images),
            placeholder_questions=sum(IMAGE_PLACEHOLDER in q for q in qs),
            placeholder_answers=tuple(i + 1 for i, a in enumerate(ans) if IMAGE_PLACEHOLDER in a),
            empty_answers=tuple(i + 1 for i, a in enumerate(ans) if not a.strip()),
            supervised_tokens_correct=correct, supervised_tokens_template=learned_kept,
            wrongly_learned=learned_n - hit, wrongly_ignored=answer - hit,
            blanked=blanked, mismatch=lengths,
        )
