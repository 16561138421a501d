"""Alert delivery: an outbox in MongoDB, the Telegram Bot API sink, rate limit, de-duplication, quiet hours, digest."""
