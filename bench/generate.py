"""Seeded, streaming generator of realistic import-format JSONL at any size.

    python bench/generate.py --sessions 100000 --tenants 20 --out /tmp/100k.jsonl

Skewed tenants (the first holds ~60% of sessions), hundreds of reps with every role, 10-40
scenarios per tenant (~15% archived), sessions over two years ending 2026-06-30 with ~80% scored,
bursts of 2-20 sessions sharing one started_at, transcripts of 10-60 turns with non-ASCII text,
and a scorecard right after each scored session. Same seed and arguments: identical bytes.
Memory is flat: records are written as they are made.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

if __name__ == "__main__":  # run as a script: the project's packages are one directory up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from roleplay.verdicts import verdict_for

END = datetime(2026, 6, 30, 23, 59, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600
AGENT = [
    "Hello? Who’s this — another agent? I told the last three I’m not selling.",
    "We listed with a big brokerage last year and got nothing but lookie-loos.",
    "Honestly the Zillow number says $640k and I’m not taking a cent less.",
    "Mein Mann meint, wir sollten bis zum Frühjahr warten. Was meinen Sie?",
    "My neighbour sold in twelve days. Twelve! So what went wrong with ours?",
    "I don’t want to pay six percent for someone to put it on the MLS.",
    "Okay… and what would you do differently with the photos this time?",
    "¿Y cuánto me quedaría después de su comisión? That’s what matters.",
    "We’re in no rush. Maybe after the holidays 🎄 we’ll think about it.",
]
REP = [
    "Totally fair. Can I ask what you felt was missing from the last listing?",
    "That makes sense. What would a great result look like — price or timing?",
    "I hear you. Here’s the data from the three sales on your street since March.",
    "If I could show you a plan that nets you more after fees, is that worth 20 minutes?",
    "Verstehe — warten kann sinnvoll sein. Was würde sich im Frühjahr ändern?",
    "Let’s walk the numbers: list at $615k, expected net about $571k after costs.",
    "We reshoot at golden hour and lead with the kitchen — it’s your best room. 👍",
    "Would Thursday at five or Saturday morning work to walk the house together?",
]
FIRST = ["Jordan", "Zoë", "Łukasz", "Priya", "Marcus", "Dana", "Søren", "Avery", "Renée",
         "Tomás", "Keiko", "Hank", "Olu", "Mia", "Noah", "Chloé", "Mateo", "Aisha"]  # fmt: skip
LAST = ["Reyes", "Álvarez", "Nowak", "Raman", "O’Neill", "Whitfield", "Madsen", "Chen",
        "Dubois", "Ferreira", "Tanaka", "Morrow", "Adeyemi", "Kowalski", "García"]  # fmt: skip
SCENARIO_NAMES = ["Cold Call — FSBO Seller", "Expired Listing Objection", "Price Reduction",
                  "Open-House Follow-Up", "Buyer Consultation", "Commission Pushback",
                  "Circle Prospecting", "Door Knock", "Referral Ask", "Pre-Listing"]  # fmt: skip
CALL_TYPES = ["cold_call", "objection_handling", "listing_presentation", "follow_up"]
CATEGORIES = [("discovery", "Discovery"), ("rapport", "Rapport"), ("closing", "Closing"),
              ("objection_handling", "Objection handling"), ("pacing", "Pacing")]  # fmt: skip
HEADLINES = {
    "crushed_it": "You earned the right to ask for the math by reframing his anger as data.",
    "solid": "Strong discovery; the close came a beat too late.",
    "needs_work": "Good energy, but you answered objections before understanding them.",
    "missed_the_mark": "The seller never felt heard — slow down and ask before you pitch.",
}
OTHER_STATUSES = ["completed", "in_progress", "abandoned", "failed"]


def rfc3339(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def tenant_shares(tenants: int) -> list[float]:
    """The first tenant ~60%, the rest a Zipf-like tail."""
    if tenants == 1:
        return [1.0]
    tail = [1 / (rank + 1) for rank in range(tenants - 1)]
    scale = 0.4 / sum(tail)
    return [0.6, *(t * scale for t in tail)]


def generate(sessions: int, tenants: int, seed: int, out) -> dict[str, int]:
    rng = random.Random(seed)
    counts = dict.fromkeys(("tenant", "user", "scenario", "session", "scorecard"), 0)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def emit(record: dict) -> None:
        counts[record["type"]] += 1
        out.write(orjson.dumps(record))
        out.write(b"\n")

    # Transcripts are drawn from a pool built once: realistic content at generator speed.
    pool = []
    for _ in range(64):
        turns, clock = [], 0.0
        for i in range(rng.randint(10, 60)):
            role = "agent" if i % 2 == 0 else "user"
            turns.append({"role": role, "message": rng.choice(AGENT if role == "agent" else REP),
                          "time": clock})  # fmt: skip
            clock = round(clock + rng.choice((3, 4.5, 6, 8, 11.5, 14)), 1)
        pool.append(turns)

    shares = tenant_shares(tenants)
    plan = []
    for index, share in enumerate(shares):
        tenant_id = new_id()
        emit({"type": "tenant", "id": tenant_id, "slug": f"bench-{seed}-{index}",
              "name": f"Bench Brokerage {index}"})  # fmt: skip
        plan.append((tenant_id, max(1, round(sessions * share)) if sessions else 0))
    plan[0] = (plan[0][0], max(0, sessions - sum(n for _, n in plan[1:])))

    people = {}
    for tenant_id, n_sessions in plan:
        reps = []
        for i in range(max(5, n_sessions // 2000)):
            rep_id = new_id()
            role = "admin" if i == 0 else "manager" if i % 10 == 1 else "rep"
            first, last = rng.choice(FIRST), rng.choice(LAST)
            emit({"type": "user", "id": rep_id, "tenant_id": tenant_id,
                  "full_name": f"{first} {last}", "email": f"rep{i}@{tenant_id[:8]}.test",
                  "role": role})  # fmt: skip
            reps.append(rep_id)
        scenarios = []
        for i in range(rng.randint(10, 40)):
            scenario_id = new_id()
            created = END - timedelta(days=rng.randint(700, 800))
            emit({"type": "scenario", "id": scenario_id, "tenant_id": tenant_id,
                  "name": f"{rng.choice(SCENARIO_NAMES)} #{i + 1}",
                  "call_type": rng.choice(CALL_TYPES),
                  "status": "archived" if rng.random() < 0.15 else "active",
                  "created_at": rfc3339(created)})  # fmt: skip
            scenarios.append(scenario_id)
        people[tenant_id] = (reps, scenarios)

    for tenant_id, n_sessions in plan:
        reps, scenarios = people[tenant_id]
        step = SPAN_SECONDS / max(n_sessions, 1)
        moment = END - timedelta(seconds=SPAN_SECONDS)
        burst_left, burst_at = 0, moment
        for _ in range(n_sessions):
            if burst_left:
                burst_left -= 1
                started = burst_at
            else:
                moment += timedelta(seconds=rng.random() * 2 * step)
                started = moment
                if rng.random() < 0.005:  # ~5% of sessions arrive in bursts of 2-20
                    burst_left, burst_at = rng.randint(1, 19), started
                if rng.random() < 0.05:
                    started = started.replace(microsecond=rng.randrange(1, 1_000_000))
                    burst_at = started
            scored = rng.random() < 0.8
            status = "scored" if scored else rng.choice(OTHER_STATUSES)
            turns = pool[rng.randrange(len(pool))]
            session_id = new_id()
            record = {"type": "session", "id": session_id, "tenant_id": tenant_id,
                      "user_id": rng.choice(reps), "scenario_id": rng.choice(scenarios),
                      "status": status, "started_at": rfc3339(started),
                      "transcript": turns}  # fmt: skip
            ended = None
            if status != "in_progress":
                duration = int(turns[-1]["time"]) + rng.randint(5, 60)
                ended = started + timedelta(seconds=duration)
                record["ended_at"] = rfc3339(ended)
                record["duration_seconds"] = duration
            emit(record)
            if scored:
                score = min(100, max(0, int(rng.gauss(74, 14))))
                verdict = verdict_for(score)
                emit({"type": "scorecard", "id": new_id(), "tenant_id": tenant_id,
                      "session_id": session_id, "overall_score": score, "verdict": verdict,
                      "headline": HEADLINES[verdict],
                      "categories": [{"key": k, "label": label,
                                      "score": min(100, max(0, score + rng.randint(-15, 15))),
                                      "feedback": f"{label}: try a calibrated “how” question."}
                                     for k, label in rng.sample(CATEGORIES, rng.randint(3, 5))],
                      "callouts": [{"kind": rng.choice(("strength", "improvement")),
                                    "text": "Named the seller’s real concern before answering.",
                                    "time": None if rng.random() < 0.2
                                    else rng.choice(turns)["time"]}
                                   for _ in range(rng.randint(1, 3))],
                      "created_at": rfc3339(ended + timedelta(minutes=rng.randint(1, 5)))},
                     )  # fmt: skip
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="-", help="file, or - for stdout")
    args = parser.parse_args()
    started = time.monotonic()
    if args.out == "-":
        counts = generate(args.sessions, args.tenants, args.seed, sys.stdout.buffer)
    else:
        with open(args.out, "wb", buffering=1 << 20) as out:
            counts = generate(args.sessions, args.tenants, args.seed, out)
    summary = ", ".join(f"{n} {kind}s" for kind, n in counts.items())
    print(f"generated {summary} in {time.monotonic() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
