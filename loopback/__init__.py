"""Real servers on loopback, started the way docs/deploy runs them, for the tests and the
benchmarks alike: a PostgreSQL cluster from ``initdb`` with KORA's deployment settings,
nginx with the site file of docs/deploy, and the systemd units' command lines; and tiny
GGUF models the real llama.cpp engine runs in milliseconds (``tiny_gguf``).

Neither ``tests`` nor ``benchmarks`` may import the other, and the product packages
(``rag`` … ``ui``) import neither this: it stands beside them as shared test equipment.
"""

from __future__ import annotations

from loopback.deploy import (
    DEPLOY,
    NGINX,
    Nginx,
    exec_start,
    nginx_available,
    nginx_site,
    option,
)
from loopback.ports import free_port, stop_process
from loopback.postgres import PostgresCluster, server_binaries
from loopback.tiny_gguf import vocabulary, words_of, write_tiny_gguf

__all__ = ["DEPLOY", "NGINX", "Nginx", "PostgresCluster", "exec_start", "free_port",
           "nginx_available", "nginx_site", "option", "server_binaries", "stop_process",
           "vocabulary", "words_of", "write_tiny_gguf"]
