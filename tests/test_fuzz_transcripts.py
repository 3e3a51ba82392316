"""Fuzzing the transcript readers (hypothesis): JSONL lines and SQLite rows of any shape.

Whatever the bytes, a reader never raises, and every event is accounted for: it becomes an
entry, a session header, or a counted skip (``ReadStats.skipped``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import zstandard
from hypothesis import example, given, strategies as st

from nova.ingest.transcripts_sqlite import DB_RELATIVE_PATH, list_sqlite_transcripts, read_sqlite_index
from nova.ingest.transcripts_jsonl import ReadStats, SessionHeader, TranscriptEntry, collect_entries, parse_line, read_transcript

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
any_field = json_values | st.sampled_from(["user", "assistant", "toolResult", "", "2026-13-45T99:00:00Z",
                                           "2023-05-08T13:56:00Z", "text", "message", "session"])
content = st.one_of(
    any_field,
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "thinking", "toolCall", 7]),
                                    "text": any_field}), max_size=3),
)
events = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "session", "compaction", "custom", "label", "weird"]) | any_field},
    optional={
        "id": any_field, "parentId": any_field, "timestamp": any_field | st.integers(-(10**18), 10**18),
        "message": st.fixed_dictionaries({}, optional={"role": any_field, "content": content,
                                                       "timestamp": any_field}) | any_field,
        "parentSession": any_field,
    },
)


def _lines(draw_events, raw_lines) -> list[bytes]:
    return [json.dumps(e).encode() for e in draw_events] + raw_lines


def _accounted(result, n_lines: int) -> None:
    headers = 1 if result.header is not None else 0
    # More than one header in a stream is possible; they are parsed and not counted as skips.
    assert result.stats.lines == n_lines
    assert result.stats.entries == len(result.entries)
    assert n_lines - result.stats.entries - sum(result.stats.skipped.values()) >= headers
    for e in result.entries:
        assert isinstance(e, TranscriptEntry) and isinstance(e.text, str) and e.text and isinstance(e.entry_id, str)
        assert e.role in ("user", "assistant")


@given(st.binary(max_size=3000))
@example(b"[" * 200_000)
@example(b'{"type":"message","id":"x","message":' * 50_000)
@example(b"\xff\xfe" + '{"type":"message"}'.encode("utf-16"))
@example(b'{"type":"message","id":"\xed\xa0\x80","message":{"role":"user","content":"hi"}}')
def test_any_bytes_parse_without_raising(raw):
    stats = ReadStats()
    parsed = parse_line(raw, 0, stats)
    assert parsed is None or isinstance(parsed, (SessionHeader, TranscriptEntry))
    assert (parsed is None) == (sum(stats.skipped.values()) == 1)


@given(st.lists(events, max_size=12), st.lists(st.binary(max_size=200), max_size=4))
def test_any_event_shapes_are_entries_headers_or_counted_skips(evs, junk):
    lines = _lines(evs, [j.replace(b"\n", b" ") for j in junk])
    result = collect_entries(((l, i, i + 1) for i, l in enumerate(lines)), 0, 0)
    _accounted(result, len(lines))
    skipped_or_header = sum(result.stats.skipped.values()) + result.stats.entries
    headers = sum(1 for l in lines if isinstance(parse_line(l, 0, ReadStats()), SessionHeader))
    assert skipped_or_header + headers == len(lines)


def test_huge_and_deep_lines_are_counted_not_fatal(tmp_path):
    path = tmp_path / "s.jsonl"
    ok = {"type": "message", "id": "e1", "message": {"role": "user", "content": "I live in Lisbon."}}
    with path.open("wb") as f:
        f.write(b"{" + b'"a":' * 1 + b"[" * 500_000 + b"\n")               # deep nesting
        f.write(b'{"type":"message","id":"big","message":{"role":"user","content":"' + b"x" * (5 << 20) + b'"}}\n')
        f.write(b"\xc3\x28 invalid utf-8 \xff\n")
        f.write(json.dumps(ok).encode() + b"\n")
        f.write(b'{"type":"message","id":"partial"')                        # a writer mid-append
    result = read_transcript(path)
    assert [e.entry_id for e in result.entries] == ["e1"]
    assert result.stats.skipped == {"malformed": 2, "oversized": 1}
    assert result.end_offset < path.stat().st_size     # the partial last line waits for its newline


@given(st.lists(events, min_size=1, max_size=20), st.integers(1, 5))
def test_reading_in_chunks_gives_the_same_entries(tmp_path_factory, evs, chunk):
    path = tmp_path_factory.mktemp("f") / "s.jsonl"
    path.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in evs))
    whole = read_transcript(path)
    got, offset, line = [], 0, 0
    while True:
        part = read_transcript(path, offset, line, max_entries=chunk)
        got += part.entries
        if part.end_offset == offset:
            break
        offset, line = part.end_offset, part.end_line
    assert [(e.entry_id, e.seq, e.text) for e in got] == [(e.entry_id, e.seq, e.text) for e in whole.entries]


# -- SQLite store rows of any type -----------------------------------------------------------

sql_values = (st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=30)
              | st.binary(max_size=60))


rows = st.lists(st.tuples(
    st.sampled_from(["s1", "s2"]) | sql_values,                 # session_id
    st.integers(0, 40) | sql_values,                              # seq
    events.map(json.dumps) | sql_values,                          # event_json
    st.none() | st.binary(max_size=40) | events.map(lambda e: zstandard.ZstdCompressor().compress(json.dumps(e).encode())),
    sql_values,                                                   # event_utf8_bytes
), max_size=15)
windows = st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]) | sql_values, st.sampled_from(["agent:main:main"]) | sql_values,
                             sql_values), max_size=4)
colds = st.lists(st.tuples(st.sampled_from(["s1", "s2"]) | sql_values, sql_values,
                           st.sampled_from(["x.jsonl.zst", "../../etc/passwd", "a/b.jsonl.zst"]) | sql_values,
                           sql_values, st.sampled_from(["file", "sqlite"]) | sql_values, sql_values), max_size=2)


def _store(root: Path, w, r, c) -> Path:
    db = root / "agents" / "main" / DB_RELATIVE_PATH
    db.parent.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:  # columns without types: SQLite keeps whatever type it is given
        conn.execute("CREATE TABLE session_windows (session_id, session_key, created_at)")
        conn.execute("CREATE TABLE transcript_events (session_id, seq, event_json, event_zstd, event_utf8_bytes)")
        conn.execute("CREATE TABLE session_transcript_cold_archives (session_id, generation, archive_name, last_seq,"
                     " storage, archive_blob)")
        conn.execute("CREATE TABLE transcript_rewrite_watermarks (session_id, generation)")
        conn.executemany("INSERT INTO session_windows VALUES (?, ?, ?)", w)
        conn.executemany("INSERT INTO transcript_events VALUES (?, ?, ?, ?, ?)", r)
        conn.executemany("INSERT INTO session_transcript_cold_archives VALUES (?, ?, ?, ?, ?, ?)", c)
    return db


@given(windows, rows, colds)
def test_sqlite_rows_of_any_type_never_crash_the_reader(tmp_path_factory, w, r, c):
    root = tmp_path_factory.mktemp("state")
    _store(root, w, r, c)
    index = read_sqlite_index(root, "main")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in index.items())
    for t in list_sqlite_transcripts(root, "main"):
        assert isinstance(t.session_id, str)
        result = t.read(0, 0)
        _accounted(result, result.stats.lines)
