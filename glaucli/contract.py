"""What every layer shares with the user: the JSON schema version, the intended-use note and
the verdict words. Small on purpose, so the engine needs nothing from the console."""

SCHEMA = 1
RESEARCH_NOTE = "Research use only: not a diagnostic device."
VERDICTS = {1: "referable glaucoma suspected", 0: "no referable glaucoma"}
