"""The facts extraction writes read as statements: a full clause whose subject is named, with
nothing before the subject but time, place or discourse phrases. Checked on a sample of real
conversation turns (each agent of the tests' own corpus, tests/dialogue_corpus.py, which holds these
shapes among small talk) with an oracle of its own: spaCy's parse of the fact's text, not the
extraction's parse of the turn.

Also not statements: conditions and might-bes ("if Alex plans to visit both ...", "Alex could try ...").
bench/bench_facts.py applies the same oracle to the dev sets, per role, with the attribution rule too.

Fragments users see as junk: "recipe Joanna made for Joanna's family" (a relative clause),
"know what Joanna thinks", "think Nate is an expert hiker now" (a clause whose governing "I" was
dropped), "inspiring how dedicated Nate is" (a fronted complement), "Joanna is true to Joanna".
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nova.config import FilterSettings
from nova.ingest.filters import SessionFilter
from nova.ingest.transcripts_jsonl import read_session_index, read_transcript
from nova.ingest.workspace import load_speakers
from nova.memory.extract import ExtractionInput
from nova.memory.speakers import entry_speakers

AGENTS = ("friends-1", "friends-2")
SAMPLE_TURNS = 600  # per agent at most, its main-session turns, drawn with a fixed seed
# Share of facts the oracle reads as a clean clause. On LoCoMo turns (the dev sets beside the repo)
# it was 0.740 / 0.741 before the clause rules (relative clauses, clauses of an unsaid "I think",
# fronted complements, reflexives) and 0.883 / 0.899 after; on this corpus's two agents it is
# 0.906 / 0.893 (the oracle's own parse errors are most of the rest); with conditions and modals counted
# as junk and the turns read with their roles (extraction v7: an assistant's reply gives no guesses about
# the user, no offers, no hypotheses), 0.937 / 0.887. The floor stays below both, so parser noise does
# not fail it but losing a rule does. bench/bench_facts.py gives the same share per role on the dev sets.
CLEAN_FLOOR = 0.85

# Dependencies that may precede the subject of a statement: time and place phrases, discourse words.
_OPENERS = {"advmod", "npadvmod", "prep", "pobj", "det", "amod", "compound", "punct", "cc", "mark", "intj",
            "nummod", "quantmod", "pcomp", "poss", "case", "appos", "advcl", "aux", "neg", "prt"}


# A fact that only holds under a condition, or only might: "if Alex plans to visit both ...", "Alex could try ...".
_CONDITIONS = {"if", "unless", "whether", "assuming", "suppose", "supposing"}
_MODALS = {"can", "could", "might", "may", "would", "should", "ca"}


def _clean(doc, subject: str) -> bool:
    """The fact reads as a statement: a full clause, its subject named, nothing before the subject but
    time, place or discourse phrases, no condition and no modal on its verb."""
    root = next(iter(doc.sents)).root
    if doc[0].lower_ in _CONDITIONS or any(c.dep_ == "aux" and c.lower_ in _MODALS for c in root.children):
        return False
    subjects = [c for c in root.children if c.dep_ in ("nsubj", "nsubjpass", "expl")]
    if root.pos_ not in ("VERB", "AUX") or not subjects:
        return False
    words = [t.text.lower() for t in subjects[0].subtree]
    if not (any(t.pos_ == "PROPN" for t in subjects[0].subtree) or subject.lower() in " ".join(words)):
        return False
    first = subjects[0].left_edge.i
    if any(t.dep_ not in _OPENERS and not (t.head.i < first and t.head.dep_ in _OPENERS) for t in doc[:first]):
        return False
    # "Joanna is pushing Joanna": the subject's name standing in for its own reflexive.
    name = subject.split()[0]
    return not any(t.text == name and t.dep_ in ("dobj", "pobj") for t in doc[root.i + 1:])


def _sample(state: Path, only: str) -> list[ExtractionInput]:
    """Turns of the sessions catch-up keeps (the default session-key filters leave out the sub-agent
    and cron transcripts: tool chatter); archived sessions, absent from sessions.json, are the user's."""
    keep = SessionFilter(FilterSettings())
    turns = []
    for sessions in sorted((state / "agents").glob("*/sessions")):
        agent = sessions.parent.name
        if agent != only:
            continue
        speakers = load_speakers(state, agent)
        filtered = {sid for sid, key in read_session_index(state, agent).items() if not keep.decide(key)[0]}
        for path in sorted(sessions.glob("*.jsonl*")):
            if path.name.split(".jsonl")[0] in filtered:
                continue
            for e in read_transcript(path).entries:
                speaker, addressee = entry_speakers(e.role, e.sender, speakers)
                turns.append(ExtractionInput(e.text, speaker, addressee, e.occurred_at, e.role))
    random.Random(7).shuffle(turns)
    return turns[:SAMPLE_TURNS]


@pytest.mark.parametrize("agent", AGENTS)
def test_extracted_facts_read_as_clauses_with_a_named_subject(extractor, dialogue_state, agent):
    facts = [f for x in extractor.extract_batch(_sample(dialogue_state, agent)) for f in x.facts
             if f.predicate != "is_a"]
    docs = extractor.nlp.pipe(f.text for f in facts)
    clean = [_clean(doc, f.subject) for doc, f in zip(docs, facts, strict=True)]
    share = sum(clean) / len(clean)
    junk = [f.text for f, ok in zip(facts, clean, strict=True) if not ok][:15]
    print(f"{agent}: {sum(clean)}/{len(clean)} facts clean ({share:.3f})")
    assert len(facts) > 150  # enough for the share to mean something (friends-1: 189 at extraction v7)
    assert share >= CLEAN_FLOOR, f"{share:.3f} of {len(facts)} facts clean; e.g. {junk}"
