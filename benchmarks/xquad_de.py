"""XQuAD-de as a BEIR retrieval task: every question must find its paragraph.

Converts ../shared/data/xquad-de/xquad.de.json (XQuAD, German; CC BY-SA 4.0, license
copied beside the converted data) into a BEIR folder in a temporary directory and runs
`kora eval --beir` on it, printing nDCG@10, recall@k and MRR for bm25, dense and hybrid
in one run. Published references (MTEB): BM25 0.925, all-MiniLM-L6-v2 0.703.

    python benchmarks/xquad_de.py [--source PATH] [--keep DIR] [-- extra kora flags]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import shutil
import subprocess
import tempfile

from benchmarks._start import REPO

DEFAULT_SOURCE = REPO.parent / "shared/data/xquad-de/xquad.de.json"


def convert(source: Path, target: Path) -> tuple[int, int]:
    data = json.loads(source.read_text(encoding="utf-8"))
    target.mkdir(parents=True, exist_ok=True)
    (target / "qrels").mkdir(exist_ok=True)
    documents = questions = 0
    with open(target / "corpus.jsonl", "w", encoding="utf-8") as corpus, \
            open(target / "queries.jsonl", "w", encoding="utf-8") as queries, \
            open(target / "qrels/test.tsv", "w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for article in data["data"]:
            for number, paragraph in enumerate(article["paragraphs"]):
                doc_id = f"{article['title']}-{number}"
                corpus.write(json.dumps({"_id": doc_id, "title": "", "text": paragraph["context"]},
                                        ensure_ascii=False) + "\n")
                documents += 1
                for qa in paragraph["qas"]:
                    queries.write(json.dumps({"_id": qa["id"], "text": qa["question"]},
                                             ensure_ascii=False) + "\n")
                    qrels.write(f"{qa['id']}\t{doc_id}\t1\n")
                    questions += 1
    license_file = source.parent / "XQUAD_LICENSE_CC-BY-SA4.0.txt"
    if license_file.exists():
        shutil.copy(license_file, target / license_file.name)
    return documents, questions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--keep", type=Path, help="write the BEIR folder here and keep it")
    parser.add_argument("extra", nargs="*", help="extra flags for `kora eval --beir`")
    args = parser.parse_args()
    if not args.source.exists():
        print(f"XQuAD-de not found at {args.source}: pass --source PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="xquad-de-") as temporary:
        folder = args.keep or Path(temporary) / "xquad-de"
        documents, questions = convert(args.source, folder)
        print(f"XQuAD-de: {documents} paragraphs, {questions} questions -> {folder}",
              file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "ui.cli", "eval", "--beir", str(folder), *args.extra]
        return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
