"""The label simulation pairs turns as TinyLLaVA's _get_list_from_message does, and as record.turn_structure."""
from __future__ import annotations

from harness.data.records import turn_slots
from harness.text.analysis import split_turns


def test_human_first_pairs_by_position_whatever_the_roles():
    """[human, assistant, user, gpt]: questions are turns 0 and 2, answers 1 and 3 (roles unread)."""
    turns = [("human", "q1"), ("assistant", "a1"), ("user", "q2"), ("gpt", "a2")]
    assert split_turns(turns) == (["q1", "q2"], ["a1", "a2"])


def test_a_first_turn_not_human_is_dropped_and_the_rest_pairs():
    """[system, human, gpt]: the system turn is dropped; TinyLLaVA trains q -> a."""
    turns = [("system", "s"), ("human", "q"), ("gpt", "a")]
    assert turn_slots(turns) == ["dropped", "question", "answer"]
    assert split_turns(turns) == (["q"], ["a"])


def test_user_first_is_dropped_too_and_the_pairing_shifts():
    """[user, assistant, user]: 'user' is not 'human', so it is dropped and 'assistant' becomes the question."""
    assert split_turns([("user", "q"), ("assistant", "a"), ("user", "q2")]) == (["a"], ["q2"])


def test_unequal_counts_are_none_as_the_assertion_stops_training():
    """[human, gpt, human] and [user, assistant]: counts differ; TinyLLaVA's assertion fires."""
    assert split_turns([("human", "q"), ("gpt", "a"), ("human", "q2")]) is None
    assert split_turns([("user", "q"), ("assistant", "a")]) is None


def test_two_human_turns_pair_a_question_as_an_answer():
    """[human, human, gpt, gpt]: by position the second human turn is an answer."""
    assert split_turns([("human", "q1"), ("human", "q2"), ("gpt", "a1"), ("gpt", "a2")]) == (
        ["q1", "a1"], ["q2", "a2"])


def test_label_analysis_trains_a_human_assistant_record_like_a_human_gpt_one():
    """[human, assistant] vs [human, gpt] with the same text: TinyLLaVA never reads the second role, so the
    label analysis (the same pairing) learns the same answer tokens for both; [user, assistant] is dropped
    to one turn and cannot be analysed (training stops), as record.turn_structure reports."""
    from harness.text.labels import analyse_records
    from harness.text.templates import TEMPLATES
    from harness.text.tokenizers import ProxyTokenizer
    from tests.support.text import PROMPT, cad_code, rec

    tok = ProxyTokenizer(eos="</s>", add_bos=True)
    code = cad_code(3)
    a, b, c = analyse_records([rec(("human", PROMPT), ("gpt", code)), rec(("human", PROMPT), ("assistant", code)),
                               rec(("user", PROMPT), ("assistant", code))],
                              tok, TEMPLATES["llama"], max_length=10**6, image_tokens=5)
    assert a is not None and b is not None and c is None
    assert a.answer_tokens == b.answer_tokens > 0 and b.supervised_tokens_template == a.supervised_tokens_template
