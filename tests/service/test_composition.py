"""Answer composition on hand-made passages: budget, diversity, order, lists, sub-spans.

Sentence vectors come from the deterministic hashing embedder (unit-test isolation); the
real model's behaviour is covered end to end in test_e2e.py and the eval tests.
"""

from __future__ import annotations

import numpy as np

from ingest import sparse
from ingest.chunking import split_sentences
from ingest.embedding import HashEmbedding
from ingest.schema import PayloadKey
from ingest.structure import furniture_spans, preamble_spans, spans_within
from service.compose import (
    STRETCH,
    Passage,
    Question,
    _favour_stretches,
    _idf,
    _score,
    compose,
)
from service.lists import attach_items
from service.retrieval import Candidate
from service.units import Unit, _modal_verbs, evolve, units_of

EMBEDDER = HashEmbedding(model_name="hash-64")


def _vector(text: str) -> np.ndarray:
    return np.asarray(EMBEDDER.get_text_embedding(text), dtype=np.float32)


def _passages(
    doc_id: str, document: str, size: int = 400, speaker: str | None = None
) -> list[Passage]:
    """The document cut into chunks at sentence ends, each with its sentence vectors
    (a transcript's when ``speaker`` is given)."""
    spans = split_sentences(document)
    furniture = furniture_spans(document)
    chunks: list[tuple[int, int]] = []
    for span in spans:
        if chunks and span.end - chunks[-1][0] <= size:
            chunks[-1] = (chunks[-1][0], span.end)
        else:
            chunks.append((span.start, span.end))
    passages = []
    for index, (start, end) in enumerate(chunks):
        text = document[start:end]
        payload = {
            PayloadKey.DOC_ID: doc_id,
            PayloadKey.CHUNK_INDEX: index,
            PayloadKey.TEXT: text,
            PayloadKey.START_CHAR: start,
            PayloadKey.END_CHAR: end,
            PayloadKey.LANGUAGE: "en",
            PayloadKey.FURNITURE: spans_within(furniture, start, end),
            PayloadKey.PREAMBLE: spans_within(preamble_spans(document), start, end),
            PayloadKey.SPEAKER: speaker,
        }
        sentences = np.stack([_vector(text[s.start : s.end]) for s in split_sentences(text)])
        passages.append(Passage(Candidate(f"{doc_id}:{index}", payload), sentences, index))
    return passages


def _question(text: str) -> Question:
    return Question(text, _vector(text), sparse.question_terms(text), frozenset({"en"}))


REASONS = (
    "Open source lowers the cost of adopting AI for companies.\n"
    "Open source lowers the cost of adopting AI for companies, again and again.\n"
    "Weather in the capital was mild that spring and nobody talked about it.\n"
    "Open weights let companies fine tune a model instead of training from scratch.\n"
    "Feedback loops between researchers and product teams get much faster with open models.\n"
)


def test_points_stay_within_the_budget_and_verify_against_the_document() -> None:
    passages = _passages("talk", REASONS)
    question = _question("Why do companies adopt open source AI models?")
    for budget in (120, 250, 1000):
        units = compose(question, passages, budget, 240)
        assert units
        assert sum(len(u.text) for u in units) <= budget
        for unit in units:
            assert REASONS[unit.start : unit.end] == unit.text


def test_a_near_duplicate_sentence_is_not_quoted_twice() -> None:
    units = compose(_question("Why adopt open source AI?"), _passages("talk", REASONS), 1000, 240)
    texts = [u.text for u in units]
    assert sum("lowers the cost of adopting" in t for t in texts) == 1, texts


def test_points_follow_the_source_order() -> None:
    question = _question("Why do companies adopt open models, fine tune them and get feedback?")
    units = compose(question, _passages("talk", REASONS), 1000, 240)
    assert len(units) >= 2
    assert [u.start for u in units] == sorted(u.start for u in units)


def test_points_are_grouped_by_document_best_document_first() -> None:
    other = "Open source AI is discussed in a different report about cost and speed.\n"
    passages = _passages("talk", REASONS) + _passages("report", other)
    units = compose(_question("Why adopt open source AI?"), passages, 2000, 240)
    docs = [u.doc_id for u in units]
    assert set(docs) == {"talk", "report"}
    assert docs == sorted(docs, key=docs.index)  # each document's points are together
    best = max(units, key=lambda u: u.score)
    assert docs[0] == best.doc_id, "the document of the best point comes first"


LIST = (
    "Article 5\n\n"
    "1. The following AI practices shall be prohibited:\n\n"
    "(a) the placing on the market, the putting into service or the use of an AI system "
    "that deploys subliminal techniques beyond a person's consciousness;\n\n"
    "(b) the placing on the market, the putting into service or the use of an AI system "
    "that exploits any of the vulnerabilities of a natural person due to their age;\n\n"
    "(c) the placing on the market, the putting into service or the use of an AI system "
    "for the social scoring of natural persons;\n\n"
    "(d) the placing on the market, the putting into service or the use of an AI system "
    "to infer emotions of a natural person in the workplace.\n\n"
    "Point (d) is without prejudice to other Union law on medical devices.\n"
)


def test_a_list_introduction_brings_its_items_quoted_compactly() -> None:
    passages = _passages("act", LIST, size=200)  # the list continues over several chunks
    units = compose(_question("Which AI practices are prohibited?"), passages, 1200, 240)
    texts = [u.text for u in units]
    assert any(t.startswith("1. The following AI practices shall be prohibited") for t in texts)
    items = [u for u in units if u.parent is not None]
    assert len(items) == 4, texts
    for item in items:
        # The boilerplate every item opens with is cut; the quote still verifies.
        assert "placing on the market, the putting into service" not in item.text
        assert LIST[item.start : item.end] == item.text
    assert any("subliminal techniques" in u.text for u in items)
    assert any("social scoring" in u.text for u in items)


VARIED_LIST = (
    "1. The following AI practices shall be prohibited:\n\n"
    "(a) the placing on the market, the putting into service or the use of an AI system "
    "that deploys subliminal techniques beyond a person's consciousness, with the effect of "
    "materially distorting the behaviour of a person or a group of persons;\n\n"
    "(b) the placing on the market, the putting into service or the use of an AI system "
    "that exploits any of the vulnerabilities of a natural person due to their age, "
    "disability or a specific social or economic situation;\n\n"
    "(c) the placing on the market, the putting into service for this specific purpose, or "
    "the use of an AI system for making risk assessments of natural persons in order to "
    "predict the risk of a natural person committing a criminal offence, based solely on "
    "profiling; this prohibition shall not apply to AI systems used to support the human "
    "assessment of the involvement of a person in a criminal activity;\n\n"
    "(d) the placing on the market, the putting into service for this specific purpose, or "
    "the use of AI systems to infer emotions of a natural person in the areas of workplace "
    "and education institutions, except for medical or safety reasons;\n"
)


def test_a_cut_item_quotes_what_it_adds_to_its_list_not_what_its_siblings_say() -> None:
    units = compose(
        _question("Which uses of AI does the regulation ban outright?"),
        _passages("act", VARIED_LIST, size=2000),
        560,
        240,
    )
    items = {VARIED_LIST[u.key + 1]: u for u in units if u.parent is not None}
    assert set(items) == {"a", "b", "c", "d"}, [u.text for u in units]
    for item in items.values():
        assert VARIED_LIST[item.start : item.end] == item.text
        # Words every item shares ("the use of an AI system", "for this specific
        # purpose") are not what a reader needs; each quote opens on what is its own.
        assert not item.text.startswith(("or the use", "for this specific", "the putting"))
    assert items["a"].text.removeprefix("that ").startswith("deploys subliminal techniques")
    assert items["c"].text.startswith("for making risk assessments"), items["c"].text
    assert "criminal offence" in items["c"].text or "risk of a natural" in items["c"].text
    assert items["d"].text.startswith("to infer emotions")


def test_long_sentences_are_cut_to_the_clauses_that_answer() -> None:
    document = (
        "Within 90 days of the date of this order, and in consultation with the heads of "
        "relevant agencies, the Secretary of Commerce, acting through the Director, shall "
        "issue guidance on reporting requirements for dual-use foundation models.\n"
    )
    units = compose(
        _question("What reporting requirements apply?"), _passages("eo", document), 400, 120
    )
    (unit,) = units
    assert len(unit.text) <= 120 and unit.trimmed[0]
    assert "reporting requirements" in unit.text and "shall" in unit.text
    assert document[unit.start : unit.end] == unit.text


RISKS = "Risks unique to or worsened by generative AI:\n" + "".join(
    f"{n}. {name}: {body} and a long description of the harm that follows from it in the "
    "many settings where systems are deployed, with examples and some caveats.\n"
    for n, (name, body) in enumerate(
        [
            ("CBRN Information", "Eased access to chemical and biological weapons knowledge"),
            ("Confabulation", "The production of confidently stated but false content"),
            ("Data Privacy", "Leakage and unauthorized disclosure of personal data"),
            ("Environmental Impacts", "High compute use in training models"),
            ("Information Security", "Lowered barriers for offensive cyber capabilities"),
            ("Intellectual Property", "Replication of copyrighted content"),
        ],
        start=1,
    )
)


def test_a_list_too_long_for_the_budget_keeps_each_items_label() -> None:
    question = _question("Which risks are unique to or worsened by generative AI?")
    units = compose(question, _passages("profile", RISKS, size=300), 500, 240)
    items = [u.text for u in units if u.parent is not None or u.children]
    for name in ("Confabulation", "Data Privacy", "Environmental Impacts", "Intellectual"):
        assert any(t.split(":")[0].endswith(name.split()[0]) or name in t for t in items), items
    assert all(RISKS[u.start : u.end] == u.text for u in units)


def test_what_a_question_sets_aside_is_not_its_answer() -> None:
    passages = _passages("profile", RISKS, size=300)
    asked = "Setting aside chemical, biological, radiological and nuclear weapons, which risks?"
    units = compose(_question(asked), passages, 1500, 240)
    assert units and not any("CBRN" in u.text for u in units), [u.text for u in units]
    plain = compose(_question("Which risks are worsened by generative AI?"), passages, 1500, 240)
    assert any("CBRN" in u.text for u in plain)


def test_a_cut_keeps_the_action_a_modal_governs_past_an_aside() -> None:
    document = (
        "(b) The Administrator of the Environmental Protection Agency shall, consistent with "
        "the Clean Air Act and every other applicable statute and regulation in force, expedite "
        "permitting for data center projects on Federal and non-Federal lands.\n"
    )
    (unit,) = compose(_question("What must the EPA do?"), _passages("eo", document), 400, 110)
    assert not unit.text.rstrip(" ,").endswith("shall"), unit.text
    # What the EPA must do is the verb "shall" governs, past the aside between them.
    assert "expedite permitting for data center projects" in unit.text, unit.text
    assert document[unit.start : unit.end] == unit.text


def test_spoken_lead_ins_are_dropped_from_quotes_of_a_talk_only() -> None:
    document = "And so, you know, open source accelerates adoption because it is cheaper.\n"
    question = _question("Why does open source speed adoption?")
    (unit,) = compose(question, _passages("t", document, speaker="A"), 400, 240)
    assert unit.text.startswith("open source accelerates adoption") and unit.trimmed[0]
    assert document[unit.start : unit.end] == unit.text
    # In a written text "Right" is a word, not a lead-in.
    statute = "Right holders may object to the use of their works for training AI models.\n"
    (unit,) = compose(_question("Who may object to training?"), _passages("s", statute), 400, 240)
    assert unit.text == statute.strip()


def test_page_furniture_is_never_a_point() -> None:
    header = "AMERICA'S AI ACTION PLAN"
    findings = [
        "The plan recommends open models for academic research.",
        "Open models let startups build products without a closed provider.",
        "The plan asks agencies to publish evaluations of open models.",
        "Researchers need compute to study open models at scale.",
    ]
    pages = "\n".join(f"{header}\n{n}\n{finding}\n" for n, finding in enumerate(findings, 1))
    units = compose(
        _question("What does the plan recommend about open models?"),
        _passages("p", pages),
        2000,
        240,
    )
    assert units
    assert not any(header in u.text for u in units)


def test_a_question_asking_two_things_gets_points_for_each() -> None:
    from service.compose import split_facets

    text = "Why do companies adopt open models, and how do researchers get feedback?"
    parts = split_facets(text)
    assert parts == ["Why do companies adopt open models", "how do researchers get feedback"]
    assert split_facets("Why do companies adopt open models?") == [
        "Why do companies adopt open models?"
    ]
    document = (
        "Companies adopt open models because open models cost companies less.\n"
        "Companies adopt open models since companies can adopt open models freely.\n"
        "Product teams send researchers feedback.\n"
    )
    whole = _question(text)
    question = Question(
        whole.text, whole.vector, whole.terms, whole.readable, tuple(_question(p) for p in parts)
    )
    units = compose(question, _passages("talk", document), 400, 240)
    assert any("feedback" in u.text for u in units), [u.text for u in units]
    assert any("adopt" in u.text for u in units)
    # Asked as one question, the second part's only sentence scores too low to be quoted.
    alone = compose(whole, _passages("talk", document), 400, 240)
    assert not any("feedback" in u.text for u in alone)


def test_wording_many_documents_share_is_never_a_point() -> None:
    from ingest.schema import PayloadKey
    from ingest.structure import fingerprint
    from service.corpus import CorpusFacts

    provision = "This order is not intended to, and does not, create any right or benefit."
    records = [
        {PayloadKey.DOC_ID: f"eo-{n}", PayloadKey.FINGERPRINTS: [fingerprint(provision)]}
        for n in range(3)
    ]
    shared = CorpusFacts(records).shared_wording
    assert shared == {fingerprint(f"(c) {provision.upper()}")}  # markers and case ignored
    document = f"The Secretary shall publish a plan that creates new rights.\n(c) {provision}\n"
    question = _question("What rights does the order create?")
    quoted = [u.text for u in compose(question, _passages("eo-0", document), 1000, 240)]
    assert any(provision in t for t in quoted), "without the corpus view it is quoted"
    kept = [u.text for u in compose(question, _passages("eo-0", document), 1000, 240, shared)]
    assert kept and not any(provision in t for t in kept)


def test_shared_wording_is_recognised_across_a_page_break_printed_inside_it() -> None:
    from ingest.structure import sentence_fingerprints
    from service.corpus import CorpusFacts

    provision = (
        "(c) This order is not intended to, and does not, create any right or benefit,\n"
        "substantive or procedural, enforceable at law or in equity by any party\n"
        "against the United States, its departments, agencies, or entities.\n"
    )
    header = "\nFederal Register / Vol. 90, No. 142 / Monday, July 28, 2025\n\n"
    broken = provision.replace("by any party\n", "by any party\n" + header * 3, 1)
    plain = "The Secretary shall publish a plan that creates new rights.\n" + provision
    records = []
    for n, text in enumerate([plain, plain, broken]):
        spans = [(s.start, s.end) for s in split_sentences(text)]
        found, pieces = sentence_fingerprints(text, spans, furniture_spans(text))
        records.append(
            {
                PayloadKey.DOC_ID: f"eo-{n}",
                PayloadKey.FINGERPRINTS: found,
                PayloadKey.FINGERPRINT_PIECES: pieces,
            }
        )
    shared = CorpusFacts(records).shared_wording
    document = "The Secretary shall publish a plan that creates new rights.\n" + broken
    question = _question("What rights does the order create against the United States?")
    kept = [u.text for u in compose(question, _passages("eo-2", document), 1000, 240, shared)]
    assert kept and not any("United States" in t or "any right" in t for t in kept), kept


NESTED_LISTS = (
    "4. Calls upon Member States to help developing countries, including by:\n"
    "(a) Expanding participation of all countries in digital transformation;\n"
    "(b) Enhancing digital infrastructure connectivity in developing countries;\n"
    "5. Emphasizes that human rights must be respected throughout the life cycle.\n"
    "6. Encourages all Member States to manage the risks of AI systems by:\n"
    "(a) Encouraging the incorporation of feedback mechanisms for AI incidents;\n"
    "(b) Raising public awareness of the core functions and limitations of AI;\n"
    "(c) Requiring that companies developing frontier models provide the following:\n"
    "(i) any ongoing or planned training activities for such models;\n"
    "(ii) the results of red-team testing of such models;\n"
    "(d) Strengthening investment in physical and AI systems security.\n"
)


def test_each_item_belongs_to_the_introduction_that_announces_it() -> None:
    passages = _passages("resolution", NESTED_LISTS, size=5000)
    units = attach_items(units_of(passages))
    by_key = {u.key: u for u in units}

    def head_of(opening: str, after: int = 0) -> str | None:
        unit = next(u for u in units if u.start >= after and u.text.startswith(opening))
        return None if unit.parent is None else by_key[unit.parent].text[:2]

    second = NESTED_LISTS.index("6. Encourages")
    # A new introduction takes its own "(a)", though an earlier lettered list is open.
    assert head_of("(a) Expanding") == "4."
    assert head_of("(a) Encouraging", second) == "6."
    assert head_of("(b) Raising", second) == "6."
    # "(i)"/"(ii)" hang from the item announcing them; "(d)" goes back to the outer list.
    assert head_of("(ii) the results") == "(c"
    assert head_of("(d) Strengthening") == "6."


RISKS_OVER_A_PAGE = (
    "The following risks are specific to or worsened by generative AI:\n"
    "1. Confabulation: The production of confidently stated but false content.\n"
    "2. Data Privacy: Impacts due to leakage and unauthorized use of personal data.\n"
    "3. Information Security: Lowered barriers for offensive cyber capabilities.\n"
    "Some commenters have noted that the term hallucination anthropomorphizes models.\n"
    "What counts as sensitive data can be highly contextual.\n"
    "4. Intellectual Property: Eased production of alleged copyrighted content.\n"
    "5. Value Chain and Component Integration: Non-transparent third-party components.\n"
    "Risk management then maps each of these risks to actions.\n"
    "1. Map: a new list of actions begins here.\n"
)


def test_a_list_continues_after_a_page_of_footnotes() -> None:
    units = attach_items(units_of(_passages("profile", RISKS_OVER_A_PAGE, size=5000)))
    head = next(u for u in units if u.text.startswith("The following risks"))
    items = [u.text[:2] for u in units if u.parent == head.key]
    # "4." continues the list "3." ended; the footnote lines between them do not end it.
    assert items == ["1.", "2.", "3.", "4.", "5."], items
    # The text after "5." does end it: a "1." that follows starts a list of its own.
    assert next(u for u in units if u.text.startswith("1. Map")).parent != head.key


PROFILE = (
    "This profile describes which risks the profile covers and why the profile lists risks.\n"
    "Readers of the profile should know which risks the profile leaves to other documents.\n"
    "The profile identifies these risks:\n"
    "1. Confabulation: confidently stated but false content.\n"
    "2. Data Privacy: leakage of personal data.\n"
    "3. Information Security: lowered barriers for cyberattacks.\n"
    "4. Intellectual Property: replication of copyrighted content.\n"
)


def test_a_question_asking_for_a_list_gets_the_list_before_the_sentences_around_it() -> None:
    question = _question("Which risks does the profile list?")
    assert question.enumerative
    units = compose(question, _passages("profile", PROFILE, size=5000), 300, 240)
    texts = [u.text for u in units]
    labels = ("Confabulation", "Data Privacy", "Information Security", "Intellectual Property")
    assert all(any(label in t for t in texts) for label in labels), texts


TRANSPARENCY = (
    "Whereas:\n\n"
    "(132) Providers must tell people who interact with an AI system that they interact "
    "with an AI system, because people have a right to know.\n\n"
    "HAVE ADOPTED THIS REGULATION:\n\n"
    "Article 50\n\n"
    "Providers shall ensure that people who interact with an AI system are informed of it.\n"
)


def test_a_recital_answers_why_but_the_operative_text_answers_what() -> None:
    passages = _passages("act", TRANSPARENCY, size=5000)
    what = compose(
        _question("What must providers tell people who interact with an AI system?"),
        passages,
        140,
        240,
    )
    assert [u.text[:20] for u in what] == ["Providers shall ensu"]
    why = compose(
        _question("Why must providers tell people they interact with an AI system?"),
        passages,
        140,
        240,
    )
    assert any(u.text.startswith("(132) Providers must") for u in why), [u.text for u in why]


def _scored(question: Question, units: list[Unit]) -> list[Unit]:
    idf = _idf(question, units)
    return [evolve(u, score=_score(question, u, idf)) for u in units]


def test_a_talk_answers_in_one_stretch_and_its_sentences_are_favoured() -> None:
    topics = ("rice harvests", "river ferries", "tea markets", "summer rains", "city parks")
    places = ("in the north", "near the coast", "in old towns", "up the valley", "at dawn")
    filler = [f"My hosts spoke about {t} {p} for a while." for t in topics for p in places]
    answer = [
        "Labs open source models because open models attract top talent.",
        "Open models also attract investors and media attention for labs.",
        "Open source lets companies fine tune models instead of training from scratch.",
        "Fine tuning open models needs only a small share of the compute.",
    ]
    talk = " ".join([*filler[:10], *answer, *filler[10:]]) + "\n"
    question = _question("Why do labs open source their models?")
    spoken = _scored(question, units_of(_passages("talk", talk, speaker="A")))
    favoured = [
        u.text
        for u, before in zip(_favour_stretches(question, spoken), spoken, strict=True)
        if u.score > before.score
    ]
    assert len(favoured) == STRETCH and all(sentence in favoured for sentence in answer)
    # A written document has its own structure (lists, sections): no stretch is favoured.
    written = _scored(question, units_of(_passages("report", talk)))
    assert [u.score for u in _favour_stretches(question, written)] == [u.score for u in written]


def test_an_item_after_a_sublist_joins_its_first_sibling_and_far_numbers_start_afresh() -> None:
    order = (
        "(a) The Secretary shall establish a program that provides the following:\n"
        "(i) grants to universities for research;\n"
        "(ii) loans to companies for data centers;\n"
        "(b) The Secretary shall report to the President every year on the program.\n"
        "(c) The Administrator shall publish guidance on permits for data centers.\n"
    )
    units = attach_items(units_of(_passages("order", order, size=5000)))
    first = next(u for u in units if u.text.startswith("(a)"))
    assert [u.text[:3] for u in units if u.parent == first.key] == ["(i)", "(ii", "(b)", "(c)"]
    # "3." a few pages after "2." (more than a page of footnotes away) starts afresh.
    prose = "".join(
        f"Paragraph {n} of the report discusses topic number {n} at length.\n" for n in range(40)
    )
    report = (
        "1. Confabulation: false content.\n2. Data Privacy: leakage.\n"
        + prose
        + "3. Security: cyberattacks.\n"
    )
    units = attach_items(units_of(_passages("report", report, size=400)))
    assert next(u for u in units if u.text.startswith("3.")).parent is None


def test_every_item_of_a_list_is_quoted_whatever_its_marker() -> None:
    items = "".join(
        f"({m}) {w} AI system used for {use};\n"
        for m, w, use in (
            ("a", "any", "social scoring of natural persons"),
            ("b", "every", "emotion recognition at work"),
            ("c", "such", "predicting crimes from profiles"),
            ("d", "each", "untargeted scraping of faces"),
        )
    )
    document = "The following practices are prohibited:\n" + items
    units = compose(
        _question("Which practices are prohibited?"), _passages("act", document), 600, 240
    )
    quoted = " ".join(u.text for u in units)
    for use in ("social scoring", "emotion recognition", "predicting crimes", "scraping of faces"):
        assert use in quoted, quoted


def test_a_chinese_modal_is_its_own_verb_when_a_sentence_is_cut() -> None:
    sentence = (
        "国家网信部门会同有关部门根据需要，在充分评估风险的基础上，"
        "依法对生成式人工智能服务应当开展安全评估和算法备案工作。"
    )
    assert [sentence[a:b] for a, b in _modal_verbs(sentence, 0)] == ["应当"]
