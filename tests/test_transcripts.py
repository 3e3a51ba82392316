import json
from datetime import datetime, timezone

from nova.ingest.envelope import parse_envelope, strip_injected_blocks
from nova.ingest.transcripts_jsonl import list_transcripts, read_session_index, read_transcript
from nova.ingest.workspace import load_speakers

from conftest import EXAMPLE_STATE, write_transcript


def test_envelope_gives_channel_sender_and_time():
    env = parse_envelope("[Telegram Caroline (@caroline) Mon 2023-05-08 13:56:00 UTC] Hey Mel!")
    assert (env.channel, env.sender, env.body) == ("Telegram", "Caroline", "Hey Mel!")
    assert env.sent_at == datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
    wa = parse_envelope("[WhatsApp +1555 Mon 2026-01-05 16:26:34 PST] hello")
    assert wa.sender == "+1555" and wa.sent_at == datetime(2026, 1, 6, 0, 26, 34, tzinfo=timezone.utc)
    utc_mode = parse_envelope("[Slack Bob id:U1 +5m Mon 2026-01-05T16:26:34Z] Bob: hi")
    assert (utc_mode.sender, utc_mode.body) == ("Bob", "hi")
    assert parse_envelope("[Image: a photo of a dog] nice") is None


def test_injected_memory_blocks_are_removed():
    text = "<nova-memory>\n- old memory\n</nova-memory>\nreal words <relevant-memories>x</relevant-memories>"
    assert strip_injected_blocks(text) == "real words"


def test_only_user_and_assistant_text_parts_become_entries(tmp_path):
    path = tmp_path / "s.jsonl"
    lines = [
        {"type": "session", "id": "s", "timestamp": "2023-05-08T13:00:00Z"},
        {"type": "message", "id": "a", "message": {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "secret plan"}, {"type": "text", "text": "Hello"},
            {"type": "toolCall", "id": "c", "name": "exec", "arguments": {}}]}},
        {"type": "message", "id": "b", "message": {"role": "toolResult", "content": [{"type": "text", "text": "ls"}]}},
        {"type": "compaction", "id": "c", "summary": "..."},
        {"type": "brand_new_type", "id": "d"},
        {"type": "message", "id": 5, "message": {"role": "user", "content": "wrong id type"}},
        {"type": "message", "id": "e", "message": "not an object"},
        {"type": "message", "id": "f", "message": {"role": "user", "content": [{"type": "image", "data": "..."}]}},
    ]
    raw = "".join(json.dumps(l) + "\n" for l in lines) + "not json\n\n[1, 2]\n"
    path.write_bytes(raw.encode() + b"\xff\xfe broken utf8\n")
    result = read_transcript(path)
    assert [(e.entry_id, e.role, e.text) for e in result.entries] == [("a", "assistant", "Hello")]
    skipped = result.stats.skipped
    assert skipped["role:toolResult"] == 1 and skipped["type:compaction"] == 1
    assert skipped["unknown_type"] == 1 and skipped["no_text"] == 1 and skipped["blank"] == 1
    assert skipped["malformed"] == 5  # wrong id type, non-object message, bad JSON, JSON list, bad UTF-8
    assert result.stats.lines == len(lines) + 4


def test_truncated_last_line_waits_for_the_rest(tmp_path):
    path = tmp_path / "s.jsonl"
    write_transcript(path, "s", [("user", "first"), ("assistant", "second")])
    full = path.read_bytes()
    cut = full.rstrip(b"\n")[:-10]
    path.write_bytes(cut)
    partial = read_transcript(path)
    assert [e.entry_id for e in partial.entries] == ["e1"]
    path.write_bytes(full)
    rest = read_transcript(path, partial.end_offset, partial.end_line)
    assert [(e.entry_id, e.seq) for e in rest.entries] == [("e2", 2)]


def test_example_layout_is_discovered():
    files = list_transcripts(EXAMPLE_STATE, "main")
    assert {f.state for f in files} == {"live", "reset"}
    assert files[0].state == "reset"  # archives first: history in the order it was written
    assert len({f.session_id for f in files}) == len(files)
    index = read_session_index(EXAMPLE_STATE, "main")
    assert index["5e6f7a8b-2222-4c3d-8e9f-bbbbbbbbbbbb"] == "agent:main:main"


def test_workspace_names_the_speakers():
    speakers = load_speakers(EXAMPLE_STATE, "main")
    assert (speakers.user, speakers.assistant) == ("Dana Okafor", "Nova")


def test_novas_own_commands_are_no_memories_but_remember_gives_its_text(tmp_path):
    """The nova-recall plugin's commands (hooks/nova-recall-plugin/commands.js) in a transcript: /memory
    and /forget are not something the user told the agent; ``/remember <text>`` is the text."""
    path = tmp_path / "s.jsonl"
    write_transcript(path, "s", [("user", "/memory Priya"), ("user", "/forget 2"), ("user", "/forget all"),
                                 ("user", "/remember"), ("user", "/remember I keep my shoes in locker 12."),
                                 ("assistant", "/remember this is the assistant")])
    result = read_transcript(path)
    assert [(e.role, e.text) for e in result.entries] == [
        ("user", "I keep my shoes in locker 12."), ("assistant", "/remember this is the assistant")]
    assert result.stats.skipped["synthetic"] == 4
