"""Keep every library offline and silent before any of them is imported.

KORA must never send a document, question or usage ping off the machine: Hugging Face
may not look up models online, Gradio may not report analytics, Chroma may not send
telemetry. These variables are read by those libraries at import time, so the command
line calls ``enforce_offline()`` first thing.
"""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "CHROMA_ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline() -> None:
    """Set the offline and no-telemetry switches, overriding any value already set:
    KORA offers no way to turn them back on."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ[key] = value
