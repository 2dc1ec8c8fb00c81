"""The errors minie5 raises for bad model files and bad arguments. Each message names the file,
tensor or argument at fault, so the CLI can print it as it is."""


class Minie5Error(Exception):
    """Base class: anything minie5 reports about its inputs."""


class ConfigError(Minie5Error, ValueError):
    """config.json is missing, unreadable, or asks for something minie5 does not implement."""


class WeightsError(Minie5Error, ValueError):
    """model.safetensors is missing, corrupt, or lacks a tensor of the expected name, shape or dtype."""


class TokenizerError(Minie5Error, ValueError):
    """tokenizer.json is missing or unreadable."""


def check_choice(argument: str, value, choices: tuple) -> None:
    """The one way minie5 refuses an argument outside its set of choices."""
    if value not in choices:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, choices))}, got {value!r}")
