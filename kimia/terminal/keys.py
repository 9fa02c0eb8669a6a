"""Terminal MAC keys at rest: kept in :mod:`kimia.service.terminalkeys` (the service decrypts a
terminal's key when it looks the terminal up, and the service never imports the terminal layer);
re-exported here for the terminal host, the CLI and the migrations."""

from kimia.service.terminalkeys import KEK_ENV, KEK_FILE_ENV, Kek, kcv, kek_id_of, load_kek, unwrap, wrap, wrap_for_terminal

__all__ = ["KEK_ENV", "KEK_FILE_ENV", "Kek", "kcv", "kek_id_of", "load_kek", "unwrap", "wrap", "wrap_for_terminal"]
