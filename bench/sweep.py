#!/usr/bin/env python3
"""Hyperparameter sweep for the learner's defaults, by prequential evaluation.

Runs `streamrec evaluate` over a grid of --set overrides on two streams built
from MovieLens latest-small (the ratings, and the tag events as a second,
sparser stream), and reports recall@10 on the whole stream and on its first
and second half (from the sliding-window curve), so a default is chosen for
being good everywhere, not best on one stream.

Usage: bench/sweep.py [--binary build/streamrec] [--data ../shared/datasets/ml-latest-small]
                      [--out bench/results/sweep-DATE.md]
Standard library only; the data set is read in place, converted streams go to a
temp dir and are never written into the repository.
"""
import argparse
import csv
import datetime
import itertools
import json
import os
import subprocess
import sys
import tempfile

# One axis moved at a time around the defaults, plus a few joint points.
BASE = {}
AXES = {
    "learner.dim": [32, 64, 128, 256],
    "learner.learning_rate": [0.05, 0.1, 0.15, 0.2],
    "learner.regularization": [0.003, 0.01, 0.03],
    "learner.negatives": [4, 8, 16, 32],
    "learner.context_items": [0, 5, 10, 20],
    "learner.context_learning_rate_scale": [1, 2, 4, 8],
    "learner.negative_sampling": ["uniform", "popularity"],
}


def tags_to_jsonl(tags_csv, out_path):
    with open(tags_csv, newline="", encoding="utf-8") as f, open(out_path, "w", encoding="utf-8") as out:
        for row in csv.DictReader(f):
            out.write(json.dumps({"user_id": row["userId"], "item_id": row["movieId"], "type": "click",
                                  "ts": int(row["timestamp"]) * 1000}) + "\n")


def evaluate(binary, path, fmt, extra, sets, tmp):
    report = os.path.join(tmp, "report.json")
    cmd = [binary, "evaluate", "--input", path, "--format", fmt, "--models", "isgd", "--top", "10",
           "--json", report] + extra
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(report, encoding="utf-8") as f:
        data = json.load(f)
    model = data["models"]["isgd"]
    curve = model.get("recall_curve", [])
    half = len(curve) // 2
    first = sum(curve[:half]) / half if half else float("nan")
    second = sum(curve[half:]) / (len(curve) - half) if len(curve) > half else float("nan")
    return model["recall"], first, second, model["events_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--binary", default=os.path.join(root, "build", "streamrec"))
    parser.add_argument("--data", default=os.path.join(root, "..", "shared", "datasets", "ml-latest-small"))
    parser.add_argument("--out", default=os.path.join(root, "bench", "results",
                                                      f"sweep-{datetime.date.today().isoformat()}.md"))
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"sweep: data set not found at {args.data}")

    with tempfile.TemporaryDirectory() as tmp:
        tags = os.path.join(tmp, "tags.jsonl")
        tags_to_jsonl(os.path.join(args.data, "tags.csv"), tags)
        ratings = os.path.join(args.data, "ratings.csv")
        streams = [("ratings", ratings, "movielens-csv", []),
                   ("ratings>=4", ratings, "movielens-csv", ["--min-rating", "4"]),
                   ("tags", tags, "jsonl", [])]
        points = [dict(BASE)]
        for key, values in AXES.items():
            points += [{key: v} for v in values]
        lines = ["# Learner sweep (prequential recall@10, ISGD only)", "",
                 f"Date: {datetime.date.today().isoformat()}. Command: `bench/sweep.py`. "
                 "Each row moves one key from the defaults; `first`/`second` are the stream's halves. "
                 "Streams: all 100,836 ratings; ratings >= 4 only; the 3,683 tag events as clicks.", "",
                 "| override | ratings | first | second | ratings>=4 | first | second | tags | first | second "
                 "| events/s (ratings) |",
                 "| --- " * 11 + "|"]
        for sets in points:
            label = ", ".join(f"{k}={v}" for k, v in sets.items()) or "defaults"
            cells = []
            speed = 0.0
            for name, path, fmt, extra in streams:
                recall, first, second, eps = evaluate(args.binary, path, fmt, extra, sets, tmp)
                cells += [f"{recall:.4f}", f"{first:.4f}", f"{second:.4f}"]
                if name == "ratings":
                    speed = eps
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {speed:,.0f} |")
            print(lines[-1], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
