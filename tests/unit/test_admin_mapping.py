"""The console's mapping editor: draft, problems with line and column, form, impact, publish, rollback."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

from bridge.mapping import versions
from tests.unit.test_admin import ADMIN, basic, csrf_token, html, ingest

FIXTURE = Path(__file__).resolve().parents[1] / "mappings" / "default.yaml"
TEXT = FIXTURE.read_text()


def save_draft(client, text: str):
    token = csrf_token(client.get("/admin/mapping", headers=ADMIN).data)
    return client.post("/admin/mapping/draft", data={"csrf_token": token, "yaml": text, "action": "save"},
                       headers=ADMIN)


def live_priority(runtime) -> int:
    runtime.mappings.reload()
    return runtime.mappings.current().tickets.conversation.priority


def test_the_editor_needs_an_admin_and_csrf(client):
    assert client.get("/admin/mapping").status_code == 401
    assert client.get("/admin/mapping", headers=basic(password="wrong")).status_code == 401
    response = client.post("/admin/mapping/draft", data={"yaml": TEXT, "action": "save"}, headers=ADMIN)
    assert response.status_code == 400
    response = client.post("/admin/mapping/publish", data={"note": "x", "confirm": "yes"}, headers=ADMIN)
    assert response.status_code == 400
    with client.application.extensions["bridge"].db.session() as session:
        assert versions.draft(session) is None


def test_a_saved_draft_is_not_live_and_its_problems_show_with_line_and_column(client, runtime):
    broken = TEXT.replace("    priority: 4\n", "    priority: 9\n", 1)
    assert save_draft(client, broken).status_code == 303
    page = html(client.get("/admin/mapping", headers=ADMIN))
    line = broken.splitlines().index("    priority: 9") + 1
    assert "1 problem: the draft cannot be published" in page
    assert re.search(rf'<li id="L{line}" value="{line}" class="has-problem">.*?line {line}, column 15: '
                     r"tickets.conversation.priority", page, re.S)
    assert live_priority(runtime) == 4
    # The confirmation page refuses to offer publishing an invalid draft.
    page = html(client.get("/admin/mapping/publish", headers=ADMIN))
    assert "cannot be published" in page and 'name="note"' not in page


def test_publish_needs_a_note_and_a_confirmation_then_history_shows_it(client, runtime):
    save_draft(client, TEXT.replace("    priority: 4\n", "    priority: 5\n", 1))
    page = client.get("/admin/mapping/publish", headers=ADMIN).data
    text = htmllib.unescape(page.decode())
    assert "-    priority: 4" in text and "+    priority: 5" in text
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', text).group(1)
    form = {"csrf_token": csrf_token(page), "digest": digest, "note": "", "confirm": "yes"}
    refused = client.post("/admin/mapping/publish", data=form, headers=ADMIN)
    assert refused.status_code == 400 and b"A change note is required" in refused.data
    form.update(note="complaints are urgent", confirm="")
    assert client.post("/admin/mapping/publish", data=form, headers=ADMIN).status_code == 400
    assert live_priority(runtime) == 4
    form.update(confirm="yes")
    published = client.post("/admin/mapping/publish", data=form, headers=ADMIN)
    assert published.status_code == 303
    assert live_priority(runtime) == 5
    history = html(client.get("/admin/mapping/history", headers=ADMIN))
    assert "v2</a> <span class=\"badge status-delivered\">live</span>" in history
    assert "complaints are urgent" in history and "<td>admin</td>" in history

    # Roll back to version 1 from its page: a new version 3 with version 1's text.
    page = client.get("/admin/mapping/versions/1", headers=ADMIN)
    assert b"Roll back to version 1" in page.data
    rolled = client.post("/admin/mapping/versions/1/rollback",
                         data={"csrf_token": csrf_token(page.data), "note": "too many pages"}, headers=ADMIN)
    assert rolled.status_code == 303
    assert live_priority(runtime) == 4
    with runtime.db.session() as session:
        live = versions.live(session)
        assert (live.id, live.kind, live.rolled_back_to, live.note) == (3, "rollback", 1, "too many pages")
        assert [row.action for row in versions.audit_list(session)] == ["rollback", "publish", "seed"]


def test_the_form_writes_the_draft_with_comments_kept(client, runtime):
    page = client.get("/admin/mapping/settings", headers=ADMIN)
    assert b'name="rating_at_most" min="1" max="5" value="2"' in page.data
    form = {"csrf_token": csrf_token(page.data), "rating_at_most": "3", "sentiments": ["negative", "mixed"],
            "nps_categories": ["detractor"], "keywords": "refund\nnot happy", "priority": "5",
            "tags": "okendo\nvip", "team_ids": "", "queue_id": "queue-1"}
    assert client.post("/admin/mapping/settings", data=form, headers=ADMIN).status_code == 303
    with runtime.db.session() as session:
        draft = versions.draft(session).yaml_text
    assert "# TICKETS: a Kustomer conversation with an internal note for negative feedback." in draft
    assert "    rating_at_most: 3\n" in draft and "    keywords: [refund, not happy]\n" in draft
    assert "    sentiments: [negative, mixed]\n" in draft and "    queue_id: queue-1\n" in draft
    changed = [line for line in versions.diff_lines(TEXT, draft, "a", "b") if line.startswith(("+", "-"))]
    assert len(changed) == 2 + 2 * 6  # headers, then the 6 changed values: nothing else moved
    assert live_priority(runtime) == 4  # a draft, not live

    bad = dict(form, rating_at_most="three")
    refused = client.post("/admin/mapping/settings", data=bad, headers=ADMIN)
    assert b"Rating at most: &#39;three&#39; is not a whole number" in refused.data


def test_impact_preview_counts_first_and_lists_changed_events(client, runtime):
    event_id = ingest(client, "review-create-positive.json")
    save_draft(client, TEXT.replace("    rating_at_most: 2\n", "    rating_at_most: 5\n", 1))
    page = html(client.get("/admin/mapping/impact?events=50", headers=ADMIN))
    assert "1 more ticket (of the last 1 events)" in page
    assert f'href="/admin/events/{event_id}">#{event_id}</a> review.create' in page
    assert "opened: rating 5 is at most 5" in page
    assert runtime.dispatcher.depth() in (0, 1, None)  # ingest queued it; impact queued nothing more


def test_the_playground_previews_the_draft_and_keeps_the_sample(client):
    save_draft(client, TEXT.replace("    priority: 4\n", "    priority: 2\n", 1))
    page = html(client.get("/admin/playground?sample=review-create-negative.json&mapping=draft", headers=ADMIN))
    assert '<option selected>review-create-negative.json</option>' in page
    assert '<option value="draft" selected>draft</option>' in page
    assert '<tr><th>Priority</th><td>2</td></tr>' in page  # the draft's, not live's 4


def test_file_mode_shows_the_file_and_refuses_writes(database_url):
    from bridge.app import create_app
    from bridge.config import Settings
    from tests.conftest import make_env

    app = create_app(Settings.from_env(make_env(database_url, BRIDGE_MAPPING_SOURCE="file")))
    try:
        client = app.test_client()
        page = html(client.get("/admin/mapping", headers=ADMIN))
        assert "File mode" in page and "readonly" in page
        token = csrf_token(client.get("/admin/playground", headers=ADMIN).data)
        response = client.post("/admin/mapping/draft", data={"csrf_token": token, "yaml": TEXT}, headers=ADMIN)
        assert response.status_code == 409
    finally:
        app.extensions["bridge"].close()


def test_the_editor_shows_variable_names_not_values_and_publish_warns_about_unset_ones(client):
    from tests.conftest import REVIEW_HOOK

    page = html(client.get("/admin/mapping", headers=ADMIN))
    assert "url: ${KUSTOMER_REVIEW_HOOK_URL}" in htmllib.unescape(page)
    assert REVIEW_HOOK not in page and "reviewhash123456" not in page
    with_new_route = TEXT.replace("routes:\n", (
        "routes:\n  - name: low-ratings\n    events: [review.create]\n"
        "    url: ${KUSTOMER_LOW_RATING_HOOK_URL}\n    body: native-review\n"), 1)
    save_draft(client, with_new_route)
    page = html(client.get("/admin/mapping/publish", headers=ADMIN))
    assert "Warnings" in page and "${KUSTOMER_LOW_RATING_HOOK_URL} is not set" in htmllib.unescape(page)
    assert 'name="note"' in page  # a warning, not a refusal
