"""The Telegram Bot API `sendMessage` call, with its failures sorted into retry-later and give-up.

The bot token is part of the request URL, so nothing here ever puts the URL, the request or an httpx
exception's text into a message or a log line: errors name the status and Telegram's description only.
"""

from __future__ import annotations

import httpx

from app.errors import DomainError

SEND_TIMEOUT_S = 10.0
MESSAGE_LIMIT = 4_096  # Telegram refuses longer texts


class TelegramError(DomainError):
    """A message was not delivered; `retry_after_s` when Telegram said how long to wait."""

    code = "telegram_error"

    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_s = retry_after_s


class TelegramClient:
    """Sends HTML messages through the Bot API at `base_url` (a setting, so tests point at a stand-in)."""

    def __init__(self, base_url: str, timeout_s: float = SEND_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send_message(self, bot_token: str, chat_id: str, html: str) -> None:
        """Send one message in HTML parse mode; TelegramError when it was not accepted."""
        body = {"chat_id": chat_id, "text": html, "parse_mode": "HTML", "disable_web_page_preview": True}
        try:
            response = await self._http.post(f"{self.base_url}/bot{bot_token}/sendMessage", json=body)
        except httpx.HTTPError as exc:  # the exception's text holds the URL, hence the token
            raise TelegramError(f"Telegram unreachable ({type(exc).__name__})") from None
        if response.status_code == 200:
            return
        raise _refusal(response)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"TelegramClient(base_url={self.base_url!r})"


def _refusal(response: httpx.Response) -> TelegramError:
    """The error for a non-200 answer: 429 waits as told, 5xx retries, other 4xx are the chat's or token's."""
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    description = str(payload.get("description") or "")[:200]
    status = response.status_code
    if status == 429:
        parameters = payload.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        wait = float(retry_after) if isinstance(retry_after, int | float) and retry_after >= 0 else None
        return TelegramError(f"Telegram rate limit (429) {description}".strip(), retry_after_s=wait)
    if status >= 500:
        return TelegramError(f"Telegram failed ({status}) {description}".strip())
    # 400 chat not found, 401 bad token, 403 bot blocked: retrying soon will not help, but the operator may
    # fix the setting, so the entry waits with the longest backoff until it is too old.
    return TelegramError(f"Telegram refused ({status}) {description}".strip(), permanent=True)
