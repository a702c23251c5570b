"""Call drivers on a synthetic corpus with planted reasons (Faker + templates written
here): the topics recover the reasons (purity), are named by their terms, keep their ids
across runs, and the weekly trends count the calls."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from faker import Faker

from analytics.insights.drivers import Document, discover, match_ids, purity, similarity
from tests.factories import NOW

# Each reason: the sentences a customer might say (French and English), with slots.
REASONS: dict[str, tuple[str, ...]] = {
    "breakdown": (
        "ma voiture est en panne sur l'autoroute près de {city}, il me faut une dépanneuse",
        "le moteur ne démarre plus, pouvez-vous envoyer un dépanneur à {city}",
        "my car broke down near {city}, I need a tow truck, the engine will not start",
        "panne de batterie ce matin, la voiture ne démarre pas, envoyez une dépanneuse",
    ),
    "claim": (
        "je voudrais savoir où en est mon dossier de sinistre, l'expert n'est pas venu",
        "mon sinistre date du {date} et je n'ai toujours pas de nouvelles de l'expertise",
        "what is the status of my claim, the assessor never called me back about the claim",
        "le remboursement du sinistre n'est pas arrivé, l'expert devait passer",
    ),
    "cancellation": (
        "je veux résilier mon contrat, je pars chez un autre assureur moins cher",
        "comment résilier mon assurance, la résiliation doit prendre effet le {date}",
        "I want to cancel my policy, I found a cheaper insurer, please cancel the contract",
        "résiliation du contrat habitation suite à mon déménagement à {city}",
    ),
    "billing": (
        "j'ai été prélevé deux fois ce mois-ci, la facture est fausse",
        "je ne comprends pas ma facture, le montant du prélèvement a augmenté",
        "I was charged twice on my bank statement, the invoice amount is wrong",
        "erreur de facturation, le prélèvement mensuel est trop élevé",
    ),
    "windscreen": (
        "mon pare-brise est fissuré après un gravillon, qui peut le remplacer",
        "impact sur le pare-brise, je cherche un garage agréé à {city} pour le vitrage",
        "my windscreen is cracked, a stone hit the glass, can you replace the windscreen",
        "bris de glace, le pare-brise doit être changé rapidement",
    ),
}
FILLER = (
    "bonjour madame",
    "oui alors",
    "euh voilà",
    "merci beaucoup",
    "hello yes",
    "d'accord",
    "c'est {name} au téléphone",
    "my name is {name}",
)


# Words of any call, whatever its reason: they must not make a driver.
SHARED = (
    "mon contrat numéro <POLICY_NUMBER>",
    "j'ai appelé la semaine dernière",
    "I called last week about my contract",
    "c'est urgent s'il vous plaît",
    "je suis client depuis dix ans",
)


def corpus(
    n: int, seed: int, reasons: tuple[str, ...] = tuple(REASONS), mixed: float = 0.0
) -> tuple[list[Document], dict[str, str]]:
    fake = Faker(["fr_FR", "en_GB"])
    Faker.seed(seed)
    rng = random.Random(seed)
    docs, truth = [], {}
    for i in range(n):
        reason = reasons[i % len(reasons)]
        parts = [rng.choice(FILLER), rng.choice(REASONS[reason]), rng.choice(FILLER)]
        if rng.random() < 0.5:
            parts.insert(2, rng.choice(REASONS[reason]))
        if rng.random() < mixed:  # a second, lesser reason, and words of any call
            other = rng.choice([r for r in reasons if r != reason])
            parts.insert(1, rng.choice(REASONS[other]).split(",")[0])
            parts.insert(1, rng.choice(SHARED))
        text = " ".join(parts).format(city=fake.city(), date=fake.date(), name=fake.first_name())
        call_id = f"d{i:04d}"
        docs.append(Document(call_id, NOW - timedelta(days=rng.randint(0, 55)), text))
        truth[call_id] = reason
    return docs, truth


def test_planted_reasons_are_recovered() -> None:
    docs, truth = corpus(400, seed=1)
    run = discover(docs, topics=5)
    score = purity(run.assignments, truth)
    print(f"call drivers purity on 400 synthetic calls, 5 planted reasons: {score:.3f}")
    assert score >= 0.9
    assert len(run.topics) == 5
    # each topic is named by terms of one reason
    names = {" ".join(t.terms) for t in run.topics}
    for marker in ("pare", "resili", "factur", "sinistre", "depann"):
        assert any(marker in name for name in names), (marker, names)
    assert sum(t.calls for t in run.topics) == sum(1 for v in run.assignments.values() if v)


def test_planted_reasons_are_recovered_from_mixed_calls() -> None:
    # 40 % of calls also mention a second reason (in passing) and words of any call
    docs, truth = corpus(600, seed=11, mixed=0.4)
    run = discover(docs, topics=5)
    score = purity(run.assignments, truth)
    print(f"call drivers purity on 600 mixed synthetic calls, 5 planted reasons: {score:.3f}")
    assert score >= 0.8


def test_topic_ids_are_stable_across_runs() -> None:
    docs, _ = corpus(400, seed=1)
    first = discover(docs, topics=5)
    # the next month: other calls, the same reasons, another seed for NMF
    later, truth = corpus(400, seed=2)
    second = discover(later, topics=5, previous=first.topics, seed=3)
    assert {t.topic_id for t in second.topics} == {t.topic_id for t in first.topics}
    by_id = {t.topic_id: t for t in first.topics}
    for topic in second.topics:
        assert similarity(topic.vector, by_id[topic.topic_id].vector) >= 0.5
        assert set(topic.terms[:3]) & set(by_id[topic.topic_id].terms)
    assert purity(second.assignments, truth) >= 0.9


def test_a_new_reason_gets_a_new_id_and_a_gone_one_is_not_reused() -> None:
    docs, _ = corpus(300, seed=1, reasons=("breakdown", "claim", "billing"))
    first = discover(docs, topics=3)
    later, _ = corpus(300, seed=4, reasons=("breakdown", "claim", "windscreen"))
    second = discover(later, topics=3, previous=first.topics)
    old_ids = {t.topic_id for t in first.topics}
    new = [t for t in second.topics if t.topic_id not in old_ids]
    assert len(new) == 1 and any("pare" in term for term in new[0].terms)
    assert new[0].topic_id == max(old_ids) + 1
    assert len(second.matched) == 2


def test_weekly_trends_count_each_assigned_call_once() -> None:
    docs, _ = corpus(200, seed=5)
    run = discover(docs, topics=5)
    assert sum(n for _, _, n in run.weekly) == sum(1 for v in run.assignments.values() if v)
    weeks = [w for w, _, _ in run.weekly]
    assert weeks == sorted(weeks)
    from datetime import date

    assert all(date.fromisoformat(w).weekday() == 0 for w in weeks)


@pytest.mark.parametrize("texts", [[], ["oui"], ["<PERSON> merci", "bonjour"]])
def test_too_little_to_learn_from_gives_no_topic(texts: list[str]) -> None:
    docs = [Document(f"c{i}", NOW, t) for i, t in enumerate(texts)]
    run = discover(docs)
    assert run.topics == () and all(v is None for v in run.assignments.values())


def test_match_ids_pairs_best_first_one_to_one() -> None:
    from analytics.insights.drivers import Topic

    old = [Topic(7, ("a",), {"a": 1.0}), Topic(9, ("b",), {"b": 1.0})]
    ids, kept = match_ids([{"b": 0.9, "a": 0.1}, {"b": 1.0}, {"c": 1.0}], old, 0.5)
    assert ids == [10, 9, 11] and set(kept) == {9}


def test_drivers_command_on_a_workspace_keeps_ids(store: object) -> None:
    import json as _json

    from click.testing import CliRunner

    from analytics import clock
    from analytics.cli import cli
    from analytics.store import Store
    from tests.factories import add_call

    assert isinstance(store, Store)
    docs, _ = corpus(60, seed=7, reasons=("breakdown", "billing", "windscreen"))
    for doc in docs:
        add_call(
            store,
            doc.call_id,
            started_at=doc.started_at,
            texts=(("agent", "bonjour que puis-je faire"), ("customer", doc.text)),
        )
    home = ["--home", str(store.settings.home)]
    with clock.frozen(NOW):
        first = CliRunner().invoke(cli, [*home, "drivers", "--topics", "3", "--json"])
        assert first.exit_code == 0, first.output
        again = CliRunner().invoke(cli, [*home, "drivers", "--topics", "3", "--json"])
    one, two = _json.loads(first.output), _json.loads(again.output)
    assert one["calls"] == 60 and len(one["topics"]) == 3
    assert {t["id"] for t in one["topics"]} == {t["id"] for t in two["topics"]} == {1, 2, 3}
    assert all(t["kept_from_last_run"] for t in two["topics"])
    assert not any(t["kept_from_last_run"] for t in one["topics"])
    assert sum(w["calls"] for w in one["weekly"]) == one["assigned"]
    # no call id or placeholder leaks into the topic names
    names = " ".join(" ".join(t["terms"]) for t in one["topics"])
    assert "person" not in names and not any(doc.call_id in names for doc in docs)
