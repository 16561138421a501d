"""The operator commands: `nodes`, `decisions`, `rollout`, `transactions`, `status` and `backups restore`.

They are clients of the REST API over HTTP (a key from a 0600 file or the environment), so they work from
any machine that reaches the API; tables for people, `--json` for scripts, exit codes in `client.ExitCode`.
"""
