"""The uploader's log goes up in pieces, each line once, across restarts and rotation."""

from __future__ import annotations

from pathlib import Path

from quickcam.uploader.log_cursor import LogCursor


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


def test_each_piece_is_what_was_written_since_the_last_one_even_across_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "run.uploader.log"
    _append(log, "a\nb\n")
    cursor = LogCursor(log, tmp_path)
    assert cursor.unsent() == b"a\nb\n"
    cursor.advance()
    _append(log, "c\n")
    assert LogCursor(log, tmp_path).unsent() == b"c\n"  # a new process reads the saved cursor
    assert LogCursor(log, tmp_path).unsent() == b"c\n"  # not advanced: offered again
    cursor = LogCursor(log, tmp_path)
    cursor.unsent()
    cursor.advance()
    assert LogCursor(log, tmp_path).unsent() == b""
    _append(log, "d\n")
    log.rename(tmp_path / "run.uploader.log.1")  # as RotatingFileHandler does
    _append(log, "e\n")
    cursor = LogCursor(log, tmp_path)
    assert cursor.unsent() == b"d\ne\n"
    cursor.advance()
    assert LogCursor(log, tmp_path).unsent() == b""


def test_an_unreadable_cursor_sends_the_whole_log_again_rather_than_nothing(tmp_path: Path) -> None:
    log = tmp_path / "run.uploader.log"
    _append(log, "a\n")
    (tmp_path / "log-upload-cursor.json").write_text("{not json")
    assert LogCursor(log, tmp_path).unsent() == b"a\n"
