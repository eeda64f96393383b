"""The one progress mechanism: timestamped lines in a log, a live bar on a terminal, silence when asked."""
import io

from harness.progress import SILENT, Progress


def test_plain_lines_once_per_tenth_with_a_timestamp():
    log = io.StringIO()
    p = Progress(log, live=False)
    p("stage one")
    for done in range(0, 1001):
        p.count(done, 1000, "images")
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("[") and lines[0].endswith("] stage one")
    counts = [line.split("] ", 1)[1] for line in lines[1:]]
    assert counts[0] == "images: 0 of 1,000" and counts[-1].startswith("images: 1,000 of 1,000, ")
    assert "/s, " in counts[5] and counts[5].endswith(" s left")   # the pace and the time left
    assert len(counts) == 11            # 0, each tenth, and the end: not a line per item


def test_a_live_bar_draws_on_the_stream_and_ends_before_the_next_stage():
    log = io.StringIO()
    p = Progress(log, live=True)
    for done in (10, 50, 100):
        p.count(done, 100, "images")
    p("next stage")
    text = log.getvalue()
    assert "\rimages:" in text and "/100" in text      # a bar, redrawn in place, not lines
    assert "images: 100 of 100" not in text          # the plain-line form is for logs only
    assert text.rstrip().endswith("] next stage")   # the bar is cleared before the stage line


def test_silent_says_nothing(capsys):
    SILENT("stage")
    SILENT.count(1, 2, "x")
    assert capsys.readouterr() == ("", "")
