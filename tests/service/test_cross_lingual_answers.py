"""English questions find Chinese passages (and back) on the real model and store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.embedding import PolicyEmbedding
from service.answer import Evidence, key_term_coverage, should_abstain, unmatched_share
from service.container import Services, build_services
from service.qa import QA
from service.retrieval import Candidate
from service.settings import Settings
from service.types import AskRequest

# Short documents written for this test: a Chinese plan, an English policy note and an
# unrelated English text.
CHINESE_PLAN = """国务院关于推进算力建设的意见

一、总体要求
坚持统筹规划，完善全国一体化算力网，推动智能算力协同发展，提升算力资源利用效能。

二、开源生态
支持开源社区建设，促进开源生态繁荣，鼓励企业开放模型和工具。

三、人才培养
加强人工智能人才培养，支持高等院校开设相关课程。
"""
ENGLISH_NOTE = """Harbour maintenance schedule

The port authority inspects the breakwater every spring and repaints the lighthouse
every five years. Dredging of the northern channel is scheduled for the autumn.
"""
EXPORT_NOTE = """Export controls on advanced computing

The Department of Commerce shall strengthen export controls on advanced chips and
semiconductor manufacturing equipment, and review them every year.
"""


@pytest.fixture(scope="module")
def bilingual(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: PolicyEmbedding
) -> Iterator[Services]:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "plan.zh.txt").write_text(CHINESE_PLAN, encoding="utf-8")
    (folder / "harbour.txt").write_text(ENGLISH_NOTE, encoding="utf-8")
    (folder / "exports.txt").write_text(EXPORT_NOTE, encoding="utf-8")
    data = tmp_path_factory.mktemp("bilingual")
    services = build_services(Settings(data_dir=data), embedder=real_embedder)
    assert services.library.ingest([folder], progress=False).added == 3
    yield services
    services.close()


def _ask(services: Services, question: str, weight: float) -> list[str]:
    """The answer's passages with the glossary's translations at ``weight``."""
    retrieval = services.settings.retrieval.model_copy(update={"translation_weight": weight})
    settings = services.settings.model_copy(update={"retrieval": retrieval})
    qa = QA(settings, services.store, services.qa.embedder)
    response = qa.answer(AskRequest(question=question, top_k=3))
    return [] if response.abstained else [c.text for c in response.citations]


def test_english_question_is_answered_from_the_chinese_passage(bilingual: Services) -> None:
    question = "How will China coordinate intelligent computing power nationally?"
    quotes = _ask(bilingual, question, 0.5)
    assert quotes and "全国一体化算力网" in quotes[0].replace("\n", "")
    assert "全国一体化算力网" not in "".join(_ask(bilingual, question, 0.0)), (
        "without translations the English-only model cannot find it"
    )


def test_chinese_question_gets_no_vote_from_the_english_only_model(bilingual: Services) -> None:
    response = bilingual.qa.answer(AskRequest(question="如何促进开源生态繁荣？", top_k=3))
    assert not response.abstained
    assert response.evidence["dense_top"] is None, "coverage alone decides"
    assert "开源生态繁荣" in response.citations[0].text.replace("\n", "")


def test_chinese_question_is_answered_from_the_english_passage(bilingual: Services) -> None:
    response = bilingual.qa.answer(AskRequest(question="美国如何加强芯片出口管制？", top_k=3))
    assert not response.abstained
    assert "export controls on advanced chips" in " ".join(response.citations[0].text.split())


def test_a_translation_covers_a_question_term() -> None:
    assert key_term_coverage("open source", ["支持开源社区建设"]) == 1.0
    assert key_term_coverage("open source", ["加强人才培养"]) == 0.0


def test_without_a_dense_score_thin_coverage_still_abstains() -> None:
    settings = Settings().retrieval
    assert should_abstain(Evidence(None, 0.2, 0.2), settings)
    assert not should_abstain(Evidence(None, 0.8, 0.8), settings)
    assert should_abstain(Evidence(0.1, 1.0, 0.55), settings), "a far dense match still refuses"


def test_terms_no_retrieved_passage_uses_are_counted() -> None:
    pool = [
        Candidate("a", {"text": "完善全国一体化算力网"}),
        Candidate("b", {"text": "open models"}),
    ]
    assert unmatched_share("national computing power", pool) == 0.0
    assert unmatched_share("computing power whaling quotas", pool) == 0.5


def test_coverage_alone_refuses_a_question_about_what_no_passage_mentions() -> None:
    settings = Settings().retrieval
    assert should_abstain(Evidence(None, 0.5, 0.5, unmatched=0.5), settings)
    assert not should_abstain(Evidence(None, 0.5, 0.5, unmatched=0.2), settings)


def test_chinese_question_about_an_absent_subject_is_refused(bilingual: Services) -> None:
    response = bilingual.qa.answer(AskRequest(question="算力网如何管理足球转会？", top_k=3))
    assert response.abstained, response.evidence
    assert response.evidence["unmatched"] >= 0.5, "足球 and 转会 are in no passage"
