"""What the tests build on: golden fixtures, random models, hand-written model files, a CLI runner.
The tools in tools/ import these too (they make and read the same fixtures)."""
