"""``avflow run``: the scheduler and background service (docs/scheduling.md;
where it fits among the layers: docs/architecture.md).

Modules: `firing` (cron in the client's timezone, DST rules), `gating` (working hours, holidays,
closed dates), `planner` (jobs, catch-up decisions), `store` (persisted next firings, heartbeat),
`runner` (concurrency limits, overlap), `triggers` (event watchers), `notify` (failure notifier),
`records` (audit records of firings not run), `reload`,
`status` (what `avflow status` reports), `waking` (sleeping, signals),
`settings` (service.yaml), `service` (the long-running process).
"""
