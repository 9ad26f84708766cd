"""Retrieval metrics over ranked document ids (no LLM needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

METRIC_NAMES = ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr")


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    gains = [relevant.get(doc, 0) for doc in ranked[:k]]
    dcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal) if g > 0)
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, int]) -> float:
    for position, doc in enumerate(ranked, start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / position
    return 0.0


def unique_in_order(doc_ids: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return [d for d in doc_ids if not (d in seen or seen.add(d))]  # type: ignore[func-returns-value]


def retrieval_metrics(ranked: Sequence[str], relevant: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at(ranked, relevant, 10),
        "recall@1": recall_at(ranked, relevant, 1),
        "recall@5": recall_at(ranked, relevant, 5),
        "recall@10": recall_at(ranked, relevant, 10),
        "recall@100": recall_at(ranked, relevant, 100),
        "mrr": reciprocal_rank(ranked, relevant),
    }


def mean_metrics(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    if not rows:
        return {name: 0.0 for name in METRIC_NAMES}
    return {name: round(sum(r[name] for r in rows) / len(rows), 4) for name in rows[0]}
