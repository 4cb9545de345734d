"""The code blocks of one README section, so tests run the snippets exactly as printed."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_blocks(heading: str, language: str = "python") -> list[str]:
    """The ```language blocks between the heading line ``heading`` and the next heading of any level."""
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    following = re.search(r"\n#{1,6} ", text[start + len(heading) + 2 :])
    section = text[start : start + len(heading) + 2 + following.start()] if following else text[start:]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)
