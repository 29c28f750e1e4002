"""`CoalescingRunner`: questions asked while the model is busy share its next call, and
each caller gets its own question's output (or the model's error)."""

from __future__ import annotations

import threading

import numpy as np

from lab.query_batching import CoalescingRunner, Output


class _Model:
    """Echoes each text's length; its first call waits until the others have queued."""

    def __init__(self, runner_of: list[CoalescingRunner], waiting: int) -> None:
        self.batches: list[list[str]] = []
        self._runner_of = runner_of
        self._waiting = waiting
        self.fail = False

    def run(self, texts: list[str]) -> list[Output]:
        if not self.batches:
            while len(self._runner_of[0]._pending) < self._waiting:
                threading.Event().wait(0.001)
        self.batches.append(texts)
        if self.fail:
            raise RuntimeError("model down")
        return [(np.array([len(t)], np.float32), np.zeros(1), np.zeros(1)) for t in texts]


def _ask_all(runner: CoalescingRunner, texts: list[str]) -> dict[str, object]:
    answers: dict[str, object] = {}

    def ask(text: str) -> None:
        try:
            answers[text] = float(runner.run([text])[0][0][0])
        except RuntimeError as exc:
            answers[text] = str(exc)

    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_questions_waiting_share_one_call_and_get_their_own_vectors() -> None:
    holder: list[CoalescingRunner] = []
    model = _Model(holder, waiting=5)
    holder.append(CoalescingRunner(model))
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]
    answers = _ask_all(holder[0], texts)
    assert answers == {t: float(len(t)) for t in texts}
    assert len(model.batches) == 2  # the first alone, the five that waited together
    assert sorted(model.batches[1]) == sorted(set(texts) - set(model.batches[0]))
    assert not holder[0]._busy


def test_a_model_error_reaches_every_waiting_caller() -> None:
    holder: list[CoalescingRunner] = []
    model = _Model(holder, waiting=2)
    model.fail = True
    holder.append(CoalescingRunner(model))
    answers = _ask_all(holder[0], ["x", "yy", "zzz"])
    assert set(answers.values()) == {"model down"}
    assert not holder[0]._busy


def test_many_texts_go_straight_through() -> None:
    holder: list[CoalescingRunner] = []
    model = _Model(holder, waiting=0)
    holder.append(CoalescingRunner(model))
    out = holder[0].run(["ab", "c"])
    assert [float(o[0][0]) for o in out] == [2.0, 1.0]
    assert holder[0].calls == 0  # only single questions are coalesced
