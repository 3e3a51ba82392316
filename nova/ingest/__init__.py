"""Getting transcript entries in: OpenClaw's transcripts (JSONL files, the SQLite store), channel
envelopes, session-key filters, catch-up, the watcher, and the live entries the hooks log.
Everything here ends in the entry log; ``nova.memory`` takes it from there."""
