"""A scorecard's verdict from its overall score: the platform's one rule, for every producer of
scorecards (the demo data in fixtures/build_demo.py, the benchmark's bench/generate.py).

Plain Python with no Django import, so those standalone scripts can use it.
"""

# (lowest score, verdict), highest first; the values of Scorecard.Verdict.
VERDICT_BANDS = (
    (85, "crushed_it"),
    (70, "solid"),
    (50, "needs_work"),
    (0, "missed_the_mark"),
)


def verdict_for(score: int) -> str:
    for lowest, verdict in VERDICT_BANDS:
        if score >= lowest:
            return verdict
    return VERDICT_BANDS[-1][1]
