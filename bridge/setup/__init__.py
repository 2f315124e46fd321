"""First run in the browser: settings entered in the admin console, stored encrypted.

- `vault`: Fernet encryption keyed from SECRET_KEY.
- `stored`: the `stored_settings` table: which names may be stored, read and write them.
- `live`: the settings a process uses: the environment first, then stored values, re-read
  every few seconds so the web and the worker pick up a change without a restart.
- `okendo_connect` / `kustomer_connect`: what the setup page's buttons do.
- `preview_mapping`: which mapping `bridge preview FILE` reads when given none (the live one).
The page itself is `bridge.admin.setup`.
"""
