"""A conversation corpus the tests own: two friends chatting over months, as an OpenClaw state
directory (JSONL-transcript era) with LoCoMo-style questions in ``qa.jsonl``.

Written by the project and generated with a fixed seed, so a plain clone has it and every run gets
the same bytes. The shape is LoCoMo's (the dev sets beside the repo, which only benchmarks read):
two agents, each a pair of people (the user in ``USER.md``, the other speaker in ``IDENTITY.md``);
about twenty sessions per agent spanning a year, each a few pieces of news with reactions and
follow-ups; user turns carry a Telegram envelope as inbound text does in real transcripts; the
current main session is listed in ``sessions.json`` beside a sub-agent and a cron session full of
tool chatter ("zxqv", which the default session-key filters keep out), while older sessions are
archived ``*.jsonl.reset.<iso>`` files or unlisted transcripts.

What makes it useful to tests, beyond its size (about 380 entries per agent):
- names used the ways people use them: the user's nickname (Dan for Daniel: an alias), another
  name for the friend (Jenny for Jennifer: a separate entity a person would merge), relatives,
  partners, pets, places;
- turns of the shapes fact extraction must handle (relative clauses, "I think X is …", fronted
  complements, durations "for about N years now", plans "next month"), mixed with small talk;
- questions with the entry ids of their evidence and a LoCoMo category (1 multi-hop, 2 temporal,
  3 open-domain, 4 single-hop), each answerable from the transcript alone.

Usage: ``write_state(folder)`` returns the folder; ``python tests/dialogue_corpus.py DIR`` writes it.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["AGENTS", "SEED", "write_state", "questions"]

SEED = 26


@dataclass(frozen=True)
class Pair:
    """Who talks in one agent's transcripts, and what their lives hold (the slot values of the news)."""

    agent: str
    user: str          # USER.md: the user, speaker A (role "user")
    nickname: str      # what the other calls the user now and then (an alias of ``user``)
    friend: str        # IDENTITY.md: speaker B (role "assistant")
    misspelt: str      # the friend's name as the user sometimes types it
    siblings: tuple[tuple[str, str], tuple[str, str]]  # (relation, name) of the user, then of the friend
    partners: tuple[str, str]  # the user's, then the friend's
    pets: tuple[tuple[str, str], ...]  # (kind, name)
    cities: tuple[str, ...]
    orgs: tuple[str, ...]
    hobbies: tuple[str, ...]
    instruments: tuple[str, ...]
    books: tuple[tuple[str, str], ...]  # (title, author)
    parks: tuple[str, ...]
    dishes: tuple[str, ...]
    languages: tuple[str, ...]
    causes: tuple[str, ...]


AGENTS = (
    Pair("friends-1", "Daniel", "Dan", "Jennifer", "Jenny", (("sister", "Imogen"), ("brother", "Oskar")), ("Theo", "Marguerite"),
         (("beagle", "Pretzel"), ("tabby cat", "Juniper")), ("Porto", "Edinburgh", "Valencia"),
         ("Heron Analytics", "Bluebird Health"), ("pottery", "watercolour painting", "bouldering"),
         ("cello", "ukulele"), (("The Overstory", "Richard Powers"), ("Piranesi", "Susanna Clarke")),
         ("Glen Affric", "Yosemite"), ("mushroom risotto", "lemon tart"), ("Portuguese", "Japanese"),
         ("the children's hospital", "an animal shelter")),
    Pair("friends-2", "Katherine", "Kath", "Rebecca", "Becky", (("brother", "Farid"), ("sister", "Annika")), ("Leyla", "Bjorn"),
         (("greyhound", "Biscuit"), ("parrot", "Kiwi")), ("Lyon", "Toronto", "Osaka"),
         ("Tidewater Bank", "Northwind Studios"), ("woodworking", "sourdough baking", "chess"),
         ("violin", "drums"), (("Project Hail Mary", "Andy Weir"), ("Circe", "Madeline Miller")),
         ("Banff", "the Lake District"), ("lamb tagine", "pistachio baklava"), ("Korean", "Italian"),
         ("a food bank", "the local library")),
)

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class _Turn:
    speaker: str  # "A" (the user) or "B" (the friend)
    text: str
    qa: list[tuple[str, str, int]] = field(default_factory=list)  # (question, answer, category) it answers


def _last(day: datetime, weekday: str) -> datetime:
    """The most recent ``weekday`` strictly before ``day`` ("last Saturday")."""
    back = (day.weekday() - _WEEKDAYS.index(weekday)) % 7 or 7
    return day - timedelta(days=back)


def _fmt(day: datetime) -> str:
    return f"{day.day} {day:%B %Y}"


def _news(pair: Pair, rng: random.Random, day: datetime, teller: str, used: set[str]) -> list[_Turn]:
    """One piece of news told by ``teller`` ("A" or "B"), with the other's reaction and a follow-up.

    Each kind of news is told once per teller; its questions name the teller."""
    me, you = (pair.user, pair.friend) if teller == "A" else (pair.friend, pair.user)
    other = "B" if teller == "A" else "A"
    call_you = (pair.nickname if rng.random() < 0.5 else pair.user) if teller == "A" else \
        (pair.misspelt if rng.random() < 0.3 else pair.friend)  # how the other addresses the teller
    pick = lambda xs: xs[0] if teller == "A" else xs[-1]  # noqa: E731 - each teller has their own
    (relation, sibling), partner = pick(pair.siblings), pick(pair.partners)
    kinds = [k for k in ("workshop", "pet", "job", "move", "race", "instrument", "book", "camping",
                         "cooking", "language", "visit", "volunteer") if (teller, k) not in used]
    kind = rng.choice(kinds)
    used.add((teller, kind))
    weekday = rng.choice(_WEEKDAYS[4:] + _WEEKDAYS[:2])
    when = _last(day, weekday)
    if kind == "workshop":
        hobby = pick(pair.hobbies)
        thing = rng.choice(("a blue bowl", "a small vase", "a landscape", "a birdhouse"))
        return [
            _Turn(teller, f"Guess what, I went to a {hobby} workshop last {weekday} and it was so much fun!",
                  [(f"When did {me} go to the {hobby} workshop?", f"The {weekday} before {_fmt(day)}", 2)]),
            _Turn(other, f"That's awesome, {me}! What did you make there?"),
            _Turn(teller, f"I made {thing}, and my {relation} {sibling} says it's the best thing I've done.",
                  [(f"What did {me} make at the {hobby} workshop?", thing.split(" ", 1)[1], 4)]),
            _Turn(other, f"It's inspiring how dedicated you are to {hobby}. I think you're a natural, {call_you}!"),
        ]
    if kind == "pet":
        pet_kind, pet_name = pick(pair.pets)
        return [
            _Turn(teller, f"We adopted a {pet_kind} named {pet_name} from the shelter on {weekday}!",
                  [(f"What kind of pet did {me} adopt?", pet_kind, 4),
                   (f"What is the name of {me}'s {pet_kind}?", pet_name, 4),
                   (f"When did {me} adopt {pet_name}?", f"The {weekday} before {_fmt(day)}", 2)]),
            _Turn(other, f"No way! I love that name. How is {pet_name} settling in?"),
            _Turn(teller, f"{pet_name} sleeps on my feet every night and already knows how to sit.",
                  [(f"Where does {pet_name} sleep?", "on feet", 4)]),
            _Turn(other, "That is the cutest thing I've heard all week."),
        ]
    if kind == "job":
        org = pick(pair.orgs)
        role = rng.choice(("data analyst", "project coordinator", "designer"))
        return [
            _Turn(teller, f"Big news: I started a new job as a {role} at {org} yesterday.",
                  [(f"Where does {me} work?", org, 4), (f"What is {me}'s job at {org}?", role, 4),
                   (f"When did {me} start working at {org}?", _fmt(day - timedelta(days=1)), 2)]),
            _Turn(other, f"Congratulations, {call_you}! How are your new colleagues?"),
            _Turn(teller, f"My manager at {org} is really kind, and the team I joined builds tools for hospitals.",
                  [(f"What does {me}'s team at {org} build?", "tools for hospitals", 4)]),
            _Turn(other, f"The job you described sounds perfect for you, {me}."),
        ]
    if kind == "move":
        city = pick(pair.cities)
        month = (day.replace(day=1) + timedelta(days=40)).strftime("%B %Y")
        return [
            _Turn(teller, f"We're moving to {city} next month because {partner} got a position there.",
                  [(f"Where is {me} moving to?", city, 4), (f"When is {me} moving to {city}?", month, 2),
                   (f"Why is {me} moving to {city}?", f"{partner} got a position there", 1)]),
            _Turn(other, f"Wow, {city}! That's a big change. Are you excited?"),
            _Turn(teller, f"I'm nervous, but {partner} already found us a flat near the river in {city}."),
            _Turn(other, "A flat near the river sounds lovely. I'll visit you for sure."),
        ]
    if kind == "race":
        cause = pick(pair.causes)
        return [
            _Turn(teller, f"I ran a charity 10K for {cause} last {weekday}, and we raised over 800 dollars.",
                  [(f"What cause did {me}'s charity run support?", cause, 4),
                   (f"When did {me} run a charity 10K?", f"The {weekday} before {_fmt(day)}", 2)]),
            _Turn(other, f"You're amazing, {call_you}. Was it hard?"),
            _Turn(teller, "The last two kilometres were brutal, but the crowd kept me going."),
            _Turn(other, "I'm so proud of you for doing it."),
        ]
    if kind == "instrument":
        instrument = pick(pair.instruments)
        years = rng.choice((3, 5, 10))
        return [
            _Turn(teller, f"I've been playing the {instrument} for about {years} years now, and I just joined a "
                          f"community orchestra.",
                  [(f"What instrument does {me} play?", instrument, 4),
                   (f"How long has {me} been playing the {instrument}?", f"about {years} years", 4)]),
            _Turn(other, f"I didn't know you played the {instrument}! When is your first concert?"),
            _Turn(teller, f"The first concert is on {weekday} the {rng.randint(10, 28)}th, and {relation} "
                          f"{sibling} promised to come.",
                  [(f"Who promised to come to {me}'s first concert?", f"{relation} {sibling}", 1)]),
            _Turn(other, "I'd love to come too, send me the details."),
        ]
    if kind == "book":
        title, author = pick(pair.books)
        return [
            _Turn(teller, f"I finally finished reading {title} by {author}. It was amazing.",
                  [(f"What book did {me} finish reading?", title, 4), (f"Who wrote the book {me} finished?", author, 4)]),
            _Turn(other, "Is it worth reading? I need something for the summer."),
            _Turn(teller, f"Yes, {title} made me think about how patient nature is. You'd love it."),
            _Turn(other, f"Adding {title} to my list right now, thanks {call_you}."),
        ]
    if kind == "camping":
        park = pick(pair.parks)
        animal = rng.choice(("a family of deer", "two eagles", "a red fox"))
        return [
            _Turn(teller, f"We went camping at {park} last weekend with {partner} and saw {animal}!",
                  [(f"Where did {me} go camping?", park, 4), (f"What did {me} see while camping?", animal, 4),
                   (f"Who went camping with {me}?", partner, 1)]),
            _Turn(other, "Camping sounds so peaceful. Did it rain?"),
            _Turn(teller, "It rained the second night, but the tent held up and we roasted marshmallows anyway."),
            _Turn(other, "That's the kind of memory that sticks with you."),
        ]
    if kind == "cooking":
        dish = pick(pair.dishes)
        return [
            _Turn(teller, f"I cooked {dish} for {sibling}'s birthday on {weekday}, and everyone asked for the recipe.",
                  [(f"What did {me} cook for {sibling}'s birthday?", dish, 4),
                   (f"Whose birthday did {me} cook {dish} for?", sibling, 1)]),
            _Turn(other, f"The recipe you made for {sibling} sounds delicious. Will you share it?"),
            _Turn(teller, f"Sure, the secret is a lot of patience and good butter."),
            _Turn(other, "Patience and butter, noted!"),
        ]
    if kind == "language":
        language = pick(pair.languages)
        return [
            _Turn(teller, f"I signed up for a {language} course at the community college, classes start in September.",
                  [(f"What language is {me} learning?", language, 4),
                   (f"When do {me}'s {language} classes start?", "September", 2)]),
            _Turn(other, f"Why {language}?"),
            _Turn(teller, f"{partner} and I want to travel there next year, and I want to order food without pointing.",
                  [(f"Why is {me} learning {language}?", "to travel there next year", 3)]),
            _Turn(other, "Ha, that is the best reason to learn a language."),
        ]
    if kind == "visit":
        city = pick(pair.cities[::-1])
        return [
            _Turn(teller, f"My {relation} {sibling} is visiting from {city} next week, I can't wait!",
                  [(f"Where does {me}'s {relation} live?", city, 1),
                   (f"What is the name of {me}'s {relation}?", sibling, 4)]),
            _Turn(other, f"How long since you last saw {sibling}?"),
            _Turn(teller, f"Almost two years. I know what {sibling} thinks of my cooking, so we'll eat out a lot."),
            _Turn(other, "Have the best time together!"),
        ]
    # volunteer
    cause = pick(pair.causes[::-1])
    return [
        _Turn(teller, f"I'm volunteering at {cause} every {weekday} now, reading stories to kids.",
              [(f"Where does {me} volunteer?", cause, 4), (f"On which day does {me} volunteer?", weekday, 4)]),
        _Turn(other, f"That's so kind of you, {call_you}. How did you get into it?"),
        _Turn(teller, "A neighbour told me they needed people, and I remembered how much stories meant to me as a kid."),
        _Turn(other, "You're making a real difference to those kids."),
    ]


_OPENERS = ("Hey {you}, it's been a while! How have you been?", "Hi {you}! So much has happened since we last talked.",
            "Good to hear from you, {you}! What's new?", "Morning {you}! Got a minute to chat?")
_GREETINGS = ("Hey {you}! I'm good, just busy. Tell me everything.", "Hi {you}, lovely to hear from you!",
              "{you}! I was just thinking about you.", "All good here, {you}. What's going on with you?",
              "Hello hello! Pretty tired, but happy.")
_CLOSERS = (("I have to run now, talk soon!", "Bye! Take care."),
            ("Thanks for listening, {you}.", "Always. Talk to you soon!"),
            ("It was great catching up. Same time next week?", "Definitely, see you then!"))
# Small talk, as (opening, reply): no question is asked of it; it is what recall must rank past.
_SMALL_TALK = (
    ("The weather has been so grey lately, I miss the sun.", "Same here, I've been drinking way too much tea."),
    ("Have you watched anything good recently?", "I binged a baking show last weekend, it was weirdly calming."),
    ("Work has been hectic this week, so many meetings.", "Meetings that could have been emails, I bet."),
    ("I tried a new coffee place near the station.", "Was it any good? The one by my office closed."),
    ("I think {sibling} is the funniest person I know.", "From your stories, I believe it!"),
    ("My phone screen cracked again, third time this year.", "You need one of those rugged cases."),
    ("I've been trying to go to bed earlier.", "How is that going? I always end up scrolling."),
    ("The neighbours are renovating and the drilling starts at seven.", "That sounds exhausting, I'm sorry."),
    ("I found an old photo album at my parents' place yesterday.", "Those albums are treasures. Any embarrassing pictures?"),
    ("It's funny how time flies when you're busy.", "Tell me about it, where did this month go?"),
    ("Do you have any plans for the holidays yet?", "Not yet, probably something quiet at home."),
    ("I finally cleaned out my closet and donated three bags of clothes.", "That must feel so freeing!"),
    ("The bus was late again this morning.", "Public transport here is a lottery."),
    ("I'm thinking about getting more plants for the balcony.", "Herbs are easy, basil grows like crazy."),
    ("Sorry I didn't reply sooner, the week got away from me.", "No worries at all, life happens."),
    ("I really admire how you always make time for your friends.", "That means a lot, thank you."),
    ("We had a power cut for a whole evening and played board games by candlelight.", "That actually sounds kind of romantic."),
    ("I've started journaling in the mornings.", "Is it helping you feel calmer?"),
    ("My back hurts from sitting at the desk all day.", "Try stretching every hour, it helped me a lot."),
    ("I made a playlist of songs from when we were at school.", "Send it over, I need some nostalgia."),
    ("I'm so glad we keep in touch like this.", "Me too, these chats are the highlight of my week."),
    ("The farmers market had the best strawberries today.", "Strawberry season is the best season."),
    ("I tried yoga at home but the cat kept sitting on the mat.", "The cat knows best, honestly."),
    ("I'm reading the news less, it makes me anxious.", "Protecting your peace is important."),
)


def _session(pair: Pair, rng: random.Random, day: datetime, used: set, news: int) -> list[_Turn]:
    turns = [_Turn("A", rng.choice(_OPENERS).format(you=rng.choice((pair.friend, pair.misspelt)))),
             _Turn("B", rng.choice(_GREETINGS).format(you=rng.choice((pair.nickname, pair.user))))]
    chats = rng.sample(_SMALL_TALK, rng.randint(4, 7))
    for n in range(max(news, len(chats))):
        if n < news:
            tellers = [t for t in "AB" if sum(who == t for who, _ in used) < 12]
            turns += _news(pair, rng, day, rng.choice(tellers), used) if tellers else []
        if n < len(chats):
            first, reply = chats[n]
            speaker = rng.choice("AB")
            turns += [_Turn(speaker, first.format(sibling=pair.siblings[0][1])),
                      _Turn("B" if speaker == "A" else "A", reply)]
    bye, reply = rng.choice(_CLOSERS)
    return turns + [_Turn("A", bye.format(you=pair.friend)), _Turn("B", reply)]


def _conversation(pair: Pair, rng: random.Random) -> list[tuple[datetime, list[_Turn]]]:
    day = datetime(2024, 2, 3, 13, 56, tzinfo=timezone.utc)
    used: set[tuple[str, str]] = set()
    sessions = []
    while len(used) < 24:  # every kind of news told by both, one or two a session
        sessions.append((day, _session(pair, rng, day, used, min(24 - len(used), rng.choice((1, 1, 2))))))
        day = (day + timedelta(days=rng.randint(7, 16))).replace(hour=rng.randint(9, 20), minute=rng.randint(0, 59))
    return sessions


def _message(entry_id: str, parent: str | None, at: datetime, role: str, text: str, pair: Pair) -> dict:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ms = int(at.timestamp() * 1000)
    if role == "user":
        envelope = f"[Telegram {pair.user} (@{pair.user.lower()}) {at:%a %Y-%m-%d %H:%M:%S} UTC] "
        message = {"role": "user", "content": [{"type": "text", "text": envelope + text}], "timestamp": ms}
    else:
        message = {"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": ms,
                   "api": "anthropic-messages", "provider": "anthropic", "model": "claude-sonnet-4-5",
                   "usage": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 0},
                   "stopReason": "stop"}
    return {"type": "message", "id": entry_id, "timestamp": stamp, "message": message, "parentId": parent}


def _noise(session_id: str, at: datetime, user: str, prompt: str) -> list[dict]:
    """Tool chatter of a sub-agent or cron session: what default filters keep out of memory."""
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ms = int(at.timestamp() * 1000)
    return [
        {"type": "session", "version": 3, "id": session_id, "timestamp": stamp, "cwd": "/data/workspace"},
        {"type": "message", "id": "s1", "timestamp": stamp, "parentId": None,
         "message": {"role": "user", "content": [{"type": "text", "text": prompt}], "timestamp": ms}},
        {"type": "message", "id": "s2", "timestamp": stamp, "parentId": "s1",
         "message": {"role": "assistant", "timestamp": ms, "stopReason": "toolUse",
                     "content": [{"type": "text", "text": f"Searching the zxqv tariff tables for {user}"},
                                 {"type": "toolCall", "id": "call_1", "name": "web_search",
                                  "arguments": {"query": "zxqv tariff tables"}}]}},
        {"type": "message", "id": "s3", "timestamp": stamp, "parentId": "s2",
         "message": {"role": "toolResult", "toolCallId": "call_1", "toolName": "web_search", "isError": False,
                     "content": [{"type": "text", "text": "found 3 zxqv results"}], "timestamp": ms}},
        {"type": "message", "id": "s4", "timestamp": stamp, "parentId": "s3",
         "message": {"role": "assistant", "timestamp": ms, "stopReason": "stop",
                     "content": [{"type": "text", "text": "exec: ls zxqv-cache/ -> 14 files"}]}},
    ]


def _write_jsonl(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def _write_agent(state: Path, pair: Pair, rng: random.Random) -> list[dict]:
    sessions_dir = state / "agents" / pair.agent / "sessions"
    sessions_dir.mkdir(parents=True)
    workspace = state / f"workspace-{pair.agent}"
    workspace.mkdir()
    (workspace / "USER.md").write_text(f"# USER.md\n\n- **Name:** {pair.user}\n", encoding="utf-8")
    (workspace / "IDENTITY.md").write_text(f"# IDENTITY.md\n\n- **Name:** {pair.friend}\n", encoding="utf-8")
    qa, index = [], {}
    conversation = _conversation(pair, rng)
    for n, (day, turns) in enumerate(conversation, 1):
        session_id = str(uuid.UUID(int=rng.getrandbits(128)))
        lines = [{"type": "session", "version": 3, "id": session_id,
                  "timestamp": day.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "cwd": "/data/workspace"}]
        parent, at = None, day
        for i, turn in enumerate(turns, 1):
            entry_id = f"D{n}:{i}"
            lines.append(_message(entry_id, parent, at, "user" if turn.speaker == "A" else "assistant", turn.text, pair))
            qa += [{"agent": pair.agent, "question": q, "answer": a, "evidence": [entry_id], "category": c}
                   for q, a, c in turn.qa]
            parent, at = entry_id, at + timedelta(seconds=rng.randint(25, 90))
        last = n == len(conversation)
        if last:  # the current main session
            name = f"{session_id}.jsonl"
            index[f"agent:{pair.agent}:main"] = {
                "sessionId": session_id, "updatedAt": int(at.timestamp() * 1000), "sessionFile": name,
                "chatType": "direct", "lastChannel": "telegram", "origin": {"provider": "telegram", "label": pair.user}}
        elif n % 3:  # archived by a reset, as OpenClaw does
            name = f"{session_id}.jsonl.reset.{at:%Y-%m-%dT%H-%M-%S}.000Z"
        else:  # an older transcript no longer in sessions.json
            name = f"{session_id}.jsonl"
        _write_jsonl(sessions_dir / name, lines)
    end = conversation[-1][0] + timedelta(hours=2)
    for key, prompt in ((f"agent:{pair.agent}:subagent:{uuid.UUID(int=rng.getrandbits(128))}",
                         f"Research zxqv tariffs for {pair.user} and report back."),
                        (f"agent:{pair.agent}:cron:nightly-maintenance", "[cron:nightly-maintenance] Tidy the zxqv cache.")):
        session_id = str(uuid.UUID(int=rng.getrandbits(128)))
        _write_jsonl(sessions_dir / f"{session_id}.jsonl", _noise(session_id, end, pair.user, prompt))
        index[key] = {"sessionId": session_id, "updatedAt": int(end.timestamp() * 1000),
                      "sessionFile": f"{session_id}.jsonl"}
    (sessions_dir / "sessions.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return qa


def write_state(folder: Path, seed: int = SEED) -> Path:
    """Write the corpus as an OpenClaw state directory into ``folder`` (created; must not exist).

    Returns ``folder``. Same seed, same bytes."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    qa = []
    for pair in AGENTS:
        qa += _write_agent(folder, pair, rng)
    (folder / "openclaw.json").write_text(json.dumps({"agents": {"list": [{"id": p.agent} for p in AGENTS]}},
                                                     indent=2), encoding="utf-8")
    _write_jsonl(folder / "qa.jsonl", qa)
    return folder


def questions(state: Path, agent: str | None = None) -> list[dict]:
    """The corpus's questions (``qa.jsonl`` rows), those of ``agent`` only when given."""
    rows = [json.loads(line) for line in (Path(state) / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
    return [q for q in rows if agent is None or q["agent"] == agent]


if __name__ == "__main__":
    print(write_state(Path(sys.argv[1])))
