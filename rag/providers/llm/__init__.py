"""LLM backends: one adapter module per kind of server, chosen by ``settings.llm``
through one registry (``registry.BACKENDS``).

The whole contract is ``ChatModel`` (``base``): a display name, a context window, a
token counter for packing sources, and ``stream(messages)`` that yields text pieces.
"""

from rag.providers.llm.base import ChatModel, Message
from rag.providers.llm.llamacpp import LlamaCppChat
from rag.providers.llm.ollama import OllamaChat, ollama_answers_quickly
from rag.providers.llm.openai_compat import OpenAICompatibleChat
from rag.providers.llm.registry import LLMChoice, choose_llm, load_llm
from rag.providers.llm.transformers_local import TransformersChat

__all__ = [
    "ChatModel",
    "LLMChoice",
    "LlamaCppChat",
    "Message",
    "OllamaChat",
    "OpenAICompatibleChat",
    "TransformersChat",
    "choose_llm",
    "load_llm",
    "ollama_answers_quickly",
]
