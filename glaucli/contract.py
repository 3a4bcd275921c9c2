"""What every layer shares with the user: the JSON schema version, the intended-use note, the
verdict words and the reasons for not answering. Small on purpose, so the engine needs nothing from the console."""

SCHEMA = 1
RESEARCH_NOTE = "Research use only: not a diagnostic device."
VERDICTS = {1: "referable glaucoma suspected", 0: "no referable glaucoma"}

# Why predict withholds a verdict, most basic first: each code is a `reason` in --json, and its
# words are the verdict. A clinician must not read "unlike the training photographs" as poor
# image quality, nor a colour-processed photograph as no fundus photograph (issue 27).
NOT_ASSESSED = {
    "not_fundus": "not assessed: not a fundus photograph",
    "poor_quality": "not assessed: fundus photograph of insufficient quality",
    "unlike_training": "not assessed: unlike this run's training photographs",
}
# Every verdict of a run trained on `glaucli sample` images carries this: such a model has
# never seen a real eye, and its "no referable glaucoma" on one means nothing.
SYNTHETIC_MARK = " (synthetic model: demo only)"
