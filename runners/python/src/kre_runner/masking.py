"""Config values never leave a workload in clear (libs/config/src/config-masker.ts, the same
rule): every value of the version's config (each variable, each config file and each of its
lines, six characters or longer) reads `***` in log records and in what the node prints, as CI
systems mask secrets in job logs. VIEWERs may read logs, not config."""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional

MIN_MASKED_LENGTH = 6
MASK = "***"


class ConfigMasker:
    def __init__(self, values: Iterable[str]):
        found: set[str] = set()
        for value in values:
            for candidate in [value, *(line.strip() for line in value.split("\n"))]:
                if len(candidate) >= MIN_MASKED_LENGTH:
                    found.add(candidate)
        # Longest first: a value containing another is masked whole.
        self._values = sorted(found, key=len, reverse=True)

    @classmethod
    def of_workload(cls, variables: Mapping[str, str], files_dir: Optional[str]) -> "ConfigMasker":
        files: list[str] = []
        if files_dir and os.path.isdir(files_dir):
            for name in sorted(os.listdir(files_dir)):
                try:
                    with open(os.path.join(files_dir, name), encoding="utf-8") as f:
                        files.append(f.read())
                except (OSError, UnicodeDecodeError):
                    pass  # unreadable: nothing of it can leak through us either
        return cls([*variables.values(), *files])

    @property
    def empty(self) -> bool:
        return not self._values

    def mask(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def mask_json(self, value):
        """`value` (a JSON-like structure) with every string in it masked."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, list):
            return [self.mask_json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.mask_json(item) for key, item in value.items()}
        return value
