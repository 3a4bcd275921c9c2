"""What every layer shares with the user: the JSON schema version, the intended-use note and
the verdict words. Small on purpose, so the engine needs nothing from the console."""

SCHEMA = 1
RESEARCH_NOTE = "Research use only: not a diagnostic device."
VERDICTS = {1: "referable glaucoma suspected", 0: "no referable glaucoma"}
# Why predict gives no verdict: a reason code (the --json "reason") and the words a clinician
# reads in the table; the fundus check decides the first two, the distribution check the last.
NOT_ASSESSED_REASONS = {
    "not_fundus": "not assessed: not a fundus photograph",
    "poor_quality": "not assessed: fundus photograph of insufficient quality",
    "unlike_training": "not assessed: unlike this run's training photographs",
}
