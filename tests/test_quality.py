"""Quality indicators: timing figures, phrase checks, sentiment, rubric, synthetic audio."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.models import RedactedSegment, RedactedTranscript, SpeechActivity
from analytics.quality import (
    QualityConfig,
    compute_quality,
    gaps,
    merge,
    timing_figures,
    total,
)


def seg(speaker: str, start: float, end: float, text: str) -> RedactedSegment:
    return RedactedSegment(speaker=speaker, start=start, end=end, text=text)  # type: ignore[arg-type]


def transcript(*segments: RedactedSegment, language: str = "fr") -> RedactedTranscript:
    duration = max((s.end for s in segments), default=0.0) + 1.0
    return RedactedTranscript("c1", language, 1.0, duration, tuple(segments))


def activity(duration: float = 60.0, **intervals: list[tuple[float, float]]) -> SpeechActivity:
    return SpeechActivity(duration, {k: tuple(v) for k, v in intervals.items()})  # type: ignore[misc]


def from_segments(t: RedactedTranscript) -> SpeechActivity:
    out: dict[str, list[tuple[float, float]]] = {}
    for s in t.segments:
        out.setdefault(s.speaker, []).append((s.start, s.end))
    return activity(t.duration_s, **out)


# -- timing figures on hand-built intervals ------------------------------------------------


def test_talk_time_overtalk_and_silences() -> None:
    act = activity(
        30.0,
        agent=[(0.0, 4.0), (10.0, 14.0)],
        customer=[(3.0, 6.0), (6.5, 8.0), (20.0, 25.0)],
    )
    t = timing_figures(act)
    assert t.talk_time_agent_s == pytest.approx(8.0)
    assert t.talk_time_customer_s == pytest.approx(9.5)
    assert t.overtalk_s == pytest.approx(1.0)
    # gaps: 6.0-6.5 (too short), 8-10, 14-20; before the first and after the last word: not counted
    assert t.silences == ((8.0, 10.0), (14.0, 20.0))
    assert t.non_talk_time_s == pytest.approx(8.0)
    assert t.longest_silence_s == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("agent", "customer", "by_agent", "by_customer", "why"),
    [
        ([(0, 5)], [(3, 8)], 0, 1, "customer starts at 3 while the agent speaks until 5"),
        ([(0, 5)], [(4.7, 8)], 0, 0, "overlap of 0.3 s: the agent stops too soon"),
        ([(0, 5)], [(3, 3.3)], 0, 0, "a 0.3 s backchannel: the customer stops too soon"),
        ([(0, 5)], [(5, 8)], 0, 0, "starts exactly when the other stops"),
        ([(0, 5)], [(5.5, 8)], 0, 0, "a clean turn change"),
        ([(0, 5), (6, 9)], [(2, 7)], 1, 1, "each cuts into the other once"),
        ([(0, 2), (2.2, 5)], [(3, 8)], 0, 1, "a 0.2 s breath does not end the agent's turn"),
        ([(0, 10)], [(2, 4), (6, 8)], 0, 2, "two separate cut-ins"),
    ],
)
def test_interruptions(agent, customer, by_agent, by_customer, why) -> None:
    t = timing_figures(activity(20.0, agent=agent, customer=customer))
    assert (t.interruptions_by_agent, t.interruptions_by_customer) == (by_agent, by_customer), why
    assert t.interruptions == by_agent + by_customer


def test_thresholds_come_from_config() -> None:
    act = activity(30.0, agent=[(0, 5), (6.5, 8)], customer=[(4.6, 6)])
    assert timing_figures(act).interruptions == 0  # overlap 0.4 s < 0.5 s
    loose = QualityConfig.from_mapping({"interruption_min_s": 0.3, "min_gap_s": 0.2})
    figures = timing_figures(act, loose)
    assert figures.interruptions == 1
    assert figures.silences == ((6.0, 6.5),)


def test_intervals_beyond_the_duration_are_clipped() -> None:
    t = timing_figures(activity(10.0, agent=[(-1.0, 2.0), (8.0, 15.0)]))
    assert t.talk_time_agent_s == pytest.approx(4.0)
    assert t.longest_silence_s == pytest.approx(6.0)


_interval = st.tuples(st.floats(0, 120, allow_nan=False), st.floats(0.01, 30, allow_nan=False)).map(
    lambda p: (p[0], p[0] + p[1])
)
_intervals = st.lists(_interval, max_size=12)


@settings(max_examples=200, deadline=None)
@given(agent=_intervals, customer=_intervals, duration=st.floats(1, 200, allow_nan=False))
def test_timing_properties(agent, customer, duration) -> None:
    act = activity(duration, agent=agent, customer=customer)
    t = timing_figures(act)
    assert 0 <= t.talk_time_agent_s <= duration + 1e-6
    assert 0 <= t.talk_time_customer_s <= duration + 1e-6
    assert 0 <= t.overtalk_s <= min(t.talk_time_agent_s, t.talk_time_customer_s) + 1e-6
    assert 0 <= t.non_talk_time_s <= duration + 1e-6
    assert t.longest_silence_s <= t.non_talk_time_s + 1e-6
    union = total(merge([*agent, *customer]))
    spoken = t.talk_time_agent_s + t.talk_time_customer_s - t.overtalk_s
    assert spoken <= union + 1e-6  # speech + silence never exceed the call
    assert spoken + t.non_talk_time_s <= duration + 1e-6
    assert all(end - start >= 1.0 for start, end in t.silences)
    assert t.interruptions_by_agent <= len(merge(agent))
    assert t.interruptions_by_customer <= len(merge(customer))
    if t.overtalk_s == 0:
        assert t.interruptions == 0
    swapped = timing_figures(activity(duration, agent=customer, customer=agent))
    assert swapped.talk_time_agent_s == pytest.approx(t.talk_time_customer_s)
    assert swapped.overtalk_s == pytest.approx(t.overtalk_s)
    assert swapped.interruptions_by_agent == t.interruptions_by_customer


@settings(max_examples=100, deadline=None)
@given(intervals=_intervals)
def test_merge_gives_sorted_disjoint_intervals(intervals) -> None:
    merged = merge(intervals)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))
    assert total(merged) <= total(intervals) + 1e-6
    assert all(end > start for start, end in gaps(merged))


# -- phrase checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "greeting", "identified"),
    [
        ("fr", "Bonjour, <PERSON> à votre écoute", True, True),
        ("fr", "bonjour je m'appelle <PERSON> que puis je faire pour vous", True, True),
        ("fr", "assistance bonjour je m appelle julie", True, True),
        ("fr", "oui bonjour ici <PERSON> de l'assistance", True, True),
        ("fr", "oui j'écoute", False, False),
        ("fr", "bonjour je suis désolée pour l'attente", True, False),
        ("en", "Good morning, this is <PERSON> speaking", True, True),
        ("en", "hello my name is sarah how can i help", True, True),
        ("en", "thanks for calling you're speaking with <PERSON>", True, True),
        ("en", "yes what do you want", False, False),
        ("en", "hello this is the roadside assistance line", True, False),
    ],
)
def test_opening_checks(language, text, greeting, identified) -> None:
    t = transcript(seg("agent", 0.5, 3.0, text), seg("customer", 3.5, 5.0, "ok"), language=language)
    report = compute_quality(t, from_segments(t))
    assert (report.greeting, report.agent_identified) == (greeting, identified)


@pytest.mark.parametrize(
    ("language", "text", "closing", "empathy"),
    [
        ("fr", "je vous en prie bonne journée au revoir", True, False),
        ("fr", "je comprends tout à fait on s'en occupe", False, True),
        ("fr", "je suis vraiment désolé bonne soirée", True, True),
        ("fr", "voilà c'est noté", False, False),
        ("en", "i'm so sorry about that have a great day", True, True),
        ("en", "i completely understand", False, True),
        ("en", "okay goodbye", True, False),
        ("en", "that's noted", False, False),
    ],
)
def test_closing_and_empathy(language, text, closing, empathy) -> None:
    t = transcript(
        seg("agent", 0.5, 3.0, "ok"),
        seg("customer", 3.5, 5.0, "ok"),
        seg("agent", 5.5, 8.0, text),
        language=language,
    )
    report = compute_quality(t, from_segments(t))
    assert (report.closing, report.empathy) == (closing, empathy)


def test_customer_phrases_do_not_count_for_the_agent() -> None:
    t = transcript(
        seg("agent", 0.5, 3.0, "oui"),
        seg("customer", 3.5, 6.0, "bonjour je m'appelle <PERSON> je comprends au revoir"),
    )
    report = compute_quality(t, from_segments(t))
    assert not (report.greeting or report.agent_identified or report.closing or report.empathy)


def _hold_call(announce: str, silence: float) -> tuple[RedactedTranscript, SpeechActivity]:
    t = transcript(
        seg("agent", 0.5, 3.0, "bonjour <PERSON> à votre écoute"),
        seg("customer", 3.5, 6.0, "ma voiture est en panne"),
        seg("agent", 6.5, 9.0, announce),
        seg("agent", 9.0 + silence, 12.0 + silence, "merci d'avoir patienté au revoir"),
    )
    return t, from_segments(t)


@pytest.mark.parametrize(
    ("announce", "silence", "expected"),
    [
        ("je vous mets en attente un instant", 40.0, True),
        ("un instant s'il vous plaît je vérifie", 20.0, True),
        ("d'accord", 40.0, False),
        ("d'accord", 5.0, None),
    ],
)
def test_hold_etiquette(announce, silence, expected) -> None:
    t, act = _hold_call(announce, silence)
    report = compute_quality(t, act)
    assert report.hold_etiquette is expected
    assert report.longest_silence_s == pytest.approx(silence)
    dead_air = next(i for i in report.breakdown if i.name == "dead_air")
    hold = next(i for i in report.breakdown if i.name == "hold_etiquette")
    if expected is None:
        assert hold.weight == 0 and "nothing to announce" in hold.reason
    if expected is True:
        assert dead_air.earned == dead_air.weight  # an announced hold is not dead air
    if expected is False:
        assert dead_air.earned == 0 and hold.earned == 0


def test_english_hold_phrase() -> None:
    t = transcript(
        seg("agent", 0.5, 3.0, "let me put you on hold while i check"),
        seg("agent", 30.0, 32.0, "thanks for waiting"),
        language="en",
    )
    assert compute_quality(t, from_segments(t)).hold_etiquette is True


# -- sentiment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "first", "last", "start_sign", "end_sign"),
    [
        ("fr", "c'est inadmissible je suis furieux", "merci beaucoup c'est parfait", -1, 1),
        ("fr", "bonjour merci", "je ne suis pas content du tout", 1, -1),
        ("en", "this is unacceptable i'm so angry", "thanks that's great", -1, 1),
        ("en", "hi thanks", "i'm not happy", 1, -1),
        ("en", "my policy number", "the twelfth", 0, 0),
    ],
)
def test_sentiment_start_and_end(language, first, last, start_sign, end_sign) -> None:
    t = transcript(
        seg("agent", 0.0, 1.0, "hello"),
        seg("customer", 1.5, 3.0, first),
        seg("agent", 3.5, 5.0, "ok"),
        seg("customer", 5.5, 7.0, last),
        language=language,
    )
    report = compute_quality(t, from_segments(t))
    assert report.sentiment_start is not None and report.sentiment_end is not None
    assert -1 <= report.sentiment_start <= 1 and -1 <= report.sentiment_end <= 1
    assert (report.sentiment_start > 0) - (report.sentiment_start < 0) == start_sign
    assert (report.sentiment_end > 0) - (report.sentiment_end < 0) == end_sign


# -- the report and the rubric ------------------------------------------------------------


def _good_call() -> tuple[RedactedTranscript, SpeechActivity]:
    t = transcript(
        seg("agent", 0.5, 5.5, "bonjour <PERSON> à votre écoute que puis je faire pour vous"),
        seg("customer", 6.0, 10.0, "bonjour je suis en panne sur l'autoroute avec mes enfants"),
        seg("agent", 10.5, 16.5, "je comprends ne vous inquiétez pas je vous envoie un dépanneur"),
        seg("customer", 17.0, 18.5, "merci beaucoup"),
        seg("agent", 19.0, 21.5, "je vous en prie bonne journée"),
    )
    return t, from_segments(t)


def test_a_good_call_scores_full_marks_and_explains_each_part() -> None:
    t, act = _good_call()
    report = compute_quality(t, act)
    assert report.score == 100
    assert [i.name for i in report.breakdown] == [
        "greeting",
        "agent_identified",
        "closing",
        "empathy",
        "hold_etiquette",
        "dead_air",
        "interruptions",
        "pace",
    ]
    assert all(i.reason for i in report.breakdown)
    assert report.talk_time_agent_s == pytest.approx(13.5)
    assert report.agent_wpm == pytest.approx(60 * 28 / 13.5, rel=0.01)  # <PERSON> is a word
    assert report.customer_wpm is not None and report.customer_wpm > 0


def test_score_is_earned_over_weights() -> None:
    t = transcript(
        seg("agent", 0.5, 3.5, "oui"),  # no greeting, no name
        seg("customer", 4.0, 8.0, "ma voiture ne démarre plus"),
        seg("agent", 8.5, 12.0, "on vous envoie quelqu'un"),  # no empathy, no closing
    )
    report = compute_quality(t, from_segments(t))
    earned = sum(i.earned for i in report.breakdown)
    weight = sum(i.weight for i in report.breakdown)
    assert report.score == round(100 * earned / weight)
    assert {i.name for i in report.breakdown if i.weight and not i.earned} >= {
        "greeting",
        "agent_identified",
        "closing",
        "empathy",
    }
    assert report.score < 50


def test_mono_call_reads_all_text_and_says_why_figures_are_missing() -> None:
    t = transcript(
        seg("unknown", 0.5, 3.0, "bonjour <PERSON> à votre écoute"),
        seg("unknown", 3.5, 6.0, "bonjour j'ai un problème"),
        seg("unknown", 6.5, 9.0, "je comprends au revoir"),
    )
    act = activity(10.0, unknown=[(0.5, 3.0), (3.5, 6.0), (6.5, 9.0)])
    report = compute_quality(t, act)
    assert report.talk_time_agent_s == 0 and report.talk_time_customer_s == 0
    assert report.agent_wpm is None and report.customer_wpm is None
    assert report.sentiment_start is None and report.sentiment_end is None
    assert report.interruptions == 0 and report.overtalk_s == 0
    assert report.greeting and report.agent_identified and report.closing and report.empathy
    items = {i.name: i for i in report.breakdown}
    for name in ("interruptions", "pace"):
        assert items[name].weight == 0 and "mono" in items[name].reason
    assert "mono" in items["greeting"].reason
    assert report.score == 100


def test_timings_fall_back_to_segments_without_speech_activity() -> None:
    t, _ = _good_call()
    report = compute_quality(t, activity(22.0))
    assert report.talk_time_agent_s == pytest.approx(13.5)
    dead_air = next(i for i in report.breakdown if i.name == "dead_air")
    assert "transcript segments" in dead_air.reason


def test_agent_interruptions_cost_points() -> None:
    t, _ = _good_call()
    act = activity(
        22.0,
        agent=[(0.5, 5.5), (8.0, 16.5), (17.5, 21.5)],  # cuts in at 8.0 and 17.5
        customer=[(6.0, 10.0), (17.0, 18.5)],
    )
    report = compute_quality(t, act)
    assert report.interruptions == 2
    item = next(i for i in report.breakdown if i.name == "interruptions")
    assert item.earned == pytest.approx(item.weight / 3, abs=0.01)
    assert "2 time(s)" in item.reason


def test_settings_override_weights_thresholds_and_phrases() -> None:
    t, act = _good_call()
    settings_ = Settings(
        sections={
            "quality": {
                "weights": {"greeting": 0, "empathy": 50},
                "weight_pace": 0,
                "hold_silence_s": 2,
                "phrases": {"fr": {"closing": ["à la prochaine"]}},
            }
        }
    )
    config = QualityConfig.from_settings(settings_)
    assert config.weight("empathy") == 50 and config.weight("greeting") == 0
    assert config.hold_silence_s == 2.0
    report = compute_quality(t, act, config)
    items = {i.name: i for i in report.breakdown}
    assert items["empathy"].weight == 50 and items["pace"].weight == 0
    closing = transcript(seg("agent", 0, 2, "allez à la prochaine"))
    assert compute_quality(closing, from_segments(closing), config).closing


@pytest.mark.parametrize(
    "section",
    [
        {"no_such_key": 1},
        {"weights": {"charisma": 10}},
        {"min_gap_s": "long"},
        {"weight_greeting": -5},
        {"phrases_fr_smalltalk": ["il fait beau"]},
    ],
)
def test_bad_settings_are_rejected(section) -> None:
    with pytest.raises(ConfigError):
        QualityConfig.from_settings(Settings(sections={"quality": section}))


def test_defaults_come_from_the_rubric_file() -> None:
    config = QualityConfig.default()
    assert sum(w for _, w in config.weights) == 100
    assert config.min_gap_s == 1.0 and config.interruption_min_s == 0.5


# -- synthetic stereo calls: speech activity from audio, then the figures ----------------


SYNTH_SCRIPTS = {
    "en": [
        ("agent", "hello this is anna speaking how can i help you today", 0.3, None),
        ("customer", "hi my car broke down on the motorway near the exit", None, 0.6),
        ("agent", "i am sorry to hear that let me put you on hold while i check", None, 0.7),
        (
            "agent",
            "thank you for waiting a tow truck will be there in forty minutes "
            "and it will take you to the nearest garage",
            None,
            6.0,
        ),
        ("customer", "forty minutes that is far too long for me", None, -3.0),  # cuts in
        ("agent", "i understand", None, 0.8),
        ("customer", "can you not find somebody closer to where i am waiting", None, 0.6),
        ("agent", "i will call the nearest garage right now", None, -1.5),  # cuts in
        ("customer", "thank you goodbye", None, 1.5),
    ],
    "fr": [
        ("agent", "bonjour je m'appelle julie que puis je faire pour vous", 0.4, None),
        ("customer", "bonjour ma voiture est en panne sur l'autoroute", None, 0.8),
        ("agent", "je vous mets en attente un instant je regarde", None, 0.6),
        ("agent", "merci de votre patience le dépanneur arrive dans une heure", None, 4.5),
        ("customer", "une heure mais c'est beaucoup trop long", None, -2.0),  # cuts in
        ("agent", "je comprends je cherche un garage plus proche", None, 0.7),
        ("customer", "merci au revoir", None, 2.0),
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize(("language", "layout"), [("en", "agent_left"), ("fr", "agent_right")])
def test_synthetic_call_timing(language: str, layout: str, tmp_path: Path) -> None:
    from analytics.audio import decode, speaker_channels, speech_activity
    from analytics.synth import Turn, synthesize_call

    turns = [
        Turn(speaker, text, at=at) if at is not None else Turn(speaker, text, gap=gap)
        for speaker, text, at, gap in SYNTH_SCRIPTS[language]
    ]
    path = tmp_path / "call.wav"
    placed = synthesize_call(turns, path, layout=layout, language=language)  # type: ignore[arg-type]
    truth = {
        spk: merge([(p.start, p.end) for p in placed if p.speaker == spk])
        for spk in ("agent", "customer")
    }
    truth_silence = max(b - a for a, b in gaps(merge([*truth["agent"], *truth["customer"]])))
    # planted: a turn starting while the other party speaks, both going on >= 0.5 s
    planted = sum(
        1
        for p in placed
        for q in placed
        if p.speaker != q.speaker
        and q.start < p.start < q.end
        and min(p.end, q.end) - p.start >= 0.5
    )
    assert planted == (2 if language == "en" else 1)  # the script really plants them

    audio = decode(path)
    act = speech_activity(speaker_channels(audio, layout), audio.sample_rate, audio.duration_s)  # type: ignore[arg-type]
    figures = timing_figures(act)

    assert figures.talk_time_agent_s == pytest.approx(total(truth["agent"]), rel=0.10)
    assert figures.talk_time_customer_s == pytest.approx(total(truth["customer"]), rel=0.10)
    assert figures.longest_silence_s == pytest.approx(truth_silence, abs=0.5)
    assert figures.interruptions == planted

    t = RedactedTranscript(
        "synthetic",
        language,
        1.0,
        audio.duration_s,
        tuple(RedactedSegment(p.speaker, p.start, p.end, p.text) for p in placed),
    )
    report = compute_quality(t, act)
    assert report.interruptions == planted
    assert report.greeting and report.agent_identified and report.empathy
    assert report.agent_wpm is not None and 80 < report.agent_wpm < 250


# -- every phrase of the data files is recognised -----------------------------------------


def _phrases() -> list[tuple[str, str, str]]:
    import tomllib

    from analytics.quality import DATA_DIR

    out = []
    for language in ("fr", "en"):
        table = tomllib.loads((DATA_DIR / f"phrases_{language}.toml").read_text("utf-8"))
        for check, phrases in table.items():
            out += [(language, check, p) for p in phrases]
    return out


@pytest.mark.parametrize(("language", "check", "phrase"), _phrases())
def test_every_phrase_is_recognised(language: str, check: str, phrase: str) -> None:
    text = phrase.replace("{name}", "<PERSON>").replace("{word}", "julie").replace("...", "")
    spoken = seg("agent", 0.5, 3.0, text.upper())  # case and accents do not matter
    after = seg("agent", 25.0, 26.0, "ok")  # 22 s later: a long silence after the phrase
    t = transcript(spoken, after, language=language)
    report = compute_quality(t, from_segments(t))
    found = {
        "greeting": report.greeting,
        "agent_identified": report.agent_identified,
        "closing": report.closing,
        "empathy": report.empathy,
        "hold": report.hold_etiquette,
    }
    assert found[check] is True
