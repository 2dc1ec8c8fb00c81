"""The errors minie5 raises for bad model files, bad texts and bad arguments, and the one way it
refuses an argument. Each message names the file, tensor, text or argument at fault, so the CLI
and the server can pass it on as it is."""

from __future__ import annotations

from pathlib import Path


class Minie5Error(Exception):
    """Base class: anything minie5 reports about its inputs."""


class ConfigError(Minie5Error, ValueError):
    """config.json is missing, unreadable, or asks for something minie5 does not implement."""


class WeightsError(Minie5Error, ValueError):
    """model.safetensors is missing, corrupt, or lacks a tensor of the expected name, shape or dtype."""


class TokenizerError(Minie5Error, ValueError):
    """tokenizer.json is missing or unreadable."""


class TextError(Minie5Error, ValueError):
    """One of the texts given cannot be embedded as asked (not a string, longer than the limit
    with long="error", not valid Unicode). `index` is its position among the texts, so that a front
    end can name it in its own words (the server's input[3], the CLI's file and line)."""

    def __init__(self, index: int, problem: str, advice: str = ""):
        super().__init__(f"texts[{index}] {problem}" + (f": {advice}" if advice else ""))
        self.index, self.problem, self.advice = index, problem, advice


class TextTooLong(TextError):
    """A text over the model's limit, under long="error"."""


class TruncationWarning(UserWarning):
    """Texts were cut to the model's limit (long="truncate"): `count` of `total`, at `max_length`
    tokens, so that a caller (a cluster worker, the CLI) can add them up or say it in its own words."""

    def __init__(self, count: int, total: int, max_length: int):
        super().__init__(f"{count} of {total} texts were longer than {max_length} tokens and were truncated "
                         "(long='chunk' embeds all of each)")
        self.count, self.total, self.max_length = count, total, max_length


def install_hint(extra: str) -> str:
    """The pip command that adds an optional extra. minie5 is installed from a checkout, so the
    command names the checkout this minie5 runs from when it is one (an editable install), which
    works from any folder; otherwise the checkout the user has."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return f'pip install "{checkout}[{extra}]"'
    return f'pip install ".[{extra}]" (in your checkout of minie5)'


def check_choice(argument: str, value, choices: tuple) -> None:
    """Refuse `value` unless it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_int(argument: str, value, low: int, high: int | None = None, what: str = "") -> int:
    """Refuse `value` unless it is an int (a bool is not) from `low` to `high`; `what` says what
    the number counts. Returns it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        if high is not None:
            kind = f"an integer from {low} to {high}"
        else:
            kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer of at least {low}")
        raise ValueError(f"{argument} must be {kind}{f' ({what})' if what else ''}, got {value!r}")
    return value
