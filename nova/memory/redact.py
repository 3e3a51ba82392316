"""Secret redaction: what is replaced before a transcript entry is stored, extracted or embedded.

Every text enters NOVA through the entry log (catch-up, ``nova.ingest.catchup._append_entries``; the
memory-extract hook, ``nova.ingest.live.log_live_entry``), and everything else (entities, episodes,
relationships, embeddings, recall blocks, the session profile) is derived from that log. So a
secret replaced there by a typed placeholder such as ``[REDACTED:github_token]`` never reaches
any table, vector or output.

Detectors (overlapping finds merge into one span, named by the specific detector, not the entropy one):

1. NOVA's own patterns for what chat carries and detect-secrets' line-oriented regexes miss:
   whole private-key blocks, ``sk-…`` keys of OpenAI/Anthropic (every current format),
   GitHub fine-grained ``github_pat_…`` tokens, bearer/basic ``Authorization`` values,
   passwords in URLs (unencoded too) and stated in prose ("my password is …").
2. The regex detectors of `detect-secrets <https://github.com/Yelp/detect-secrets>`_
   (AWS access keys, GitHub/GitLab/Slack/Stripe/npm/PyPI/… tokens, JWTs, passwords in URLs …),
   minus the public-IP detector (an address is not a secret).
3. Long high-entropy tokens (Shannon entropy from detect-secrets' high-entropy plugins):
   ``[A-Za-z0-9+/_-]`` runs of ≥ ``min_token_length`` characters mixing letters and digits
   (entropy ≥ ``entropy_threshold`` bits/char), and hex runs of ≥ 32 (≥ 3.0 bits/char), so
   SHA-256 digests go too; UUIDs and short commit hashes are kept.
4. ``RedactionSettings.extra_patterns``: the operator's own, ``{kind: regex}``; a group named
   ``secret`` limits the replacement to that group.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator

from nova.config import RedactionSettings

__all__ = ["Redactor", "PLACEHOLDER"]

PLACEHOLDER = "[REDACTED:{kind}]"

_OWN_PATTERNS: dict[str, str] = {
    # An unterminated block (a paste cut short) is redacted to the end of the text.
    "private_key": r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    "api_key": r"\bsk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,}",
    "github_token": r"\b(?:github_pat_[A-Za-z0-9_]{22,}|gh[pousr]_[A-Za-z0-9]{30,})",
    # Bounded runs keep every pattern linear: an unbounded scheme made "a." * n quadratic (11 s at 100k).
    "url_password": r"(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s:/@]{1,256}:(?P<secret>[^\s@/]{1,256})@",
    "bearer_token": r"(?i)\b(?:bearer|token)\s+(?P<secret>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*)",
    "authorization": r"(?i)\bauthorization\s*[:=]\s*(?:basic|bearer|token|digest)?\s*(?P<secret>[^\s\"']{8,})",
    # "my password is X", "the password for my gmail is X", "password for the bank: X".
    "password": (r"(?i)\b(?:password|passwd|passphrase|pass ?code|pwd)\b"
                 r"(?:\s+(?:for|to|of|on|at)(?:\s+[\w'.-]{1,40}){1,4}?)?(?:\s+(?:is|was|=)|\s*[:=])\s*[\"']?"
                 r"(?P<secret>(?=[^\s\"']{0,256}[\d\W_])[^\s\"']{6,256})"),
    "npm_token": r"//[^\s/]{1,256}(?:/[^\s/]{0,256}){0,8}/:_authToken=\s*(?P<secret>npm_\S{1,256}|[A-Fa-f0-9-]{36})",
    "huggingface_token": r"\bhf_[A-Za-z0-9]{30,64}\b",
    # An environment assignment or config line whose name says secret: SECRET_KEY=…, DB_PASSWORD: ….
    "secret_assignment": (r"\b[A-Z][A-Z0-9_]{0,40}(?:SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|ACCESS_KEY)"
                          r"[A-Z0-9_]{0,40}\s*[=:]\s*[\"']?(?P<secret>[^\s\"']{8,256})"),
    # "my API token: …", "the access key is …": a value with a digit or symbol, or a long one.
    "api_token": (r"(?i)\b(?:api|access|auth|secret|private|personal)[ _-]?(?:token|key|secret)\b"
                  r"(?:\s+(?:is|was|=)|\s*[:=])\s*[\"']?"
                  r"(?P<secret>(?=[^\s\"']{0,256}[\d_+/=!@#$%^&*-])[^\s\"']{8,256}|[A-Za-z]{16,256})"),
    # Passwords on command lines: mysql -pX, sshpass -p X, curl -u user:X.
    "cli_password": (r"\b(?:mysql(?:dump|admin)?\b[^\n]{0,200}?\s-p(?P<secret>[^\s\"']{1,256})"
                     r"|sshpass\s+(?:-[a-zA-Z]\s+\S{1,256}\s+)*?-p\s*[\"']?(?P<secret2>[^\s\"']{1,256})"
                     r"|curl\b[^\n]{0,200}?\s(?:-u|--user)\s*[\"']?[^\s:\"']{1,128}:(?P<secret3>[^\s\"']{1,256}))"),
    # The signature of an Azure shared access signature (and of other signed URLs): sig=….
    "signed_url": r"[?&](?:sig|X-Amz-Signature|Signature)=(?P<secret>[A-Za-z0-9%+/=_-]{16,512})",
}
_SECRET_GROUPS = ("secret", "secret2", "secret3")  # the part of a match that is the secret, where named
_CANDIDATE_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{32,}")
_LOWER_PATH = re.compile(r"[a-z0-9_+-]+(?:/[a-z0-9_+-]*)+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# IPPublicDetector: an address is not a secret. NpmDetector: its ``//.+/:_authToken=`` is quadratic on
# a long line with many "//" (1.3 s at 100k characters); "npm_token" below replaces it, bounded.
_SKIPPED_DETECT_SECRETS = {"IPPublicDetector", "NpmDetector"}
_ENTROPY_KIND = "high_entropy_string"


@dataclass(frozen=True)
class Finding:
    """A secret found in a text: its kind and character span ``[start, end)``."""

    kind: str
    start: int
    end: int


def _kind_of(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


def _detect_secrets_detectors() -> list:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    return [cls() for cls in get_mapping_from_secret_type_to_class().values()
            if issubclass(cls, RegexBasedDetector) and cls.__name__ not in _SKIPPED_DETECT_SECRETS]


def _spans_of(text: str, value: str) -> Iterator[tuple[int, int]]:
    start = text.find(value)
    while start >= 0 and value:
        yield start, start + len(value)
        start = text.find(value, start + len(value))


class Redactor:
    """Finds secrets in a text and replaces each with ``[REDACTED:<kind>]``.

    Idempotent (a redacted text comes back unchanged) and total: any ``str`` in, a ``str`` out.

    Raises:
        ValueError: at construction, when an extra pattern is not a valid regex.
    """

    def __init__(self, settings: RedactionSettings | None = None):
        self.settings = settings or RedactionSettings()
        patterns = {**_OWN_PATTERNS}
        for kind, pattern in self.settings.extra_patterns.items():
            patterns[_kind_of(kind)] = pattern
        self._patterns: list[tuple[str, re.Pattern]] = []
        for kind, pattern in patterns.items():
            try:
                self._patterns.append((kind, re.compile(pattern, re.DOTALL)))
            except re.error as err:
                raise ValueError(f"redaction pattern {kind!r} is not a valid regex: {err}") from None
        self._detectors = _detect_secrets_detectors() if self.settings.enabled else []
        from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

        self._entropy = Base64HighEntropyString().calculate_shannon_entropy

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text``, by position."""
        if not self.settings.enabled or not text:
            return []
        found = list(self._pattern_findings(text))
        found += self._library_findings(text)
        found += self._entropy_findings(text)
        return _merge(found)

    def redact(self, text: str) -> tuple[str, Counter]:
        """``(text with every finding replaced, Counter of kinds replaced)``."""
        findings = self.find(text)
        if not findings:
            return text, Counter()
        out, pos = [], 0
        for f in findings:
            out.append(text[pos:f.start])
            out.append(PLACEHOLDER.format(kind=f.kind))
            pos = f.end
        out.append(text[pos:])
        return "".join(out), Counter(f.kind for f in findings)

    def __call__(self, text: str) -> str:
        return self.redact(text)[0]

    def _pattern_findings(self, text: str) -> Iterator[Finding]:
        for kind, pattern in self._patterns:
            for m in pattern.finditer(text):
                group = next((g for g in _SECRET_GROUPS if g in pattern.groupindex and m.group(g)), 0)
                if m.end(group) > m.start(group) and not text.startswith("[REDACTED:", m.start(group)):
                    yield Finding(kind, m.start(group), m.end(group))

    def _library_findings(self, text: str) -> Iterator[Finding]:
        for detector in self._detectors:
            for value in set(detector.analyze_string(text)):
                if len(value) < 8 or value.startswith("[REDACTED:"):
                    continue
                kind = _kind_of(detector.secret_type)
                for start, end in _spans_of(text, value):
                    yield Finding(kind, start, end)

    def _entropy_findings(self, text: str) -> Iterator[Finding]:
        for m in _HEX_RUN.finditer(text):  # hex keys and digests, also inside longer tokens
            if self._entropy(m.group()) >= 3.0:
                yield Finding(_ENTROPY_KIND, m.start(), m.end())
        for m in _CANDIDATE_TOKEN.finditer(text):
            token = m.group().strip("-_=/+")
            if "/" in token and _LOWER_PATH.fullmatch(token):  # a file path or URL path, not base64
                continue
            if (len(token) >= self.settings.min_token_length and not _UUID.fullmatch(token)
                    and re.search(r"\d", token) and re.search(r"[A-Za-z]", token)
                    and self._entropy(token) >= self.settings.entropy_threshold):
                yield Finding(_ENTROPY_KIND, m.start(), m.end())


def _merge(found: Iterable[Finding]) -> list[Finding]:
    """Overlapping or touching findings become one span, named by a specific detector over the entropy one."""
    merged: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and f.start <= merged[-1].end:
            last = merged[-1]
            kind = f.kind if last.kind == _ENTROPY_KIND and f.kind != _ENTROPY_KIND else last.kind
            merged[-1] = Finding(kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged
