"""The inputs of one ``check`` run: files, directories (walked for weights files) and globs, expanded once.

A CI job names what to gate the way it names sources for a linter: ``models/``, ``ckpt/*.pt``,
``'**/*.safetensors'`` (quoted: expanded here, recursively, the same on every shell) or plain files.

- A path that exists is used as it is: a file is one input whatever its suffix (an unsupported one
  is refused by the reader, naming the file); a directory is walked.
- A directory holding ``model.safetensors.index.json`` is one input (a sharded checkpoint): its
  shards are not checked again one by one; the walk goes on into its other files and folders.
- A walk keeps files with a weights suffix (:data:`WALK_SUFFIXES`), sorted, skipping hidden files
  and folders (``.git``, ``.venv``) and ``__pycache__``, and never follows a symlinked folder.
- A path that does not exist but holds ``*``, ``?`` or ``[`` is a glob (``**`` crosses folders);
  its matches are filtered like a walk. A path that neither exists nor is a glob is kept, so the
  reader says "no such file" for it.
- A directory or glob that finds no weights file is reported, not dropped: nothing was checked
  for it (exit code 3 when nothing at all was checked).

Inputs are deduplicated by their resolved path, first occurrence kept.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from ._errors import InputError
from ._weights import SHARD_INDEX, SUFFIXES

__all__ = ["WALK_SUFFIXES", "InputFile", "Inputs", "expand_inputs"]

#: suffixes a directory walk or a glob keeps (the readers' own list, plus formats other readers add)
WALK_SUFFIXES = tuple(dict.fromkeys((*SUFFIXES, ".onnx", ".keras", ".h5")))
#: folder names a walk never enters (besides hidden ones)
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass(frozen=True)
class InputFile:
    """One source to check: ``path`` as the user will read it, and whether it was named (not found)."""

    path: str
    named: bool


@dataclass(frozen=True)
class Inputs:
    """What a list of arguments expands to: the sources, and the arguments that found none."""

    files: list
    unmatched: list


def _shards(directory: Path) -> set[str]:
    """File names of the shards a sharded checkpoint's index lists (every .safetensors if unreadable)."""
    try:
        weight_map = json.loads((directory / SHARD_INDEX).read_text())["weight_map"]
        return {str(v) for v in weight_map.values()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {p.name for p in directory.glob("*.safetensors")}


def _keep(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(WALK_SUFFIXES)


def _walk(root: Path) -> Iterator[str]:
    """Weights files and sharded checkpoints under ``root``, in sorted order."""
    for top, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        here = Path(top)
        shards: set[str] = set()
        if SHARD_INDEX in names:
            yield str(here)
            shards = _shards(here)
        for name in sorted(names):
            if name not in shards and _keep(name) and (here / name).is_file():
                yield str(here / name)


def _expand_one(arg: str) -> tuple[list[str], bool]:
    """(sources found for one argument, whether it was named as it is)."""
    path = Path(arg)
    if path.is_dir():
        if (path / SHARD_INDEX).is_file():
            return [arg], True  # a sharded checkpoint named by its folder: one source, as before
        return list(_walk(path)), False
    if path.exists() or path.is_symlink() or not glob.has_magic(arg):
        return [arg], True
    found: list[str] = []
    for match in sorted(glob.glob(arg, recursive=True)):
        if Path(match).is_dir():
            found.extend(_expand_one(match)[0])
        elif _keep(Path(match).name):
            found.append(match)
    return found, False


def expand_inputs(paths: Sequence[str | os.PathLike] | str | os.PathLike) -> Inputs:
    """Expand files, directories and globs into the sources of one check run.

    Parameters
    ----------
    paths : path or sequence of paths
        Files, directories and glob patterns (see the module docstring for the rules).

    Returns
    -------
    Inputs
        ``files``: :class:`InputFile` per source, in argument order then sorted within a walk or
        glob, deduplicated; ``unmatched``: the directories and globs that found no weights file.

    Raises
    ------
    InputError
        ``paths`` is empty.

    Examples
    --------
    >>> expand_inputs(["missing.npy"]).files
    [InputFile(path='missing.npy', named=True)]
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    args = [os.fspath(p) for p in paths]
    if not args:
        raise InputError("paths is empty: give at least one weights file, directory or glob", param="paths")
    files: list[InputFile] = []
    unmatched: list[str] = []
    seen: set[str] = set()
    for arg in args:
        found, named = _expand_one(arg)
        if not found:
            unmatched.append(arg)
        for path in found:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                files.append(InputFile(path, named))
    return Inputs(files, unmatched)
