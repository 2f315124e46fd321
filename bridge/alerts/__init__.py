"""Alerts: tell the team when something needs them (issue 18).

- `conditions`: what raises an alert (dead or invalid events, Kustomer refusing the key,
  a backlog, refused webhook signatures, a mapping that does not load);
- `grouping`: many events as one line per reason;
- `policy`: when to speak (group wait, rate limit, reminders, one "cleared");
- `tables` + `outbox`: the state per condition and the messages to send, in the database,
  so several workers send each alert once;
- `channels`: chat webhook (Slack, Google Chat, Teams Workflows) and SMTP e-mail;
- `refusals`: the web process's cheap count of refused signatures;
- `service`: the worker's alert thread, the test message.
"""
