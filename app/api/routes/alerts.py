"""A tenant's Telegram alerts: set, read and remove its chat (the token and chat id never come back), recent alerts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from app.alerts.model import Alert, AlertKind
from app.alerts.quiet import QuietHours
from app.alerts.service import Alerting
from app.alerts.targets import TelegramTarget
from app.api.deps import CurrentPrincipal
from app.domain.access import ApiKeyRole

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


async def get_alerting(request: Request) -> Alerting:
    """The alerting built by the lifespan."""
    alerting: Alerting = request.app.state.alerting
    return alerting


AlertingDep = Annotated[Alerting, Depends(get_alerting)]
TOKEN_SHAPE = re.compile(r"[0-9]{3,20}:[A-Za-z0-9_-]{30,80}")


def _token_shape(token: SecretStr) -> SecretStr:
    """A BotFather token's shape; the message never repeats the value."""
    if not TOKEN_SHAPE.fullmatch(token.get_secret_value()):
        raise ValueError("not a bot token: expected <digits>:<30-80 letters, digits, _ or ->")
    return token


BotToken = Annotated[
    SecretStr,
    Field(
        min_length=10,
        max_length=120,
        description="the bot's token from BotFather; never returned",
        json_schema_extra={"pattern": f"^{TOKEN_SHAPE.pattern}$"},
    ),
    AfterValidator(_token_shape),
]
ChatId = Annotated[
    str,
    Field(
        pattern=r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$",
        description="numeric chat id (negative for groups) or @channelname; never returned",
    ),
]


class TelegramIn(BaseModel):
    """Where the tenant's alerts go and when only critical ones may wake anyone."""

    model_config = ConfigDict(extra="forbid")
    bot_token: BotToken
    chat_id: ChatId
    quiet_hours: QuietHours | None = None


class TelegramOut(BaseModel):
    """Whether a chat is set, and its quiet hours; never the token or the chat id."""

    configured: bool
    quiet_hours: QuietHours | None = None


class AlertOut(BaseModel):
    """One alert of the outbox and what became of it."""

    id: str
    kind: str
    severity: str
    node_id: str
    message: str
    state: str
    created_at: datetime
    attempts: int
    repeats: int
    sent_at: datetime | None
    last_error: str | None


class AlertPage(BaseModel):
    """The tenant's latest alerts, newest first."""

    items: list[AlertOut]


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1_000, UTC)


@router.put("/telegram")
async def set_telegram(body: TelegramIn, principal: CurrentPrincipal, alerting: AlertingDep) -> TelegramOut:
    """Set the tenant's bot token, chat id and quiet hours (admin); sealed in the vault, never returned."""
    tenant_id = principal.require(ApiKeyRole.ADMIN)
    target = TelegramTarget(bot_token=body.bot_token, chat_id=body.chat_id, quiet_hours=body.quiet_hours)
    await alerting.targets.put(tenant_id, target)
    return TelegramOut(configured=True, quiet_hours=body.quiet_hours)


@router.get("/telegram")
async def get_telegram(principal: CurrentPrincipal, alerting: AlertingDep) -> TelegramOut:
    """Whether the tenant has a chat set, and its quiet hours (admin: reading them opens the vault record)."""
    tenant_id = principal.require(ApiKeyRole.ADMIN)
    target = await alerting.targets.get(tenant_id, purpose="show alert settings")
    return TelegramOut(configured=target is not None, quiet_hours=target.quiet_hours if target else None)


@router.delete("/telegram", status_code=status.HTTP_204_NO_CONTENT)
async def remove_telegram(principal: CurrentPrincipal, alerting: AlertingDep) -> Response:
    """Remove the tenant's chat (admin); alerts are kept in the outbox but no longer sent."""
    await alerting.targets.delete(principal.require(ApiKeyRole.ADMIN))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/test", status_code=status.HTTP_202_ACCEPTED)
async def send_test(principal: CurrentPrincipal, alerting: AlertingDep) -> dict[str, str]:
    """Queue a test alert for the tenant's chat (admin); the next delivery pass sends it."""
    tenant_id = principal.require(ApiKeyRole.ADMIN)
    now = alerting.sink.clock()
    await alerting.sink.send(
        Alert(kind=AlertKind.TEST, tenant_id=tenant_id, node_id="all", message="test alert: the chat works",
              dedup_key=f"test:{now.isoformat()}")
    )  # fmt: skip
    return {"status": "queued"}


@router.get("")
async def list_alerts(
    principal: CurrentPrincipal,
    alerting: AlertingDep,
    limit: Annotated[int, Query(ge=1, le=500, description="how many")] = 50,
) -> AlertPage:
    """The tenant's latest alerts, newest first, with their delivery state (viewer)."""
    tenant_id = principal.require(ApiKeyRole.VIEWER)
    entries = await alerting.outbox.recent(tenant_id, limit)
    return AlertPage(
        items=[
            AlertOut(
                id=e.id, kind=e.kind, severity=e.severity.value, node_id=e.node_id, message=e.message,
                state=e.state.value, created_at=e.created_at, attempts=e.attempts, repeats=e.repeats,
                sent_at=_at(e.sent_ms), last_error=e.last_error,
            )
            for e in entries
        ]
    )  # fmt: skip
