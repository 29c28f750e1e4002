"""A talk that enumerates its reasons is answered reason by reason (the seed transcript,
the real model)."""

from __future__ import annotations

from service.compose import spoken_segments
from service.container import Services
from service.types import AskRequest

REASONS = {
    "force multiplier": ("force multiplier",),
    "talent": ("attract talent", "top talent"),
    "diffusion": ("national development", "diffuse"),
    "cheaper adoption": ("cheaper for companies",),
    "fine-tuning": ("fine tune",),
    "feedback loops": ("feedback loops",),
    "commoditise the complement": ("commoditize", "value is really going to come down"),
    "undercut paid APIs": ("undercut",),
    "a non-US stack": ("non cuda", "for nvidia"),
    "soft power": ("soft power",),
    "weak SaaS culture": ("software as a service culture",),
    "platforms": ("platforms",),
    "products regulated, weights not": ("product weight", "weights are not"),
    "mimetic effect": ("mimetic", "path dependent"),
    "collectivist knowledge culture": ("collectivist knowledge culture",),
}
NOT_REASONS = (
    "most popular AI product",
    "household name",
    "front forerunners",
    # Announcements of a group of reasons, not reasons.
    "geopolitical sort of related reasons",
    "internal cultural reasons",
)


def test_why_china_open_sources_names_its_reasons_and_nothing_else(seeded: Services) -> None:
    response = seeded.qa.answer(AskRequest(question="Why does China open-source its AI models?"))
    read = " ".join(response.answer[:2000].lower().replace("-", " ").split())
    named = [reason for reason, phrases in REASONS.items() if any(p in read for p in phrases)]
    assert len(named) >= 10, named
    for point in response.points:
        assert not any(phrase in point.text for phrase in NOT_REASONS), point.text


def test_a_question_about_one_stretch_is_not_answered_with_the_whole_list(
    seeded: Services,
) -> None:
    response = seeded.qa.answer(
        AskRequest(
            question="Why, according to the speaker, does China want open-source AI built "
            "around a non-CUDA software stack?"
        )
    )
    text = response.answer.lower()
    assert "cuda" in text
    assert "collectivist knowledge culture" not in text  # another stretch's reason


def test_enumeration_cues_open_stretches_only_at_a_sentence_start() -> None:
    from ingest.schema import PayloadKey
    from service.retrieval import Candidate
    from service.units import Passage, Unit

    passage = Passage(
        Candidate("p", {PayloadKey.DOC_ID: "t", PayloadKey.KIND: "transcript"}), None, 0
    )
    texts = [
        "Well, first thing is it's a force multiplier.",
        "Chinese language is a big thing.",  # an evaluation, not a cue
        "Next we have geopolitical reasons.",
        "There's also soft power reasons.",
        "And then finally the last thing is the culture.",
    ]
    units = [
        Unit(passage, i * 100, i * 100 + len(t), t, "text", None, key=i * 100)
        for i, t in enumerate(texts)
    ]
    segments = spoken_segments(units)
    assert [[units[i].text[:12] for i in m] for m in segments] == [
        ["Well, first ", "Chinese lang"],
        ["Next we have"],
        ["There's also"],
        ["And then fin"],
    ]


def test_sentences_the_model_cannot_read_are_compared_by_their_words() -> None:
    """MiniLM's vectors of two different Chinese articles are nearly equal; they must not
    count as one repeating the other."""
    import numpy as np

    from ingest.schema import PayloadKey
    from service.compose import _similarity
    from service.retrieval import Candidate
    from service.units import Passage, Unit, terms_of

    def unit(text: str, language: str, key: int) -> Unit:
        payload = {PayloadKey.DOC_ID: "d", PayloadKey.LANGUAGE: language}
        vector = np.ones(4, dtype=np.float32) / 2  # the same vector for both
        passage = Passage(Candidate("p", payload), None, 0)
        return Unit(passage, key, key + len(text), text, "text", vector, key, terms_of(text))

    first = unit("第七条 提供者应当依法开展预训练活动。", "zh", 0)
    second = unit("第八条 进行数据标注的，提供者应当制定标注规则。", "zh", 100)
    assert _similarity(first, [second], frozenset({"en"}))[0] < 0.9
    english = [unit("One sentence.", "en", 200), unit("Another sentence.", "en", 300)]
    assert _similarity(english[0], [english[1]], frozenset({"en"}))[0] == 1.0
