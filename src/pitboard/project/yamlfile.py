"""YAML loading that remembers where every value came from, so errors can name file, line and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class LoadedYaml:
    path: Path
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, location: tuple[str | int, ...]) -> int | None:
        """The line of the deepest known node on ``location`` (a pydantic error's ``loc``)."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return None


class YamlError(ValueError):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        super().__init__(f"{path}:{line or '?'}: {message}")
        self.path, self.line, self.message = path, line, message


def load_yaml(path: Path) -> LoadedYaml:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlError(path, line, f"not valid YAML: {exc.problem}") from exc
    loaded = LoadedYaml(path=path, data=data)
    if node is not None:
        _index(node, (), loaded.lines)
    return loaded


def _index(node: yaml.Node, location: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> None:
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*location, key)] = key_node.start_mark.line + 1
            _index(value_node, (*location, key), lines)
            lines[(*location, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*location, i), lines)
