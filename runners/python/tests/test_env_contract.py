"""The runner reads its env by the engine's contract: the JSON Schema libs/config generates from
the workload env's zod schema (a vitest keeps the checked-in copy equal to it)."""

import pytest

from kre_runner.env import CONTRACT_OPTIONAL_HERE, InvalidEnvError, contract, contract_required, load_env


def problems_of(env):
    with pytest.raises(InvalidEnvError) as caught:
        load_env(env)
    return {problem.split(":", 1)[0] for problem in caught.value.problems}


def test_an_empty_env_names_exactly_the_contracts_required_variables():
    assert problems_of({}) == set(contract_required())
    assert set(contract()["required"]) - set(contract_required()) == CONTRACT_OPTIONAL_HERE


def test_every_variable_the_runner_reads_is_in_the_contract(monkeypatch):
    read = set()

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

    with pytest.raises(InvalidEnvError):
        load_env(Recording())
    names = set(contract()["properties"])
    # KRE_PREFIX is the installation's (every app reads it), not the workload contract's.
    assert {name for name in read if name.startswith("KRT_")} <= names
