from __future__ import annotations

from cluster.ipfail.judge import GiveUp, Judge, JudgeConfig, Recover

CONFIG = JudgeConfig(settle=1.0, hold=5.0, stale_after=10.0)


def _judge() -> Judge:
    judge = Judge(CONFIG)
    judge.my_count(1, 9.0)
    judge.peer_count("n2", 1, 9.0)
    return judge


def test_a_better_peer_for_settle_seconds_means_give_up() -> None:
    judge = _judge()
    assert judge.my_count(0, 10.0) == []
    assert judge.next_deadline() == 11.0
    assert judge.tick(10.9) == []
    assert judge.tick(11.0) == [GiveUp(mine=0, best_peer="n2", theirs=1)]
    assert judge.state == "gave up" and judge.moves == 1


def test_a_short_dip_moves_nothing() -> None:
    judge = _judge()
    judge.my_count(0, 10.0)
    assert judge.my_count(1, 10.5) == []
    assert judge.tick(20.0) == []
    assert judge.moves == 0


def test_both_losing_the_same_moves_nothing() -> None:
    judge = _judge()
    judge.my_count(0, 10.0)
    judge.peer_count("n2", 0, 10.2)
    assert judge.tick(30.0) == []


def test_recover_only_after_hold() -> None:
    judge = _judge()
    judge.my_count(0, 10.0)
    judge.tick(11.0)
    judge.peer_count("n2", 1, 11.5)
    assert judge.my_count(1, 12.0) == []
    assert judge.tick(16.9) == []
    assert judge.tick(17.0) == [Recover(mine=1)]
    assert judge.state == "serving"


def test_flapping_every_second_moves_at_most_once() -> None:
    judge = _judge()
    actions = []
    now = 10.0
    for second in range(20):
        up = second % 2 == 1
        actions += judge.my_count(1 if up else 0, now)
        judge.peer_count("n2", 1, now)
        actions += judge.tick(now + 0.9)
        now += 1.0
    assert sum(isinstance(a, GiveUp) for a in actions) <= 1


def test_a_sustained_loss_during_flapping_still_moves() -> None:
    judge = _judge()
    judge.my_count(0, 10.0)
    for step in range(1, 30):
        judge.peer_count("n2", 1, 10.0 + step * 0.03)
    assert judge.tick(11.0) and judge.moves == 1


def test_a_silent_peer_is_forgotten() -> None:
    judge = _judge()
    judge.my_count(0, 10.0)
    assert judge.tick(10.5) == []
    assert judge.peer_gone("n3", 10.6) == []
    assert judge.tick(25.0) == []   # n2's count is 16 s old: stale, so nobody is better
    assert judge.moves == 0


def test_a_respawned_judge_that_gave_up_still_recovers() -> None:
    judge = Judge(CONFIG, gave_up=True)
    assert judge.gave_up and judge.state == "gave up"
    judge.peer_count("n2", 1, 0.0)
    assert judge.my_count(1, 0.0) == []
    assert judge.tick(5.0) == [Recover(mine=1)]
    assert not judge.gave_up
