"""TinyLLaVA_Factory's chat templates, as data: the strings each writes and the masking rule it applies.

A template turns question/answer pairs into one prompt string: the system text before the first round;
each question (its ``<image>`` placeholders removed and one put in front); the assistant prefix, the
answer and the end-of-turn string. Label masking later splits that string on ``end_of_turn`` into rounds
and each round on ``separator``; ``rule`` names which variant of that masking the template uses.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError
from harness.text.proxy import IMAGE_PLACEHOLDER

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")

PROMPT, ANSWER, END_OF_TURN = 0, 1, 2   # kinds of text segment


@dataclass(kw_only=True, frozen=True)
class Template:
    name: str
    system: str
    user: tuple[str, str]            # text (before, after) the question
    assistant: tuple[str, str]       # text (before, after) the answer; ``after`` is the end of turn
    image: str | None                # put before a question that had <image>; None: the question is dropped
    separator: str                   # splits a round into instruction and answer
    end_of_turn: str                 # rounds are split on it (TinyLLaVA's ``eos_token`` of the separator)
    rule: str                        # "base" | "llama" | "gemma" | "pretrain": the _make_masks variant
    adds_bos: bool                   # its model family's tokenizer prepends BOS (how the proxy stands in)

    def segments(self, questions: list[str], answers: list[str]) -> list[tuple[str, int]]:
        """The prompt as (text, kind) pieces; their concatenation is the string TinyLLaVA tokenises."""
        out: list[tuple[str, int]] = []
        for i, (q, a) in enumerate(zip(questions, answers)):
            if i == 0 and self.system:
                out.append((self.system, PROMPT))
            if self.image is None:
                q = ""                # pretrain: the user slot is constant, the question never shows
            elif IMAGE_PLACEHOLDER in q:
                # every <image> of the question collapses to one, in front, as TinyLLaVA's _prompt does
                q = (self.image + q.replace(IMAGE_PLACEHOLDER, "").strip()).strip()
            out.append((self.user[0] + q + self.user[1] + self.assistant[0], PROMPT))
            out.append((a, ANSWER))
            out.append((self.assistant[1], END_OF_TURN))
        return [s for s in out if s[0]]


def _chat(name: str, end: str, rule: str, adds_bos: bool) -> Template:
    return Template(name=name, system=SYSTEM + " ", user=("USER: ", " "), assistant=("ASSISTANT: ", end),
                    image=IMAGE_PLACEHOLDER + "\n", separator=" ASSISTANT: ", end_of_turn=end, rule=rule,
                    adds_bos=adds_bos)


TEMPLATES: dict[str, Template] = {
    t.name: t for t in (
        _chat("llama", "</s>", "llama", True),
        _chat("phi", "<|endoftext|>", "base", False),
        _chat("gemma", "<eos>", "gemma", True),
        _chat("qwen2_base", "<|endoftext|>", "base", False),
        _chat("qwen2_instruct", "<|im_end|>", "base", False),
        Template(name="pretrain", system="", user=(IMAGE_PLACEHOLDER, ""), assistant=("", "\n"), image=None,
                 separator="", end_of_turn="", rule="pretrain", adds_bos=True),
    )
}
TEMPLATE_NAMES = tuple(TEMPLATES)


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UsageError(f"unknown template {name!r}; one of {', '.join(TEMPLATES)}") from None
