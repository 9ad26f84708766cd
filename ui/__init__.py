"""Every way a person reaches KORA: the `kora` command line (and later the web app)."""
