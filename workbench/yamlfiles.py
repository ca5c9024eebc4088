"""YAML files the user writes, read and validated with errors that name the file and line.

Prompt front matter, ``gates.yaml``, ``budget.yaml`` and the smoke case files are all
YAML validated by a pydantic model at the trust boundary. They share one way in, so
that every one of them reports a mistake the same way: ``path:line: what is wrong``.

- The text must be UTF-8; anything else is reported as such, not as a traceback.
- A key written twice in one mapping is refused (YAML would silently keep the last).
- Dates stay text, so that pydantic names a bad date instead of YAML guessing one.
- A validation error names the line of the offending key, found by walking the YAML
  node tree along the error's location.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workbench.errors import FileError

M = TypeVar("M", bound=BaseModel)
Describe = Callable[[Mapping[str, Any]], str]


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: it reads the demo's 183 cases in a
fraction of the pure-Python parser's time; the constructor and resolver stay Python's."""


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """A safe loader that refuses duplicate keys and leaves dates as text."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} appears twice in one mapping (first on line "
                    f"{seen[key]}): keep one",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


def read_text(path: Path, *, error: type[FileError], what: str = "file") -> str:
    """A user file's text; unreadable or not UTF-8 raises ``error`` naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror}", path=str(path)) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"the {what} is not UTF-8 (byte {exc.start}); save it as UTF-8",
            path=str(path),
            line=line,
        ) from exc


def parse_yaml(text: str, *, path: str | Path, error: type[FileError], first_line: int = 1) -> Any:
    """YAML text to Python values; ``first_line`` is the file line the text starts on."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + first_line if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"not valid YAML: {problem}", path=str(path), line=line) from exc


def validate(
    model: type[M],
    data: Any,
    *,
    text: str,
    path: str | Path,
    error: type[FileError],
    what: str,
    first_line: int = 1,
    describe: Describe | None = None,
) -> M:
    """``data`` (parsed from ``text``) as a ``model``; errors name the first bad key's line.

    Args:
        what: how the message names the thing ("front matter", "gates file").
        describe: words for one pydantic error (default: ``loc: msg``).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        words = describe or describe_error
        problems = "; ".join(words(err) for err in errors)
        line = line_of(text, errors[0]["loc"], first_line=first_line)
        raise error(f"invalid {what}: {problems}", path=str(path), line=line) from exc


def describe_error(err: Mapping[str, Any]) -> str:
    """``a.b.c: message``, or ``unknown key 'x'`` for a key the model does not know."""
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    return f"{loc}: {err['msg']}"


def line_of(text: str, loc: Sequence[str | int], *, first_line: int = 1) -> int | None:
    """The file line of the YAML node at ``loc`` (the deepest one that exists)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line
    for step in loc:
        child = _child(node, step)
        if child is None:
            break
        key_line, node = child
        line = key_line
    return line + first_line


def item_lines(text: str) -> list[int]:
    """The 1-based line of each item of a top-level YAML list (for error messages)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return []
    if isinstance(node, yaml.SequenceNode):
        return [item.start_mark.line + 1 for item in node.value]
    return []


def _child(node: yaml.Node, step: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(step):
                return key.start_mark.line, value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        return item.start_mark.line, item
    return None
