"""The pull requests' accounting (runner.PullCredit): a replica keeps asking while it has room,
never asks for more than its bound, and starts asking again after a request ends unfilled."""

from kre_runner.runner import PullCredit


def test_asks_for_the_whole_bound_at_first_then_waits_for_a_quarter_free():
    sut = PullCredit(16)
    assert sut.want(held=0) == 16
    token = sut.issue(16)
    for _ in range(16):
        sut.delivered()
    # All 16 delivered and held: nothing more may come.
    assert sut.want(held=16) == 0
    # Three finished: less than a quarter of the bound free, and the first request still open.
    assert sut.want(held=13) == 0
    # Four finished: the next request goes out while the first is still open.
    assert sut.want(held=12) == 4
    sut.issue(4)
    assert sut.open == {token, "2"}
    assert sut.want(held=12) == 0


def test_never_owed_plus_held_above_the_bound():
    sut = PullCredit(8)
    held = 0
    for step in range(200):
        want = sut.want(held)
        if want:
            sut.issue(want)
        assert held + sut.pending <= 8
        # Deliver one when owed, finish one every other step.
        if sut.pending:
            sut.delivered()
            held += 1
        if step % 2 and held:
            held -= 1


def test_a_request_that_ends_unfilled_gives_its_credit_back():
    sut = PullCredit(16)
    first = sut.issue(sut.want(held=0))
    for _ in range(6):
        sut.delivered()
    second = sut.issue(sut.want(held=2))  # 4 finished → 4 more asked
    assert sut.pending == 14
    # The first request expires (408) with 10 of its 16 never delivered.
    assert sut.ended(first, 10)
    assert sut.pending == 4
    assert sut.want(held=2) == 10
    # A status for a request that is not open changes nothing.
    assert not sut.ended(first, 10)
    assert not sut.ended("unknown", 3)
    assert sut.pending == 4
    # The last open request ends: nothing is owed any more, whatever the header said.
    assert sut.ended(second, None)
    assert sut.pending == 0 and not sut.open


def test_with_a_bound_of_one_it_asks_one_at_a_time():
    sut = PullCredit(1)
    assert sut.want(held=0) == 1
    sut.issue(1)
    assert sut.want(held=0) == 0  # one owed
    sut.delivered()
    assert sut.want(held=1) == 0
    assert sut.want(held=0) == 1


def test_a_reconnect_forgets_every_open_request():
    sut = PullCredit(16)
    sut.issue(16)
    sut.lost()
    assert sut.pending == 0 and not sut.open
    assert sut.want(held=5) == 11
