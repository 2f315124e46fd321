"""`bridge mapping ...`: publish, refuse, diff, history, rollback, export, impact."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import sample_bytes, signed_headers, with_sequence

FIXTURE = Path(__file__).resolve().parents[1] / "mappings" / "default.yaml"
TEXT = FIXTURE.read_text()


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_publish_refuses_an_invalid_file_with_path_line_col_and_exit_1(runner, tmp_path):
    broken = write(tmp_path, "broken.yaml", TEXT.replace("    priority: 4\n", "    priority: 9\n", 1))
    result = runner.invoke("mapping", "publish", broken, "--note", "raise priority")
    assert result.exit_code == 1
    line = Path(broken).read_text().splitlines().index("    priority: 9") + 1
    assert f"{broken}:{line}:15: tickets.conversation.priority" in result.output
    assert "the live version is unchanged" in result.output
    history = json.loads(runner.invoke("mapping", "history", "--json").output)
    assert [item["version"] for item in history] == [1]
    audit = runner.invoke("mapping", "audit").output
    assert "refused" in audit and f"{broken}:{line}:15:" in audit


def test_publish_diff_history_rollback_and_export(runner, tmp_path):
    higher_text = TEXT.replace("    priority: 4\n", "    priority: 5\n", 1)
    higher = write(tmp_path, "higher.yaml", higher_text)
    diff = runner.invoke("mapping", "diff", higher).output
    assert "--- version 1 (live)" in diff and "-    priority: 4" in diff and "+    priority: 5" in diff

    published = runner.invoke("mapping", "publish", higher, "--note", "complaints are urgent", "--author", "sam")
    assert published.exit_code == 0, published.output
    assert "published version 2 (replaces version 1)" in published.output
    again = runner.invoke("mapping", "publish", higher, "--note", "release 2")
    assert "already live as version 2; nothing published" in again.output
    assert runner.invoke("mapping", "export").output == higher_text
    assert "version 2 (live)" in runner.invoke("mapping", "show").output

    rolled = runner.invoke("mapping", "rollback", "1", "--author", "sam")
    assert "published version 3: the text of version 1" in rolled.output
    assert runner.invoke("mapping", "export").output == TEXT
    history = json.loads(runner.invoke("mapping", "history", "--json").output)
    assert [(item["version"], item["author"], item["kind"], item["note"]) for item in history] == [
        (3, "sam", "rollback", "rollback to version 1"),
        (2, "sam", "publish", "complaints are urgent"),
        (1, "system", "seed", history[2]["note"]),
    ]
    assert history[2]["note"].startswith("first start: copied from") and "default.yaml" in history[2]["note"]
    assert runner.invoke("mapping", "export", "--version", "2").output == higher_text
    assert runner.invoke("mapping", "check").output.strip() == "version 3: ok"


def test_file_mode_refuses_publish(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_MAPPING_SOURCE", "file")
    result = runner.invoke("mapping", "publish", str(FIXTURE), "--note", "x")
    assert result.exit_code == 1 and "BRIDGE_MAPPING_SOURCE=file" in result.output


def test_impact_compares_the_draft_with_live_on_stored_events_and_sends_nothing(runner, client, kustomer, tmp_path):
    # Two stored reviews: rated 1 (a ticket today) and rated 3 (none today). Nothing is processed.
    for sequence, rating in ((1, 1), (2, 3)):
        body = with_sequence(json.loads(sample_bytes("review-create-negative.json")), sequence,
                             reviewId=f"review-{rating}", rating=rating, sentiment="neutral")
        assert client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).status_code == 202
    draft = TEXT.replace("    rating_at_most: 2\n", "    rating_at_most: 3\n", 1).replace(
        "    priority: 4\n", "    priority: 5\n", 1)
    result = runner.invoke("mapping", "impact", write(tmp_path, "draft.yaml", draft), "--json")
    impact = json.loads(result.output)
    assert impact["examined"] == 2 and impact["more_tickets"] == 1 and impact["tickets_changed"] == 1
    assert impact["headline"].startswith("1 more ticket, 1 ticket with other fields")
    by_review = {item["id"]: item["changes"] for item in impact["events"]}
    assert {"what": "ticket", "before": "none", "after": "opened: rating 3 is at most 3"} in by_review[2]
    assert {"what": "ticket priority", "before": "4", "after": "5"} in by_review[1]
    assert len(kustomer.calls) == 0


def test_preview_uses_the_live_version(runner, tmp_path):
    from tests.helpers import SAMPLES

    higher = write(tmp_path, "higher.yaml", TEXT.replace("    priority: 4\n", "    priority: 5\n", 1))
    runner.invoke("mapping", "publish", higher, "--note", "urgent")
    result = runner.invoke("preview", str(SAMPLES / "review-create-negative.json"), "--json")
    assert json.loads(result.output)["ticket"]["conversation"]["priority"] == 5
    from_file = runner.invoke("preview", str(SAMPLES / "review-create-negative.json"), "--json",
                              "--mapping", str(FIXTURE))
    assert json.loads(from_file.output)["ticket"]["conversation"]["priority"] == 4
