"""A long episode (a question and a long assistant answer) is recalled as the sentences that answer the
query, under its date and speakers, with provenance to the entries they came from; a short one whole."""

from __future__ import annotations

from conftest import write_transcript
from nova.ingest.catchup import run_catchup
from nova.recall.excerpt import EXCERPT_ABOVE
from nova.recall.search import recall

TOPICS = [
    "The Louvre is busiest on Wednesday evenings, so go early on a weekday morning.",
    "For the Musée d'Orsay, buy a timed ticket online to skip the queue at the entrance.",
    "A Navigo Easy card makes the metro cheaper if you take more than ten rides.",
    "Montmartre is best at sunrise, before the tour groups climb the steps to Sacré-Cœur.",
    "Many bakeries close on Mondays, so check the hours before you walk across town.",
    "The Seine river cruises leave every thirty minutes from the Eiffel Tower pier.",
    "Tipping is included in the bill in French restaurants; rounding up is a courtesy.",
    "The Catacombs sell out days ahead, and the visit takes about an hour underground.",
    "The Orangerie holds Monet's water lilies in two oval rooms lit by daylight.",
    "Sainte-Chapelle's stained glass is brightest on a sunny afternoon around three.",
    "The small bistro Chez Margaux on Rue Cler serves the duck confit you asked about.",
    "Sunday markets at Bastille and Raspail are good for cheese, bread and fruit.",
    "Versailles is a day trip: the RER C train takes about forty minutes from the centre.",
    "Pickpockets work the crowded metro lines, so keep your phone in a front pocket.",
    "The Rodin Museum garden alone costs a few euros and is quiet on weekday mornings.",
]


def test_a_long_answer_is_recalled_as_the_sentences_that_answer(store, settings, projector, tmp_path):
    state = tmp_path / "openclaw"
    sessions = state / "agents" / "main" / "sessions"
    write_transcript(sessions / "paris.jsonl", "paris", [
        ("user", "I'm going to Paris in May. Any tips for museums, food and getting around?"),
        ("assistant", "Here are some tips for your trip.\n" + "\n".join(f"- {t}" for t in TOPICS)),
    ])
    write_transcript(sessions / "dog.jsonl", "dog", [
        ("user", "My dog Biscuit learned to open the fridge."),
        ("assistant", "Ha, clever dog!"),
    ], start="2023-06-01T10:00:00Z", id_prefix="d")
    run_catchup(store, settings, projector, state)
    budget = settings.recall_budget_tokens
    with store.connection() as conn:
        whole = conn.execute("SELECT tokens FROM episodes WHERE session_id = 'paris'").fetchone()[0]
        assert whole > EXCERPT_ABOVE * budget  # the case under test: an exchange over the excerpt size
        items = recall(conn, projector.embedder, "main", "Which bistro serves the duck confit?", budget_tokens=budget)
        episode = next(i for i in items if i.kind == "episode" and "Chez Margaux" in i.text)
        assert episode.tokens <= EXCERPT_ABOVE * budget < whole
        assert episode.text.startswith("[8 May 2023] ")  # the episode's date kept
        assert "…" in episode.text and "Navigo" not in episode.text  # the sentences left out are marked, not shown
        # Provenance: the entries whose sentences it shows (the answer; the question when a line of it is shown).
        shown = ["e1", "e2"] if episode.text.startswith("[8 May 2023] User: ") else ["e2"]
        assert [s["entry_id"] for s in episode.sources] == shown
        assert "- The small bistro" not in episode.text  # list bullets are not sentences
        assert "Chez Margaux" in episode.text.split("\n")[-1]  # the answer's line, after the question's
        short = recall(conn, projector.embedder, "main", "What did Biscuit learn to open?", budget_tokens=budget)
        dog = next(i for i in short if i.kind == "episode" and "Biscuit" in i.text)
        assert "…" not in dog.text and "Ha, clever dog!" in dog.text  # a short exchange is recalled whole


class _DenseOnly:
    """The shipped embedder as a store with ``embedding_tiers = "dense"`` has it: no static tier. Counts
    the texts of each dense-model call."""

    static = None

    def __init__(self, embedder):
        self._embedder, self.calls = embedder, []

    def encode(self, texts):
        self.calls.append(len(texts))
        return self._embedder.encode(texts)

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def test_without_a_static_tier_the_dense_model_scores_a_bounded_few_sentences(store, settings, projector, tmp_path):
    """Dense-only stores scored every sentence of the long episodes with the dense model at recall (0.3-2 s
    on two cores for LongMemEval's: past the hook's 300 ms budget, so the turn got nothing). Now the
    DENSE_SCORED sentences holding most of the query's words; the answer is still found."""
    from nova.recall.excerpt import DENSE_SCORED

    state = tmp_path / "openclaw"
    filler = [f"District {n} has a quiet park with benches under the plane trees." for n in range(1, 31)]
    write_transcript(state / "agents" / "main" / "sessions" / "paris.jsonl", "paris", [
        ("user", "I'm going to Paris in May. Any tips?"),
        ("assistant", "Here are some tips.\n" + "\n".join(f"- {t}" for t in filler[:15] + TOPICS + filler[15:])),
    ])
    run_catchup(store, settings, projector, state)
    dense = _DenseOnly(projector.embedder)
    with store.connection() as conn:
        items = recall(conn, dense, "main", "Which bistro serves the duck confit?",
                       budget_tokens=settings.recall_budget_tokens)
    episode = next(i for i in items if i.kind == "episode" and "Chez Margaux" in i.text)
    assert "…" in episode.text
    assert max(dense.calls) <= DENSE_SCORED + 1, dense.calls  # the query and at most DENSE_SCORED sentences
