"""The vector store: the index's generations in Chroma, their docstores, and the pointer
to the live one. Chroma's own API stays inside this package.

Every ingest writes into a *generation*: one Chroma collection of chunks, plus the
docstore that llama-index's UPSERTS strategy deduplicates with, the file hashes and the
journal of the batch in progress. A pointer names the live generation, the embedding
model it was built with, and a version that every ingest which changed something
increases: a reader compares that version with the one it serves and reopens when it
moved. ``kora ingest --rebuild`` builds a new generation beside the live one and moves
the pointer only when it is complete, so an interrupted rebuild leaves the previous index
in service.

Where these live depends on the set-up:

- embedded (no ``KORA_CHROMA_URL``, the default): all in the data directory. Chroma in
  ``chroma/``, the pointer in ``current.json``, the docstore in
  ``docstore-<generation>.sqlite``, the last report in ``last_ingest.json``, one ingest at
  a time by a file lock.
- a Chroma server: whatever several workers and machines must agree on lives in the
  server. Collection ``kora-meta`` holds the pointer, the ingest lease and the last
  report; collection ``kora-kv-<generation>`` the docstore, file hashes and journal of one
  generation. The data directory keeps only what each process derives for itself (the
  keyword index), so each worker may have its own.

A replaced generation is dropped at once when nobody else can be reading it (the embedded
command line); otherwise (a server, or the web app's own chat) it is kept for a grace
period so that questions under way finish on it, and dropped by a later ingest.

The modules: ``data_dir`` which generation is live and how generations are opened,
published and dropped; ``index`` one opened generation (its chunks, docstore, file
hashes); ``generation`` its name and collections; ``catalog`` the pointer, the last
report and the ingest lock (files, or records in the server); ``docstore`` the key-value
stores; ``chroma`` the client, which turns a server that is down into one
``IndexUnavailableError`` line.
"""

from rag.providers.vectorstore.data_dir import DataDir
from rag.providers.vectorstore.docstore import open_docstore
from rag.providers.vectorstore.generation import Generation
from rag.providers.vectorstore.index import (
    READ_PAGE,
    ChunkPage,
    Index,
    NearestChunk,
    StoredChunk,
)

__all__ = [
    "READ_PAGE",
    "ChunkPage",
    "DataDir",
    "Generation",
    "Index",
    "NearestChunk",
    "StoredChunk",
    "open_docstore",
]
