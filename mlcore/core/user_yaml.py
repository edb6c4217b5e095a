"""YAML that users write (a dataset's data.yaml, a search space, the other train arguments, an attached run's
args.yaml), read so that a few hundred bytes cannot take the process down.

`yaml.safe_load` runs no code, but it expands nothing either: anchors and aliases make shared references, so a
"billion laughs" text of 300 bytes is a tree of 10^9 strings as soon as anything walks it (str(), json, a loop
over class names), which took the API process to ~20 GB. Here the text is capped in size, and its nodes are
counted with every alias expanded before anything is built from them; aliases within the limit stay usable.

    data = read_yaml_file(path, "data.yaml")       # UnsafeYaml (a yaml.YAMLError) past the limits
    args = read_yaml_text(text, "the other arguments")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_YAML_BYTES = 1 << 20  # a data.yaml naming 10,000 classes is about 0.2 MiB
MAX_YAML_NODES = 100_000  # values after every alias is expanded (a billion-laughs text has 10^9)


class UnsafeYaml(yaml.YAMLError):
    """The text is too large, nests too deeply, or its aliases expand past the limit; the message says which."""


def read_yaml_text(text: str, what: str, max_bytes: int = MAX_YAML_BYTES, max_nodes: int = MAX_YAML_NODES) -> Any:
    """The document in `text` (None when empty), as `yaml.safe_load` reads it, within the limits.

    yaml.YAMLError for invalid YAML; UnsafeYaml, whose message names `what`, past a limit."""
    if len(text) > max_bytes:
        raise UnsafeYaml(_too_large(what, max_bytes))
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _count(node, what, max_nodes)
        return loader.construct_document(node)
    except RecursionError:
        raise UnsafeYaml(f"{what} nests lists or mappings too deeply; write it with fewer levels.") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | os.PathLike[str], what: str | None = None, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """The document in the file at `path` (UTF-8, a BOM allowed), read no further than `max_bytes`.

    OSError / UnicodeDecodeError when unreadable; yaml.YAMLError as `read_yaml_text`."""
    name = what or Path(path).name
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeYaml(_too_large(name, max_bytes))
    return read_yaml_text(data.decode("utf-8-sig"), name, max_bytes)


def _too_large(what: str, max_bytes: int) -> str:
    return f"{what} is larger than {max_bytes / 2**20:g} MiB, far more than such a file needs; shorten it."


def _count(root: Node, what: str, limit: int) -> int:
    """How many values `root` holds with its aliases expanded (an aliased node counts each time it is used);
    UnsafeYaml past `limit`, or for a node that holds itself. Each distinct node is visited once, so this is fast
    whatever the expansion."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # entered, children not all counted: meeting one again is a cycle
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            sizes[id(node)] = 1
            continue
        if not children_done:
            if id(node) in open_nodes:
                raise UnsafeYaml(
                    f"{what} holds a value that contains itself (an alias inside its own anchor); write the values out."
                )
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        size = 1 + sum(sizes[id(child)] for child in children)
        if size > limit:
            raise UnsafeYaml(
                f"{what} expands to more than {limit:,} values through its anchors and aliases (&name, *name), "
                "as a 'billion laughs' attack does; write the values out, or use fewer aliases."
            )
        sizes[id(node)] = size
        open_nodes.discard(id(node))
    return sizes[id(root)]
