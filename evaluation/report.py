"""The evaluation report: a Markdown page with PNG charts, for people who review quality."""

from __future__ import annotations

from pathlib import Path

from evaluation.golden import RETRIEVERS, EvalResult


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("–" if value is None else str(value))


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_charts(result: EvalResult, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    figure, axis = plt.subplots(figsize=(6, 4))
    for mode in RETRIEVERS:
        curve = result.recall_curves[mode]
        axis.plot(range(1, len(curve) + 1), curve, marker="o", label=mode)
    axis.set_xlabel("k (Dokumente)")
    axis.set_ylabel("Recall@k")
    axis.set_ylim(0, 1.02)
    axis.set_title("Recall@k je Retriever (Golden Set)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "recall_at_k.png", dpi=120)
    plt.close(figure)
    files.append("recall_at_k.png")

    categories = sorted(result.retrieval_by_category)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(RETRIEVERS)
    for i, mode in enumerate(RETRIEVERS):
        values = [result.retrieval_by_category[c][mode]["hit@3"] for c in categories]
        left.bar([x + i * width for x in range(len(categories))], values, width, label=mode)
    left.set_xticks([x + width for x in range(len(categories))], categories, rotation=30,
                    ha="right")
    left.set_ylim(0, 1.05)
    left.set_title("Hit@3 je Kategorie")
    left.legend(loc="lower left", fontsize="small")
    recall = [result.answers_by_category[c]["key_fact_recall"] or 0.0 for c in categories]
    right.bar(categories, recall, color="#4c72b0")
    right.set_ylim(0, 1.05)
    right.set_title("Kernfakten-Recall der Antworten je Kategorie")
    right.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    figure.savefig(folder / "categories.png", dpi=120)
    plt.close(figure)
    files.append("categories.png")
    return files


def write_report(result: EvalResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not result.retrieval:  # a set without expected documents (a city's own cases)
        return _write_answers_only(result, folder)
    charts = write_charts(result, folder)
    metrics = list(next(iter(result.retrieval.values())))
    answer_keys = ["key_fact_recall", "citation_precision", "citation_doc_precision", "refused"]
    categories = sorted(result.answers_by_category)
    parts = [
        "# KORA evaluation report",
        "",
        f"Golden set: {result.meta['questions']} questions, {result.meta['out_of_scope']} "
        f"out-of-scope questions, {result.meta['conversations']} conversations. "
        f"Answers: {result.meta['answer_mode']}.",
        "",
        "## Retrieval",
        "",
        _table(["retriever", *metrics], [[m, *result.retrieval[m].values()] for m in RETRIEVERS]),
        "",
        "![Recall@k](recall_at_k.png)",
        "",
        "## Answers",
        "",
        _table(["scope", *answer_keys],
               [["all", *[result.answers[k] for k in answer_keys]]]
               + [[c, *[result.answers_by_category[c][k] for k in answer_keys]]
                  for c in categories]),
        "",
        "![Per category](categories.png)",
        "",
        "## Refusals",
        "",
        _table(["precision", "recall", "in-scope refused"],
               [[result.refusal["precision"], result.refusal["recall"],
                 result.refusal["in_scope_refused"]]]),
        "",
        "Recall by kind of out-of-scope question: "
        + ", ".join(f"{k} {v:.3f}" for k, v in _recall_by_kind(result).items()),
        "",
        "## Conversations (second turn)",
        "",
        _table(["key_fact_recall", "citation_precision", "second_turn_hit@3", "refused"],
               [[result.conversations.get(k) for k in
                 ("key_fact_recall", "citation_precision", "second_turn_hit@3", "refused")]]),
        "",
        "## LLM-judged faithfulness",
        "",
        str(result.faithfulness),
        "",
        "## Questions not fully answered",
        "",
    ]
    for failure in result.failures:
        parts.append(f"- `{failure['id']}` {failure['question']} "
                     f"(refused: {failure['refused']})")
    (folder / "report.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    assert charts
    return folder / "report.md"


def _write_answers_only(result: EvalResult, folder: Path) -> Path:
    answer_keys = ["key_fact_recall", "citation_precision", "refused"]
    parts = [
        "# KORA evaluation report",
        "",
        f"{result.meta['questions']} questions, {result.meta['out_of_scope']} out-of-scope "
        f"questions. Answers: {result.meta['answer_mode']}. No expected documents: no "
        "retrieval figures.",
        "",
        _table(answer_keys, [[result.answers.get(k) for k in answer_keys]]),
        "",
        _table(["refusal precision", "refusal recall"],
               [[result.refusal["precision"], result.refusal["recall"]]]),
        "",
        "## Questions not fully answered",
        "",
        *[f"- `{f['id']}` {f['question']} (refused: {f['refused']})" for f in result.failures],
    ]
    (folder / "report.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    return folder / "report.md"


def _recall_by_kind(result: EvalResult) -> dict[str, float]:
    by_kind = result.refusal["recall_by_kind"]
    assert isinstance(by_kind, dict)  # as _evaluate writes it
    return by_kind
