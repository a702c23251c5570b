"""The Ray executor's scheduling with a fake Ray (fast; the real cluster: test_ray_cluster.py).

Actors per node from its resources (CPUs, GPUs with ``num_gpus``), lost actors replaced
on nodes with room, a node that joins mid-run used, and a transient
``ActorUnavailableError`` retried on the same actor a bounded number of times.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import ray.exceptions

from analytics import pipeline
from analytics.config import Settings
from analytics.pipeline import ActorShape, ProcessReport, actor_shape, actors_to_start

A, B, C = ("a" * 56, "b" * 56, "c" * 56)  # node ids (Ray wants 56 hex digits)


def _node(node_id: str, cpus: float, gpus: float = 0, alive: bool = True) -> dict[str, Any]:
    resources = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
    return {"NodeID": node_id, "Alive": alive, "Resources": resources}


# --- resource arithmetic ---------------------------------------------------------------------


def test_cpu_nodes_hold_one_actor_per_cpu_threads_minus_those_running() -> None:
    nodes = [_node(A, 2), _node(B, 5), _node(C, 8, alive=False)]
    assert actors_to_start(nodes, ActorShape(cpus=1, gpus=0), {}) == {A: 2, B: 5}
    assert actors_to_start(nodes, ActorShape(cpus=2, gpus=0), {B: 1}) == {A: 1, B: 1}
    assert actors_to_start(nodes, ActorShape(cpus=1, gpus=0), {A: 2, B: 5}) == {}


@pytest.mark.parametrize(
    ("num_gpus", "expected"), [(0.0, {A: 1, B: 2}), (1.0, {A: 1, B: 2}), (0.5, {A: 2, B: 4})]
)
def test_gpu_nodes_hold_one_actor_per_num_gpus_of_their_gpus(
    num_gpus: float, expected: dict[str, int]
) -> None:
    shape = actor_shape(Settings(device="cuda", num_gpus=num_gpus, cpu_threads=1))
    assert shape == ActorShape(cpus=1, gpus=num_gpus or 1.0)
    nodes = [_node(A, 8, gpus=1), _node(B, 8, gpus=2), _node(C, 8)]  # C: no GPU
    assert actors_to_start(nodes, shape, {}, device="cuda") == expected


def test_a_gpu_node_is_also_bounded_by_its_cpus() -> None:
    shape = ActorShape(cpus=2, gpus=0.25)
    assert actors_to_start([_node(A, 4, gpus=1)], shape, {}, device="auto") == {A: 2}


def test_auto_uses_gpus_where_there_are_and_cpus_elsewhere_cpu_ignores_gpus() -> None:
    nodes = [_node(A, 4, gpus=1), _node(B, 2)]
    auto = actor_shape(Settings(device="auto", cpu_threads=1))
    assert actors_to_start(nodes, auto, {}, device="auto") == {A: 1, B: 2}
    cpu = actor_shape(Settings(device="cpu", cpu_threads=1))
    assert cpu.gpus == 0
    assert actors_to_start(nodes, cpu, {}, device="cpu") == {A: 4, B: 2}


def test_launch_reserves_gpus_only_on_gpu_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay([_node(A, 4, gpus=1), _node(B, 2)])
    settings = Settings(device="auto", num_gpus=0.5, cpu_threads=1)
    started = pipeline._launch(fake, settings, _no_engines, {A: 2, B: 1})
    options = sorted((actor.node, sorted(actor.options.items())) for actor, _ in started.values())
    assert options == [
        (A, [("num_cpus", 1), ("num_gpus", 0.5)]),
        (A, [("num_cpus", 1), ("num_gpus", 0.5)]),
        (B, [("num_cpus", 1)]),
    ]
    # CPU-only actors are told so (no CUDA probe, no float16).
    assert {actor.settings.device for actor, _ in started.values() if actor.node == B} == {"cpu"}


# --- a fake Ray --------------------------------------------------------------------------------


def _no_engines(settings: Settings, workers: int) -> None:
    return None


class FakeRef:
    counter = 0

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        FakeRef.counter += 1
        self.order, self.value, self.error = FakeRef.counter, value, error


class FakeActor:
    """Answers each call at once; ``fail`` decides (per call id) to raise instead."""

    def __init__(self, ray: FakeRay, node: str, options: dict[str, Any], settings: Any) -> None:
        self.ray, self.node, self.options, self.settings = ray, node, options, settings
        self.ready = SimpleNamespace(remote=lambda: FakeRef(node))
        self.analyse = SimpleNamespace(remote=self._analyse)
        self.calls: list[str] = []

    def _analyse(self, call: Any, recording: Any) -> FakeRef:
        self.calls.append(call.call_id)
        self.ray.owner[call.call_id] = self.node  # the last actor sent this call
        error = self.ray.fail(self, call)
        return FakeRef(error=error) if error else FakeRef(("analysis", None, 0.1, False))


class FakeRay:
    exceptions = ray.exceptions

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.node_list = nodes
        self.actors: list[FakeActor] = []
        self.killed: list[FakeActor] = []
        self.owner: dict[str, str] = {}
        self.fail: Callable[[FakeActor, Any], BaseException | None] = lambda actor, call: None

    def nodes(self) -> list[dict[str, Any]]:
        return self.node_list

    def remote(self, cls: type) -> Any:
        fake = self

        class Options:
            def __init__(self, **options: Any) -> None:
                self.strategy = options.pop("scheduling_strategy")
                self.options = options

            def remote(self, settings: Any, factory: Any, cpus: int) -> FakeActor:
                actor = FakeActor(fake, self.strategy.node_id, self.options, settings)
                fake.actors.append(actor)
                return actor

        return SimpleNamespace(options=Options)

    def wait(self, refs: list[FakeRef], num_returns: int = 1, timeout: Any = None) -> Any:
        first = min(refs, key=lambda ref: ref.order)  # the oldest is ready first
        return [first], [ref for ref in refs if ref is not first]

    def get(self, ref: FakeRef) -> Any:
        if ref.error is not None:
            raise ref.error
        return ref.value

    def kill(self, actor: FakeActor) -> None:
        self.killed.append(actor)


def _drive(fake: FakeRay, initial: list[FakeActor], n_calls: int, monkeypatch: Any) -> Any:
    """Run ``pipeline._drive`` over fake calls; the store's parts are recorders."""
    monkeypatch.setattr(pipeline, "RAY_TOP_UP_S", 0.0)  # look for room at every turn
    results: list[tuple[str, str]] = []
    lost: list[str] = []

    def send(ray: Any, store: Any, actor: FakeActor, call: Any, now: Any, report: Any) -> Any:
        return actor.analyse.remote(call, None)

    def give_back(store: Any, call: Any, now: Any, waiting: deque[Any], report: Any) -> None:
        lost.append(call.call_id)
        waiting.appendleft(call)

    def result(store: Any, call: Any, *args: Any) -> bool:
        results.append((call.call_id, fake.owner[call.call_id]))
        return True

    monkeypatch.setattr(pipeline, "_send", send)
    monkeypatch.setattr(pipeline, "_lost", give_back)
    monkeypatch.setattr(pipeline, "_ray_result", result)
    monkeypatch.setattr(pipeline, "_recording_ref", lambda ray, store, call: None)
    settings = Settings(cpu_threads=1, device="cpu")
    topper = pipeline._TopUp(fake, settings, _no_engines)
    calls = [SimpleNamespace(call_id=f"c{i}", duration_s=1.0) for i in range(n_calls)]
    bar = SimpleNamespace(update=lambda n: None, close=lambda: None)
    pipeline._drive(
        fake,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        [(actor, actor.node) for actor in initial],
        calls,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        bar,
        ProcessReport(),
        topper,
    )
    return results, lost


def _actor(fake: FakeRay, node: str) -> FakeActor:
    actor = FakeActor(fake, node, {"num_cpus": 1}, None)
    fake.actors.append(actor)
    return actor


# --- lost actors replaced, new nodes used, transient errors retried -----------------------------


def test_a_dead_actor_is_replaced_on_a_node_with_room_and_its_call_runs_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeRay([_node(A, 1)])
    first = _actor(fake, A)
    fake.fail = lambda actor, call: ray.exceptions.ActorDiedError() if actor is first else None
    results, lost = _drive(fake, [first], 4, monkeypatch)
    assert lost and lost[0] == "c0"  # the dead actor's call went back to the queue
    assert sorted(call for call, _ in results) == ["c0", "c1", "c2", "c3"]  # each once
    replacements = [actor for actor in fake.actors if actor is not first]
    assert len(replacements) == 1 and replacements[0].node == A  # A had room again
    assert {call for call, _ in results} == set(replacements[0].calls)


def test_a_node_that_joins_mid_run_gets_actors_and_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay([_node(A, 1)])
    first = _actor(fake, A)
    seen: list[str] = []

    def join_after_two(actor: FakeActor, call: Any) -> None:
        seen.append(call.call_id)
        if len(seen) == 2:
            fake.node_list.append(_node(B, 2))  # a node joins the cluster
        return None

    fake.fail = join_after_two
    results, lost = _drive(fake, [first], 12, monkeypatch)
    assert not lost
    assert sorted(call for call, _ in results) == sorted(f"c{i}" for i in range(12))
    on_b = [actor for actor in fake.actors if actor.node == B]
    assert len(on_b) == 2  # as many as its CPUs allow
    assert any(node == B for _, node in results)  # and they did work


def test_a_transient_unavailable_error_is_retried_on_the_same_actor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeRay([_node(A, 1)])
    first = _actor(fake, A)
    errors = {"c1": 2}  # two transient errors, then it answers

    def flaky(actor: FakeActor, call: Any) -> BaseException | None:
        if errors.get(call.call_id, 0) > 0:
            errors[call.call_id] -= 1
            return ray.exceptions.ActorUnavailableError("unreachable", None)
        return None

    fake.fail = flaky
    results, lost = _drive(fake, [first], 3, monkeypatch)
    assert not lost and fake.actors == [first]  # not treated as dead, nothing replaced
    assert first.calls.count("c1") == 3
    assert sorted(call for call, _ in results) == ["c0", "c1", "c2"]


def test_an_actor_unavailable_too_often_is_treated_as_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay([_node(A, 1)])
    first = _actor(fake, A)

    def always(actor: FakeActor, call: Any) -> BaseException | None:
        if actor is first:
            return ray.exceptions.ActorUnavailableError("unreachable", None)
        return None

    fake.fail = always
    results, lost = _drive(fake, [first], 2, monkeypatch)
    retries = pipeline.RAY_UNAVAILABLE_RETRIES
    assert first.calls.count("c0") == retries + 1  # bounded retries, then lost
    assert lost == ["c0"] or lost[0] == "c0"
    assert sorted(call for call, _ in results) == ["c0", "c1"]
    assert all(node == A for _, node in results) and len(fake.actors) == 2


def test_replacements_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Actors that die at once, again and again, are not replaced forever."""
    fake = FakeRay([_node(A, 1)])
    fake.fail = lambda actor, call: ray.exceptions.ActorDiedError()
    with pytest.raises(pipeline.ClusterError, match="every Ray worker was lost"):
        _drive(fake, [_actor(fake, A)], 2, monkeypatch)
    assert len(fake.actors) == 1 + pipeline.RAY_MAX_REPLACEMENTS
