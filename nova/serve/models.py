"""The request and answer bodies of the service's endpoints (pydantic; OpenAPI at /openapi.json).
Fields named as OpenClaw names them (docs/automation/hooks/event-types.md); malformed input is a 422
naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, BaseModel, ConfigDict, Field, field_validator

from nova.recall.profile import PROFILE_FILE_NAME

__all__ = ["SessionRequest", "MessageIn", "RecallIn", "BootstrapIn", "RefreshIn", "ForgottenIn", "Problem", "ERRORS",
           "Accepted", "RecallOut", "BootstrapOut", "MemorySearchIn", "MemoryGetIn", "EntityIn", "MemoryForgetIn",
           "ToolOut"]

SessionKey = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f]+$",
                                  description="OpenClaw sessionKey, e.g. agent:main:main")]


def _not_a_boolean(value):
    # JSON true/false would pass as 1/0 (schemathesis found `"timestamp": true` accepted); 2.0 stays
    # a valid integer, as JSON Schema has it.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


Number = BeforeValidator(_not_a_boolean)
# "Not blank": one character that is not white space in any of the three engines that read the pattern:
# pydantic-core's (Rust regex: Unicode White_Space, so U+0085 is space), JSON Schema's (ECMA: also U+FEFF,
# not U+0085 or U+001C-U+001F) and Python's. A plain \S differed: schemathesis sent "\u0085", valid by
# the published schema, and got a 422.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
AgentId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class SessionRequest(BaseModel):
    """A hook's request: it names a session key, and the agent unless the key does."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=200_000)

    session_key: SessionKey = Field(alias="sessionKey")
    agent_id: AgentId | None = Field(default=None, alias="agentId",
                                     description="Default: the agent in the session key")


class MessageIn(SessionRequest):
    """Fields of OpenClaw's ``message:received`` context (docs/automation/hooks/event-types.md)."""

    content: str = Field(description="context.content: the inbound text")
    sender_name: str | None = Field(default=None, alias="senderName", max_length=256,
                                    description="context.metadata.senderName")
    message_id: str | None = Field(default=None, alias="messageId", max_length=256)
    channel_id: str | None = Field(default=None, alias="channelId", max_length=128)
    timestamp: Annotated[float | None, Number] = Field(default=None, ge=0, le=1e14,
                                    description="context.timestamp: milliseconds since the epoch")


class RecallIn(SessionRequest):
    query: str = Field(min_length=1, pattern=NOT_BLANK, description="The current user message (currentUserMessage); not blank")
    budget_tokens: Annotated[int | None, Number] = Field(default=None, alias="budgetTokens", gt=0, le=20_000)
    limit: Annotated[int | None, Number] = Field(default=None, gt=0, le=200)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query is blank")
        return v


class BootstrapIn(SessionRequest):
    session_id: str | None = Field(default=None, alias="sessionId", max_length=256)


class RefreshIn(SessionRequest):
    pass


class ForgottenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent_id: AgentId = Field(alias="agentId")


class Problem(BaseModel):
    """An error: ``detail`` says what is wrong (a message, or FastAPI's list of invalid fields)."""

    detail: str | list


ERRORS = {
    400: {"model": Problem, "description": "The body is not valid JSON"},
    401: {"model": Problem, "description": "TCP mode: missing or wrong bearer token"},
    413: {"model": Problem, "description": "The body is larger than any valid request (refused unread)"},
    503: {"model": Problem, "description": "NOVA could not answer (database down); the hooks fail open"},
}


class Accepted(BaseModel):
    status: Literal["queued", "duplicate", "skipped", "empty", "busy"]
    reason: str | None = None
    entryId: str | None = None


class RecallOut(BaseModel):
    status: Literal["ok", "skipped"]
    reason: str | None = None
    block: str = ""
    items: list[dict] = []
    precomputed: bool = False
    injection: Literal["prepend", "append", "system"] = "prepend"  # where the plugin puts the block (recall_injection)
    tookMs: float = 0


class BootstrapOut(BaseModel):
    status: Literal["ok", "skipped"]
    reason: str | None = None
    name: str = PROFILE_FILE_NAME
    content: str = ""
    refreshed: str | None = None  # new | reset | changed | stable


# -- what an agent asks on purpose (nova.serve.memory_routes) ---------------------------------------

def _text_only(value):
    # pydantic would read a number as a Unix time; a time here is written out (ISO 8601).
    if value is not None and not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date or time as a string, e.g. 2024-03-01 or 2024-03-01T09:00:00Z")
    return value


IsoTime = Annotated[datetime | None, BeforeValidator(_text_only),
                    Field(default=None, description="ISO 8601 date or time (UTC when no zone), e.g. 2024-03-01")]


class MemorySearchIn(SessionRequest):
    """The nova_recall tool's arguments, and OpenClaw's ``memory_search`` through the corpus supplement
    (``MemoryCorpusSupplement.search``: query, maxResults)."""
    query: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK)
    max_results: Annotated[int | None, Number] = Field(default=None, alias="maxResults", gt=0, le=50)
    budget_tokens: Annotated[int | None, Number] = Field(default=None, alias="budgetTokens", gt=0, le=20_000)
    since: IsoTime = None
    until: IsoTime = None
    entity: str | None = Field(default=None, min_length=1, max_length=200)
    kinds: list[Literal["episode", "relationship", "entity"]] = Field(default_factory=list, max_length=3)


class MemoryGetIn(SessionRequest):
    """``ref``: ``relationship:<id>`` or ``episode:<id>`` (a memory), or ``entry:<session_id>/<entry_id>``
    (the transcript around a cited entry)."""
    ref: str = Field(min_length=3, max_length=600, pattern=r"^(?:nova:)?(relationship|episode|entry):[^\x00-\x1f]+$")
    around: Annotated[int, Number] = Field(default=3, ge=0, le=20)


class EntityIn(SessionRequest):
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)


class MemoryForgetIn(SessionRequest):
    ref: str = Field(min_length=3, max_length=40, pattern=r"^(?:nova:)?(relationship|episode):\d{1,18}$")


class MemoryRememberIn(SessionRequest):
    """The ``/remember <text>`` command's text (the nova-recall plugin's ``ctx.args``)."""
    text: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK, description="What the user asked NOVA to remember")


class ToolOut(BaseModel):
    """``status``: ok | not_found | forgotten | remembered | skipped (a filtered session: nothing is read
    or written) | busy (a forget while a rebuild holds the agent: nothing is written; try again when it is done)."""
    status: Literal["ok", "not_found", "forgotten", "remembered", "skipped", "busy"]
    reason: str | None = None
    results: list[dict] = []
    text: str = ""
    detail: dict | None = None
    tookMs: float = 0
