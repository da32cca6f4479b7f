"""The local web dashboard that ``avflow run`` serves (docs/dashboard.md).

- `store`: the dashboard's read queries on ``state.db`` (the only SQL of this package);
- `views`: what a page shows, built from the store, the loaded project and the scheduler;
- `security`: the login token, the session, CSRF and Origin checks;
- `masking`: secrets masked in every page, a client's vault values made known first;
- `fragments`, `figures`: a list's lines rendered once for the same values, the schedule
  figures computed once a minute;
- `web`: the application and its routes (`asgi`: the one layer every request passes: Host,
  session, login, routing, errors, headers); `server`: uvicorn inside the service.

Importing this package imports no web framework: `avflow.dashboard.web` and
`avflow.dashboard.server` do.
"""
